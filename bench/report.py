"""Benchmark the monthly report (`spendscope report`) on a large, analysed warehouse.

    python -m bench.report [--warehouse bench/data/analysis-10000000-3/warehouse.duckdb] [--period YYYY-MM]

The warehouse must have been analysed (`python -m bench.analysis` prepares and analyses it). A fresh child
process opens it read-only (the benchmark never migrates or writes the shared warehouse) and runs
``write_report`` as `spendscope report` does; its wall time (imports included) and peak RSS are printed
against the issue's target (under 15 s), with the number of billing rows of the month reported. The
files go to a temporary directory (or --out) and are listed with their sizes.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.__main__ import HERE, _cpus, measure

TARGET_SECONDS = 15.0
DEFAULT_WAREHOUSE = HERE / "data" / "analysis-10000000-3" / "warehouse.duckdb"
MONTH_ROWS = (
    "SELECT count(*) FROM billing WHERE BillingPeriodStart >= $p::TIMESTAMPTZ "
    "AND BillingPeriodStart < $p::TIMESTAMPTZ + INTERVAL 1 MONTH"
)


def _month_rows(wh: Path, period: str) -> tuple[int, int]:
    """(billing rows of the month, allocated_daily rows of the month)."""
    import duckdb

    with duckdb.connect(str(wh), read_only=True) as conn:
        start = f"{period}-01 00:00:00+00"
        billing = conn.execute(MONTH_ROWS, {"p": start}).fetchone()
        allocated = conn.execute(
            "SELECT count(*) FROM allocated_daily WHERE billing_period_start = $p::TIMESTAMPTZ", {"p": start}
        ).fetchone()
    return (int(billing[0]) if billing else 0), (int(allocated[0]) if allocated else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE)
    parser.add_argument("--period", help="YYYY-MM (default: the report's own, the latest complete period)")
    parser.add_argument("--out", type=Path, help="where the report goes (default: a temporary directory)")
    parser.add_argument("--render", action="store_true", help=argparse.SUPPRESS)  # the measured child
    args = parser.parse_args()
    if args.render:
        _render(args.warehouse, args.period, args.out)
        return
    if not args.warehouse.exists():
        raise SystemExit(f"{args.warehouse} does not exist: run `python -m bench.analysis` first")

    with tempfile.TemporaryDirectory(prefix="spendscope-report-") as tmp:
        out = args.out or Path(tmp)
        cmd = [sys.executable, "-m", "bench.report", "--render", "--warehouse", str(args.warehouse), "--out", str(out)]
        secs, rss = measure([*cmd, *(["--period", args.period] if args.period else [])])
        period = args.period or _reported_period(out)
        billing_rows, allocated_rows = _month_rows(args.warehouse, period)
        files = {p.name: p.stat().st_size for p in sorted(out.iterdir())}

    verdict = "meets" if secs < TARGET_SECONDS else "MISSES"
    print(f"{'spendscope report --period ' + period:60} {secs:8.1f} s {rss:9.0f} MiB")
    for name, size in files.items():
        print(f"  {name:40} {size:>12,} bytes")
    print(
        f"\n{period}: {billing_rows:,} billing rows, {allocated_rows:,} allocated_daily rows; {platform.machine()}, "
        f"{_cpus()} cores, Python {platform.python_version()}: report {secs:.1f} s, peak {rss:.0f} MiB — {verdict} "
        f"the target (< {TARGET_SECONDS:.0f} s)"
    )
    result = {
        "warehouse": str(args.warehouse),
        "period": period,
        "billing_rows": billing_rows,
        "allocated_daily_rows": allocated_rows,
        "cores": _cpus(),
        "seconds": round(secs, 2),
        "peak_rss_mib": round(rss, 1),
        "files": files,
    }
    dest = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-report-{billing_rows}.json"
    dest.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written to {dest}")


def _render(warehouse: Path, period: str | None, out: Path) -> None:
    """The measured work: `spendscope report` on a read-only connection, default settings."""
    import duckdb

    from spendscope.config import Settings
    from spendscope.exporters.report import write_report

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        write_report(conn, Settings(), period=period, out_dir=out)


def _reported_period(out: Path) -> str:
    """The period the report chose, read back from its page title (``report-YYYY-MM`` meta)."""
    html = (out / "report.html").read_text(encoding="utf-8")
    marker = '<meta name="spendscope-period" content="'
    start = html.index(marker) + len(marker)
    return html[start : start + 7]


if __name__ == "__main__":
    main()
