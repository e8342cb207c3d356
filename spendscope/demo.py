"""`spendscope demo`: generate a multi-cloud month, ingest it, and show where the money went.

Idempotent: running it again regenerates the same (seeded) files, which the ledger recognises as
unchanged, so nothing is loaded twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console

from spendscope.analysis.costs import cost_by, parse_dimensions
from spendscope.collectors.focus import FocusFiles
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.doctor import run_doctor
from spendscope.warehouse.transactions import load_transactions

PROVIDERS = ("aws", "azure", "gcp")


def run_demo(
    directory: Path,
    *,
    rows: int,
    console: Console,
    progress_bar: Callable[[], Any],
    run_ingest: Callable[..., Any],
    write_frame: Callable[..., None],
) -> None:
    from spendscope.analysis.allocation import AllocationRules, run_allocation
    from spendscope.generator import generate

    # The demo bill has the usual tag hygiene faults: `Team` for `team`, `owner` used for the team.
    rules = AllocationRules.model_validate(
        {
            "rule_sets": [
                {
                    "team": {"tag_keys": ["team", "owner"]},
                    "shared": [{"name": "support", "service_subcategories": ["Support"]}],
                }
            ]
        }
    )

    started = time.perf_counter()
    data_dir = directory / "data"
    warehouse = directory / "warehouse.duckdb"
    console.rule("[bold]spendscope demo")
    with progress_bar() as bar:
        task = bar.add_task("generating a multi-cloud month", total=rows)
        result = generate(
            data_dir, rows=rows, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    console.print(
        f"generated {result.rows:,} FOCUS rows for {', '.join(result.periods)} (AWS, Azure, GCP) in {data_dir}"
    )

    conn = open_warehouse(warehouse)
    try:
        for provider in PROVIDERS:
            folder = data_dir / "focus" / provider
            if folder.is_dir():
                run_ingest(conn, FocusFiles([str(folder)], source=f"demo-{provider}"))
        tx_rows = sum(load_transactions(conn, p, source="demo") for p in result.transactions_files)
        allocation = run_allocation(conn, rules)
        console.print(f"loaded {tx_rows:,} transaction counts (requests per service per hour)")

        period = result.periods[-1]
        for by, title in (
            ("ProviderName", "by provider"),
            ("ServiceName", "top services"),
            ("team", "by team (allocated: tag aliases, account maps, shared support split)"),
        ):
            frame = cost_by(conn, parse_dimensions(by), period=period)
            if by == "ServiceName":
                frame = frame.sort("EffectiveCost", descending=True).head(10)
            write_frame(frame.with_columns(pl.col(pl.Decimal).round(2)), "table", None, title=f"{period} {title}")
        problems = [f for f in run_doctor(conn) if f.level == "error"]
    finally:
        conn.close()

    secs = time.perf_counter() - started
    # Print the commands as this shell can run them (make demo runs .venv/bin/spendscope).
    exe = sys.argv[0] if sys.argv[0].endswith("/spendscope") else "spendscope"
    state = "[green]consistent[/]" if not problems else f"[red]{len(problems)} problems[/] (run doctor)"
    unallocated = ", ".join(f"{c} {s:.1%}" for c, s in sorted(allocation.unallocated_share.items()))
    console.rule("[bold]done")
    console.print(
        f"In {secs:.1f}s: generated a realistic multi-cloud bill (3 providers, USD and EUR, commitments, credits,\n"
        f"tax, untagged spend and injected anomalies), ingested it into a FOCUS warehouse ({state}), and\n"
        f"allocated it to teams (unallocated: {unallocated}).\n\n"
        f"  warehouse     {warehouse}\n"
        f"  source files  {data_dir / 'focus'}\n"
        f"  ground truth  {result.ground_truth}  (the anomalies injected, for checking the analysis)\n\n"
        "Next:\n"
        f"  {exe} --warehouse {warehouse} costs --by team,ServiceName --period {period}\n"
        f"  {exe} --warehouse {warehouse} export focus --period {period} --out focus-{period}.parquet\n"
        f"  {exe} --warehouse {warehouse} doctor\n"
        f"  {exe} serve   # live Prometheus metrics and the API: arrives with the service issue (#11);\n"
        "                     # this version has no server yet\n",
        highlight=False,
        soft_wrap=True,
    )
