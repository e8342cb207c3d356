"""Benchmark generation and ingest against a raw-DuckDB baseline measured in the same run.

    python -m bench [--rows 1000000] [--keep]

Each step runs in its own child process; wall time and the child's peak RSS are measured from
outside (RUSAGE_CHILDREN of a fresh wrapper process). Results print as one table and are written to
bench/results/<date>.json. Generated data is cached in bench/data/<rows>/.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRAPPER = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
)


def measure(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one command run in a fresh child."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True)
    secs, rss_kib, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"benchmark step failed ({rc}): {' '.join(cmd)}")
    return float(secs), int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the warehouse files")
    args = parser.parse_args()

    data = HERE / "data" / str(args.rows)
    work = HERE / "data" / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spendscope = [sys.executable, "-m", "spendscope.cli"]
    results: list[dict[str, object]] = []

    def record(step: str, secs: float, rss: float, rows: int | None, baseline: float | None = None) -> None:
        results.append(
            {
                "step": step,
                "seconds": round(secs, 3),
                "peak_rss_mib": round(rss, 1),
                "rows_per_s": round(rows / secs) if rows and secs else None,
                "ratio_to_baseline": round(secs / baseline, 2) if baseline else None,
            }
        )

    if not (data / "ground_truth.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        secs, rss = measure([*spendscope, "generate", "--out", str(data), "--rows", str(args.rows)])
        record("generate (FOCUS Parquet, 3 providers)", secs, rss, _rows(data))
    rows = _rows(data)
    files = sorted(str(p) for p in (data / "focus").rglob("*.parquet"))

    # Baseline: the physical-limit proxy, a raw DuckDB copy of the same files into a database file.
    base_db = work / "raw.duckdb"
    copy = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
        "c.execute('CREATE TABLE t AS SELECT * FROM read_parquet($f, union_by_name = true)', {'f': sys.argv[2:]})"
    )
    base_secs, base_rss = measure([sys.executable, "-c", copy, str(base_db), *files])
    record("baseline: raw DuckDB CTAS of the same files", base_secs, base_rss, rows)

    wh = work / "wh.duckdb"
    ingest = [*spendscope, "--warehouse", str(wh), "ingest", "focus"]
    secs, rss = measure([*ingest, str(data / "focus"), "--source", "bench"])
    record("spendscope ingest focus (all files, one load)", secs, rss, rows, base_secs)
    secs, rss = measure([*ingest, str(data / "focus"), "--source", "bench"])
    record("re-ingest unchanged", secs, rss, None)
    secs, rss = measure([*spendscope, "--warehouse", str(wh), "doctor"])
    record("doctor", secs, rss, None)

    print(
        f"\nspendscope bench, {rows:,} rows, {platform.processor() or platform.machine()}, "
        f"{_cpus()} cores, Python {platform.python_version()}"
    )
    print(f"{'step':48} {'seconds':>9} {'rows/s':>12} {'peak MiB':>9} {'× base':>7}")
    for r in results:
        rps = f"{r['rows_per_s']:,}" if r["rows_per_s"] else ""
        ratio = f"{r['ratio_to_baseline']}" if r["ratio_to_baseline"] else ""
        print(f"{r['step']:48} {r['seconds']:>9} {rps:>12} {r['peak_rss_mib']:>9} {ratio:>7}")
    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-{args.rows}.json"
    out.write_text(
        json.dumps({"rows": rows, "machine": platform.machine(), "cores": _cpus(), "results": results}, indent=1) + "\n"
    )
    print(f"\nwritten to {out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _rows(data: Path) -> int:
    """Billing rows written, from the Parquet footers (not from the generator's own record)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in (data / "focus").rglob("*.parquet"))


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
