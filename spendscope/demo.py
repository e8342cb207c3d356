"""`spendscope demo`: generate a multi-cloud month (with its history), ingest it, analyse it, show the results.

Idempotent: running it again regenerates the same (seeded) files, which the ledger recognises as
unchanged, so nothing is loaded twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from spendscope import sql
from spendscope.analysis.allocation import AllocationRules
from spendscope.analysis.budgets import Budget
from spendscope.analysis.costs import cost_by, parse_dimensions
from spendscope.analysis.run import JOBS
from spendscope.collectors.focus import FocusFiles
from spendscope.config import Settings
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.doctor import run_doctor
from spendscope.warehouse.transactions import load_transactions

PROVIDERS = ("aws", "azure", "gcp")
DEMO_FIRST_MONTH = "2026-08"


DEMO_MONTHS = 3
"""Two months of history before the demo month: the anomaly baseline and the forecast need them."""


def demo_rules() -> AllocationRules:
    # The demo bill has the usual tag hygiene faults: `Team` for `team`, `owner` used for the team.
    return AllocationRules.model_validate(
        {
            "rule_sets": [
                {
                    "team": {"tag_keys": ["team", "owner"]},
                    "shared": [{"name": "support", "service_subcategories": ["Support"]}],
                }
            ]
        }
    )


def demo_budgets(conn: duckdb.DuckDBPyConnection, previous: str) -> list[Budget]:
    """Monthly budgets for the three biggest USD teams and the USD total: last month's spend, rounded."""
    start = datetime.strptime(previous, "%Y-%m").replace(tzinfo=UTC)
    teams = conn.execute(
        "SELECT team, sum(EffectiveCost) AS cost FROM allocated_daily WHERE currency = 'USD' "
        "AND billing_period_start = $p AND team <> 'unallocated' GROUP BY team ORDER BY cost DESC LIMIT 3",
        {"p": start},
    ).fetchall()
    total = conn.execute(
        "SELECT sum(EffectiveCost) FROM allocated_daily WHERE currency = 'USD' AND billing_period_start = $p",
        {"p": start},
    ).fetchone()
    budgets = [
        Budget(name=f"{team}-monthly", scope="team", value=team, amount=round(Decimal(cost), -2), currency="USD")
        for team, cost in teams
        if cost and cost >= 100
    ]
    if total and total[0]:
        budgets.append(Budget(name="usd-total", scope="total", amount=round(Decimal(total[0]), -3), currency="USD"))
    return budgets


def run_demo(
    directory: Path,
    *,
    rows: int,
    console: Console,
    progress_bar: Callable[[], Any],
    run_ingest: Callable[..., Any],
    write_frame: Callable[..., None],
) -> None:
    from spendscope.analysis.forecast import run_forecast
    from spendscope.analysis.run import run_analysis
    from spendscope.exporters.report import write_report
    from spendscope.generator import generate

    started = time.perf_counter()
    data_dir = directory / "data"
    warehouse = directory / "warehouse.duckdb"
    console.rule("[bold]spendscope demo")
    with progress_bar() as bar:
        task = bar.add_task("generating a multi-cloud bill", total=rows)
        result = generate(
            data_dir,
            rows=rows,
            month=DEMO_FIRST_MONTH,
            months=DEMO_MONTHS,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    period = result.periods[-1]
    console.print(
        f"generated {result.rows:,} FOCUS rows for {', '.join(result.periods)} (AWS, Azure, GCP) in {data_dir}; "
        f"{period} is the demo month, the months before it are its history"
    )

    conn = open_warehouse(warehouse)
    try:
        for provider in PROVIDERS:
            folder = data_dir / "focus" / provider
            if folder.is_dir():
                run_ingest(conn, FocusFiles([str(folder)], source=f"demo-{provider}"))
        tx_rows = sum(load_transactions(conn, p, source="demo") for p in result.transactions_files)
        console.print(f"loaded {tx_rows:,} transaction counts (requests per service per hour)")

        settings = Settings(warehouse=warehouse, allocation=demo_rules())
        with console.status("analysing") as status:
            jobs = run_analysis(
                conn,
                settings,
                jobs=[j for j in JOBS if j != "forecast"],
                on_job=lambda name: status.update(f"analysing: {name}"),
            )
            # Budgets at last month's spend, checked mid-month: the forecast as of the 21st of the demo month.
            settings = settings.model_copy(update={"budgets": demo_budgets(conn, result.periods[-2])})
            mid_month = datetime.strptime(period, "%Y-%m").date().replace(day=21)
            forecast = run_forecast(conn, settings, as_of=mid_month, period=period)
        analysis = Table(title="analysis (stored in the warehouse)", title_justify="left")
        analysis.add_column("job")
        analysis.add_column("seconds", justify="right")
        analysis.add_column("stored")
        for job in jobs:
            analysis.add_row(job.job, f"{job.seconds:.1f}", job.summary)
        analysis.add_row("forecast", "", f"{forecast.forecasts.height} forecasts and budget status as of {mid_month}")
        console.print(analysis)

        for by, title in (
            ("ProviderName", "by provider"),
            ("ServiceName", "top services"),
            ("team", "by team (allocated: tag aliases, account maps, shared support split)"),
        ):
            frame = cost_by(conn, parse_dimensions(by), period=period)
            if by == "ServiceName":
                frame = frame.sort("EffectiveCost", descending=True).head(10)
            write_frame(frame.with_columns(pl.col(pl.Decimal).round(2)), "table", None, title=f"{period} {title}")
        _print_findings(conn, console, write_frame, period)
        with console.status("writing the monthly report"):
            report = write_report(conn, settings, period=period, out_dir=directory / "report")
        problems = [f for f in run_doctor(conn) if f.level == "error"]
    finally:
        conn.close()

    secs = time.perf_counter() - started
    # Print the commands as this shell can run them (make demo runs .venv/bin/spendscope).
    exe = sys.argv[0] if sys.argv[0].endswith("/spendscope") else "spendscope"
    state = "[green]consistent[/]" if not problems else f"[red]{len(problems)} problems[/] (run doctor)"
    wh = f"{exe} --warehouse {warehouse}"
    console.rule("[bold]done")
    console.print(
        f"In {secs:.1f}s: generated a realistic multi-cloud bill (3 providers, USD and EUR, commitments, credits,\n"
        f"tax, untagged spend and injected anomalies; {period} with {DEMO_MONTHS - 1} months of history), ingested it\n"
        f"into a FOCUS warehouse ({state}), and analysed it: allocation to teams, untagged spend, commitments,\n"
        "cost per transaction, anomalies with their drivers, a mid-month forecast and budgets; then wrote the\n"
        "monthly report for finance and platform reviews.\n\n"
        f"  report        {report.html}  (open it in a browser; extracts beside it: XLSX, CSV, Parquet)\n"
        f"  warehouse     {warehouse}\n"
        f"  source files  {data_dir / 'focus'}\n"
        f"  ground truth  {result.ground_truth}  (the anomalies injected, to check what the analysis found)\n\n"
        "Next:\n"
        f"  {wh} costs --by team,ServiceName --period {period}\n"
        f"  {wh} anomalies --format json\n"
        f"  {wh} unit-cost --window month\n"
        f"  {wh} budgets\n"
        f"  {wh} commitments\n"
        f"  {wh} export focus --period {period} --out focus-{period}.parquet\n"
        f"  {wh} metrics serve        # live Prometheus metrics on http://127.0.0.1:9464/metrics\n"
        f"  {wh} serve                # or run it all unattended: scheduled jobs, the JSON API on\n"
        "                     # http://127.0.0.1:8484/api/v1/costs?group_by=team, /metrics, /readyz\n",
        highlight=False,
        soft_wrap=True,
    )


def _print_findings(
    conn: duckdb.DuckDBPyConnection, console: Console, write_frame: Callable[..., None], period: str
) -> None:
    """The demo month's anomalies, unit costs and budgets, as the CLI shows them."""
    from spendscope.analysis.anomalies import anomaly_records, read_anomalies

    month = datetime.strptime(period, "%Y-%m").date()
    found = sorted(anomaly_records(read_anomalies(conn, first_day=month)), key=lambda a: -float(str(a["impact"])))
    if found:
        table = Table(
            title=f"{period} anomalies, largest impact first ({len(found)}; `anomalies --format json` for all)",
            title_justify="left",
        )
        for col in ("kind", "start", "series", "impact", "top driver"):
            table.add_column(col, justify="right" if col == "impact" else "left")
        for a in found[:8]:
            dims = a["dimensions"] if isinstance(a["dimensions"], dict) else {}
            drivers = a["drivers"] if isinstance(a["drivers"], list) else []
            table.add_row(
                str(a["kind"]),
                str(a["start"]),
                Text(", ".join(str(v) for v in dims.values() if v)),
                f"{float(str(a['impact'])):,.2f} {a['currency']}",
                Text(str(drivers[0]["value"]) if drivers else ""),
            )
        console.print(table)
    budgets = conn.execute(sql.load("queries/budget_status")).pl()
    if budgets.height:
        write_frame(
            budgets.select(
                "name", "currency", "amount", "mtd_actual", "burn_ratio", "forecast_point", "status"
            ).with_columns(pl.col(pl.Decimal).round(2), pl.col("burn_ratio").round(2)),
            "table",
            None,
            title=f"budgets as of {month.replace(day=21)} (amount = last month's spend)",
        )
