"""One CUR 2.0 month on DuckDB and on local-mode Spark, side by side.

    python -m bench.spark [--rows 1000000] [--master local[2]] [--driver-memory 6g]

DuckDB: `spendscope ingest aws` (the normal ingest: every line item into the warehouse). Spark:
``engine = "spark"``'s path for the same [[sources]] entry — normalize to FOCUS Parquet, daily rollup,
pull into a DuckDB warehouse. Each runs in a fresh child process; wall time and the peak RSS of the child
*and its descendants* (Spark's JVM is a grandchild) are sampled with psutil every 0.1 s. Then both
warehouses' cost per day × service × account × region are compared, and Spark's physical plans of the
normalize and rollup steps are written beside the results (bench/results/<date>-spark-<rows>*.{json,txt}).
Data: the cached suite month (bench/data/suite-<rows>/, see bench.suite).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import duckdb
import psutil

from bench.__main__ import HERE, _cpus
from bench.suite import parquet_rows, prepare

SPARK_CHILD = textwrap.dedent(
    """
    import sys
    from spendscope.collectors.sources import AwsSource
    from spendscope.warehouse.db import open_warehouse
    from spendscope.warehouse.spark.ingest import ingest_source_config
    from spendscope.warehouse.spark.settings import SparkSettings
    wh, root, lake, master, memory, partitions = sys.argv[1:7]
    conf = {"spark.driver.memory": memory, "spark.sql.shuffle.partitions": partitions}
    settings = SparkSettings(master=master, location=lake, conf=conf)
    conn = open_warehouse(wh)
    results = ingest_source_config(conn, AwsSource(name="cur", collector="aws", location=root), settings)
    print(sum(r.rows for r in results))
    """
)

EXPLAIN_CHILD = textwrap.dedent(
    """
    import sys
    from spendscope.collectors.sources import AwsSource
    from spendscope.warehouse.spark.explain import explain_sources
    from spendscope.warehouse.spark.session import build_session
    from spendscope.warehouse.spark.settings import SparkSettings
    root, lake, master, partitions, period = sys.argv[1:6]
    spark = build_session(SparkSettings(master=master, location=lake,
                                        conf={"spark.sql.shuffle.partitions": partitions}))
    print(explain_sources(spark, [AwsSource(name="cur", collector="aws", location=root)], period=period))
    """
)

BY_DAY = (
    "SELECT CAST(ChargePeriodStart AT TIME ZONE 'UTC' AS DATE) d, coalesce(ServiceName, '') ServiceName, "
    "coalesce(SubAccountId, '') SubAccountId, coalesce(RegionId, '') RegionId, "
    "BillingCurrency, sum(BilledCost) b, sum(EffectiveCost) e FROM {db}.billing GROUP BY ALL"
)


def measure_tree(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB of the child and all its descendants, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        total = 0
        try:
            for p in (root, *root.children(recursive=True)):
                total += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.1)
    out = proc.stdout.read() if proc.stdout else ""
    secs = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(cmd[:6])}")
    return secs, peak / 2**20, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="AWS line items (the cached suite month)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g", help="local mode: the JVM heap (driver = executor)")
    parser.add_argument("--shuffle-partitions", default="8")
    parser.add_argument("--keep", action="store_true", help="keep both warehouses in bench/data/spark-work/")
    args = parser.parse_args()

    data = prepare(args.rows, restated=False)
    root = data / "cur" / "cur2"
    n = parquet_rows(sorted(str(p) for p in root.rglob("*.parquet")))
    work = HERE / "data" / "spark-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results: list[dict[str, object]] = []
    print(f"== {n:,} CUR 2.0 line items, one month; {_cpus()} cores ==", flush=True)

    duck_wh, spark_wh, lake = work / "duckdb.duckdb", work / "spark.duckdb", work / "lake"
    steps = {
        "DuckDB: spendscope ingest aws (every line item)": [
            sys.executable, "-m", "spendscope.cli", "--warehouse", str(duck_wh), "ingest", "aws", str(root),
        ],
        f"Spark {args.master}: normalize + daily rollup + pull": [
            sys.executable, "-c", SPARK_CHILD, str(spark_wh), str(root), str(lake), args.master,
            args.driver_memory, args.shuffle_partitions,
        ],
    }  # fmt: skip
    for step, cmd in steps.items():
        secs, rss, _ = measure_tree(cmd)
        results.append(
            {"step": step, "seconds": round(secs, 1), "rows_per_s": round(n / secs), "peak_rss_mib": round(rss)}
        )
        print(f"{step:58} {secs:8.1f} s {n / secs:>12,.0f} rows/s {rss:7.0f} MiB", flush=True)

    conn = duckdb.connect()
    conn.execute(f"ATTACH '{duck_wh}' AS d (READ_ONLY)")
    conn.execute(f"ATTACH '{spark_wh}' AS s (READ_ONLY)")
    rows = {db: conn.execute(f"SELECT count(*) FROM {db}.billing").fetchone()[0] for db in ("d", "s")}  # type: ignore[index]
    compared = (
        f"SELECT a.b - b.b AS db, a.e - b.e AS de FROM ({BY_DAY.format(db='d')}) a "
        f"FULL JOIN ({BY_DAY.format(db='s')}) b USING (d, ServiceName, SubAccountId, RegionId, BillingCurrency)"
    )
    differing, cents, worst = conn.execute(
        "SELECT count(*) FILTER (WHERE db IS DISTINCT FROM 0 OR de IS DISTINCT FROM 0), "
        "count(*) FILTER (WHERE db IS NULL OR de IS NULL OR abs(db) >= 0.005 OR abs(de) >= 0.005), "
        f"max(greatest(abs(db), abs(de))) FROM ({compared})"
    ).fetchone()  # type: ignore[misc]
    groups = conn.execute(f"SELECT count(*) FROM ({BY_DAY.format(db='d')})").fetchone()[0]  # type: ignore[index]
    print(
        f"warehouse rows: DuckDB {rows['d']:,}, Spark rollup {rows['s']:,} ({rows['d'] / max(rows['s'], 1):.0f}x fewer)"
    )
    print(
        f"correctness: {groups:,} day/service/account/region totals: {differing} not identical to the last of 12 "
        f"decimals (largest difference {worst}), {cents} differ by half a cent or more"
    )
    results.append(
        {
            "step": "correctness",
            "groups": groups,
            "not_identical": differing,
            "largest_difference": str(worst),
            "differ_by_half_a_cent": cents,
            "rows": rows,
        }
    )

    plan = subprocess.run(
        [sys.executable, "-c", EXPLAIN_CHILD, str(root), str(lake), args.master, args.shuffle_partitions, "2026-10"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    stamp = f"{datetime.now(UTC):%Y-%m-%d}-spark-{args.rows}"
    (HERE / "results" / f"{stamp}-plan.txt").write_text(plan)
    meta = {"machine": platform.machine(), "cores": _cpus(), "python": platform.python_version(), "rows": n}
    (HERE / "results" / f"{stamp}.json").write_text(json.dumps({**meta, "results": results}, indent=1) + "\n")
    print(f"written to bench/results/{stamp}.json and {stamp}-plan.txt")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
