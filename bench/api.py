"""Benchmark `GET /api/v1/costs` of `spendscope serve` on a big warehouse (target: p95 under 1 s).

    python -m bench.api [--warehouse bench/data/analysis-10000000-3/warehouse.duckdb] [--requests 200]

The warehouse (analysed: allocated_daily filled) is copied to a temporary directory first (the service
opens it writable and may migrate it; the original is never touched). The API is served by uvicorn on a
loopback socket, as `spendscope serve` serves it, and timed over HTTP from this process: each group-by
sequentially, then with 4 concurrent clients. Baselines in the same run: the same group-by as a plain
DuckDB query on allocated_daily (what the API adds on top), and the per-team figure computed from the
raw billing rows (tags parsed per row: what the materialized allocation saves).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

from bench.__main__ import HERE, _cpus
from spendscope.config import Settings
from spendscope.service.api import create_app
from spendscope.warehouse.db import open_warehouse

QUERIES = {
    "team,service": "/api/v1/costs?group_by=team,service&from={start}&to={end}",
    "provider,account,region": "/api/v1/costs?group_by=provider,account,region&from={start}&to={end}",
    "day,team": "/api/v1/costs?group_by=day,team&from={start}&to={end}",
}
RAW_ALLOCATED = (
    "SELECT team, service, currency, sum(BilledCost), sum(EffectiveCost) FROM allocated_daily "
    "WHERE day >= $s AND day < $e GROUP BY ALL"
)
RAW_BILLING = (
    "SELECT Tags->>'team' AS team, ServiceName, BillingCurrency, sum(BilledCost), sum(EffectiveCost) FROM billing "
    "WHERE ChargePeriodStart >= $s AND ChargePeriodStart < $e GROUP BY ALL"
)


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def _timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{path}: HTTP {answer.status_code} {answer.text[:200]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", type=Path, default=HERE / "data" / "analysis-10000000-3" / "warehouse.duckdb")
    parser.add_argument("--requests", type=int, default=200, help="requests per group-by and mode")
    args = parser.parse_args()
    if not args.warehouse.exists():
        raise SystemExit(f"{args.warehouse} is missing: run `python -m bench.analysis` first")

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copy(args.warehouse, copy)
        conn = open_warehouse(copy)
        rows = conn.execute("SELECT count(*) FROM billing").fetchone()[0]  # type: ignore[index]
        allocated = conn.execute("SELECT count(*), min(day), max(day) FROM allocated_daily").fetchone()
        assert allocated is not None and allocated[0], "allocated_daily is empty: run `spendscope analyze` first"
        start, end = allocated[1], allocated[2]
        end_exclusive = datetime.fromordinal(end.toordinal() + 1).date()
        span = {"start": start.isoformat(), "end": end_exclusive.isoformat()}

        raw_alloc = []
        for _ in range(20):
            t = time.perf_counter()
            conn.execute(RAW_ALLOCATED, {"s": start, "e": end_exclusive}).fetchall()
            raw_alloc.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        conn.execute(RAW_BILLING, {"s": start, "e": end_exclusive}).fetchall()
        raw_billing = (time.perf_counter() - t) * 1000

        server = uvicorn.Server(uvicorn.Config(create_app(conn, Settings()), port=0, log_config=None, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        results: dict[str, object] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for name, template in QUERIES.items():
                path = template.format(**span)
                _timed(client, path)  # warm-up
                sequential = [_timed(client, path) for _ in range(args.requests)]
                with ThreadPoolExecutor(4) as pool:
                    concurrent = list(pool.map(_timed, [client] * args.requests, [path] * args.requests))
                results[name] = {
                    "sequential_ms": {"p50": statistics.median(sequential), "p95": _pct(sequential, 0.95)},
                    "concurrent4_ms": {"p50": statistics.median(concurrent), "p95": _pct(concurrent, 0.95)},
                }
        server.should_exit = True
        thread.join(timeout=10)
        conn.close()

    print(f"GET /api/v1/costs over {rows:,} billing rows ({allocated[0]:,} allocated_daily rows), {start}..{end}")
    print(f"  {_cpus()} cores; {args.requests} requests per group-by and mode, over HTTP on loopback")
    worst = 0.0
    for name, figures in results.items():
        seq, con = figures["sequential_ms"], figures["concurrent4_ms"]  # type: ignore[index]
        worst = max(worst, seq["p95"], con["p95"])
        print(
            f"  group_by={name:26} sequential p50 {seq['p50']:7.1f} ms p95 {seq['p95']:7.1f} ms | "
            f"4 clients p50 {con['p50']:7.1f} ms p95 {con['p95']:7.1f} ms"
        )
    print(
        f"  baseline: the team,service query on allocated_daily in DuckDB, median {statistics.median(raw_alloc):.1f} ms"
    )
    print(f"  without the materialized allocation (tags parsed over every billing row): {raw_billing:.0f} ms")
    verdict = "meets" if worst < 1000 else "MISSES"
    print(f"  worst p95 {worst:.1f} ms: {verdict} the 1 s target")
    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-api-{rows}.json"
    out.write_text(
        json.dumps(
            {
                "billing_rows": rows,
                "allocated_daily_rows": allocated[0],
                "cores": _cpus(),
                "requests": args.requests,
                "results": results,
                "baseline_allocated_ms": statistics.median(raw_alloc),
                "billing_tags_ms": raw_billing,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"  written to {out}")


if __name__ == "__main__":
    main()
