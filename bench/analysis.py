"""Benchmark the full analysis (`spendscope analyze`) on a large warehouse.

    python -m bench.analysis [--rows 10000000] [--months 3]

Generates a multi-cloud bill of --rows rows over --months months (cached in bench/data/analysis-<rows>-<months>/),
ingests it once (the warehouse is kept there too, so a rerun measures only the analysis), then measures in fresh
child processes:

- the baseline: one raw DuckDB scan that the analysis cannot avoid, the daily cost per
  service x account x region x currency of every billing row (what the anomaly series start from);
- `spendscope analyze` (every job: allocation, untagged, orphans, unit cost, commitments, forecast, budgets,
  anomalies), its wall time and peak RSS against the issue's target (under 30 s and 2 GB on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.__main__ import HERE, _cpus, measure

TARGET_SECONDS = 30.0
TARGET_MIB = 2048.0

BASELINE = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
    'c.execute("SELECT CAST(ChargePeriodStart AS DATE) d, ServiceName, SubAccountId, RegionId, BillingCurrency, '
    'sum(EffectiveCost), sum(BilledCost) FROM billing GROUP BY ALL").fetchall()'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--memory-limit", default="1500MB", help="DuckDB memory_limit for the analysis run")
    args = parser.parse_args()

    data = HERE / "data" / f"analysis-{args.rows}-{args.months}"
    wh = data / "warehouse.duckdb"
    spendscope = [sys.executable, "-m", "spendscope.cli", "--warehouse", str(wh)]
    results: list[dict[str, object]] = []

    def record(step: str, secs: float, rss: float) -> None:
        results.append({"step": step, "seconds": round(secs, 2), "peak_rss_mib": round(rss, 1)})
        print(f"{step:60} {secs:8.1f} s {rss:9.0f} MiB", flush=True)

    if not (data / "ingested").exists():
        shutil.rmtree(data, ignore_errors=True)
        gen = [*spendscope, "generate", "--out", str(data / "bill"), "--rows", str(args.rows)]
        secs, rss = measure([*gen, "--months", str(args.months), "--month", "2026-08"])
        record(f"generate {args.rows:,} rows over {args.months} months", secs, rss)
        secs, rss = measure([*spendscope, "ingest", "focus", str(data / "bill" / "focus"), "--source", "bench"])
        record("ingest focus (once; kept for reruns)", secs, rss)
        tx = sorted((data / "bill" / "transactions").glob("*.csv"))
        for path in tx:
            measure([*spendscope, "ingest", "transactions", str(path), "--source", "bench"])
        (data / "ingested").touch()
    rows = _billing_rows(wh)

    secs, rss = measure([sys.executable, "-c", BASELINE, str(wh)])
    record("baseline: raw DuckDB daily group-by of every billing row", secs, rss)
    base = secs
    if args.memory_limit:
        os.environ["SPENDSCOPE_DUCKDB__MEMORY_LIMIT"] = args.memory_limit
    secs, rss = measure([*spendscope, "analyze"])
    record("spendscope analyze (all jobs)", secs, rss)
    results[-1]["ratio_to_baseline"] = round(secs / base, 2)

    verdict = "meets" if secs < TARGET_SECONDS and rss < TARGET_MIB else "MISSES"
    print(
        f"\n{rows:,} billing rows, {platform.machine()}, {_cpus()} cores, Python {platform.python_version()}: "
        f"analyze {secs:.1f} s ({secs / base:.1f}x the raw scan), peak {rss:.0f} MiB — {verdict} the target "
        f"(< {TARGET_SECONDS:.0f} s, < {TARGET_MIB:.0f} MiB)"
    )
    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-analysis-{args.rows}.json"
    out.write_text(json.dumps({"rows": rows, "cores": _cpus(), "results": results}, indent=1) + "\n")
    print(f"written to {out}")


def _billing_rows(wh: Path) -> int:
    import duckdb

    with duckdb.connect(str(wh), read_only=True) as conn:
        row = conn.execute("SELECT count(*) FROM billing").fetchone()
    return int(row[0]) if row else 0


if __name__ == "__main__":
    main()
