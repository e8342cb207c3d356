"""Benchmark the AWS path: CUR 2.0 Parquet → FOCUS warehouse, from local disk and from S3 (moto).

    python -m bench.aws [--rows 3000000]

--rows is the size of the generated multi-cloud bill; the AWS share of it is written as CUR 2.0
(about a third). Baseline in the same run: a raw DuckDB copy of the same CUR files.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.__main__ import HERE, measure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000)
    args = parser.parse_args()
    import pyarrow.parquet as pq

    from spendscope.generator import generate
    from spendscope.generator.cur import upload_tree, write_cur

    data = HERE / "data" / f"aws-{args.rows}"
    if not (data / "cur" / "done").exists():
        shutil.rmtree(data, ignore_errors=True)
        generate(data / "bill", rows=args.rows)
        write_cur(data / "bill" / "focus" / "aws", data / "cur")
        (data / "cur" / "done").touch()
    cur2_files = sorted(str(p) for p in (data / "cur").rglob("*.parquet"))
    cur_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in cur2_files)
    work = HERE / "data" / "work-aws"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spendscope = [sys.executable, "-m", "spendscope.cli"]
    results = []

    copy = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute('CREATE TABLE t AS SELECT * FROM read_parquet($f)', {'f': sys.argv[2:]})"
    )
    base, base_rss = measure([sys.executable, "-c", copy, str(work / "raw.duckdb"), *cur2_files])
    results.append(("baseline: raw DuckDB CTAS of the CUR 2.0 files", base, base_rss, 1.0))
    cur2_root = next((data / "cur").rglob("metadata")).parent
    secs, rss = measure([*spendscope, "--warehouse", str(work / "local.duckdb"), "ingest", "aws", str(cur2_root)])
    results.append(("spendscope ingest aws (local CUR 2.0)", secs, rss, secs / base))

    port = _free_port()
    moto = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
    with subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        cur2_tree = next(p for p in (data / "cur").iterdir() if p.is_dir() and "cur2" in p.name)
        upload_tree(cur2_tree, bucket="bench-billing", s3_client=s3)
        env_cmd = [
            *spendscope,
            "--warehouse",
            str(work / "s3.duckdb"),
            "ingest",
            "aws",
            "s3://bench-billing/",
            "--endpoint-url",
            url,
        ]
        import os

        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        secs, rss = measure(env_cmd)
        results.append(("spendscope ingest aws (moto S3: list, download, load)", secs, rss, secs / base))
        secs, rss = measure(env_cmd)
        results.append(("  re-run unchanged (ETags: nothing downloaded)", secs, rss, None))
        proc.terminate()

    print(f"\nspendscope bench (AWS), {cur_rows:,} CUR 2.0 rows in {len(cur2_files)} files")
    print(f"{'step':56} {'seconds':>8} {'rows/s':>10} {'peak MiB':>9} {'× base':>7}")
    for step, secs, rss, ratio in results:
        rps = f"{cur_rows / secs:,.0f}" if ratio is not None else ""
        r = f"{ratio:.2f}" if ratio is not None else ""
        print(f"{step:56} {secs:8.2f} {rps:>10} {rss:9.0f} {r:>7}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
