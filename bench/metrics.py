"""Benchmark `/metrics` scrapes with about --series series (default 10,000; target: under 100 ms).

    python -m bench.metrics [--series 10000] [--scrapes 50]

Builds a warehouse whose stored allocation yields the requested number of cost series (half
spendscope_cost_hourly_rate, half spendscope_cost_month_to_date), serves it with the real HTTP server
of `spendscope metrics serve` (prometheus-client's), and times scrapes over HTTP from this process:
the first scrape (which builds the snapshot from the warehouse) and the steady state (cached
snapshot), as a scraper sees them. Baseline in the same run: the same number of plain Gauge series
from prometheus-client's own registry, served by the same HTTP server.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from spendscope.exporters.metrics import CostMetricsCollector, MetricsSettings, series_count
from spendscope.warehouse.db import open_warehouse


def _fill(path: Path, combos: int) -> None:
    conn = open_warehouse(path)
    conn.execute(
        """
        INSERT INTO allocated_daily (billing_period_start, day, provider, account, sub_account, service,
                                     service_category, region, team, environment, currency, BilledCost,
                                     EffectiveCost, shared, run_id)
        SELECT TIMESTAMPTZ '2026-10-01', DATE '2026-10-30' + (d.k)::INTEGER, 'AWS', 'payer', 'acct-' || (i % 50),
               'service-' || (i // 50 % 20), 'Compute', 'us-east-1', 'team-' || (i // 1000), 'prod', 'USD',
               1.5, 1.25, false, 1
        FROM range($n) AS t(i), (VALUES (0), (1)) AS d(k)
        """,
        {"n": combos},
    )
    conn.execute(
        "INSERT INTO billing (ProviderName, ChargeCategory, ChargeFrequency, ChargePeriodStart, ChargePeriodEnd, "
        "BillingCurrency, BilledCost, EffectiveCost, x_IngestId, x_SourceFile) VALUES ('AWS', 'Usage', "
        "'Usage-Based', TIMESTAMPTZ '2026-10-31 23:00:00', TIMESTAMPTZ '2026-11-01', 'USD', 0, 0, 1, 'bench')"
    )
    conn.execute("INSERT INTO analysis_runs VALUES (1, now(), now(), 'succeeded', NULL)")
    conn.close()


def _scrape(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def _serve(registry: CollectorRegistry) -> tuple[str, object]:
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    return f"http://127.0.0.1:{server.server_port}/metrics", server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    combos = args.series // 2

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wh.duckdb"
        _fill(path, combos)
        settings = MetricsSettings(top_services=1000, refresh_seconds=3600)
        collector = CostMetricsCollector(lambda: open_warehouse(path, read_only=True), settings)
        registry = CollectorRegistry()
        registry.register(collector)
        url, server = _serve(registry)
        first = _scrape(url)
        steady = [_scrape(url) for _ in range(args.scrapes)]
        served = sum(series_count(collector._families).values())
        server.shutdown()  # type: ignore[attr-defined]

        baseline_registry = CollectorRegistry()
        gauge = Gauge("bench_gauge", "baseline", labelnames=["i", "j", "k", "l", "m", "n"], registry=baseline_registry)
        for i in range(served):
            gauge.labels(str(i), "a", "b", "c", "d", "USD").set(i)
        base_url, base_server = _serve(baseline_registry)
        _scrape(base_url)
        baseline = [_scrape(base_url) for _ in range(args.scrapes)]
        base_server.shutdown()  # type: ignore[attr-defined]

    def p(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(q * len(values)))]

    med, base_med = statistics.median(steady), statistics.median(baseline)
    print(
        f"spendscope /metrics with {served:,} series (cost gauges + self-telemetry), {args.scrapes} scrapes over HTTP"
    )
    print(f"  first scrape (builds the snapshot from the warehouse): {first:8.1f} ms")
    print(f"  cached snapshot: median {med:6.1f} ms, p95 {p(steady, 0.95):6.1f} ms, max {max(steady):6.1f} ms")
    print(f"  baseline, {served:,} plain prometheus-client Gauge series: median {base_med:6.1f} ms")
    verdict = "meets" if p(steady, 0.95) < 100 else "MISSES"
    print(f"  ratio to baseline {med / base_med:.2f}x; p95 {verdict} the 100 ms target")


if __name__ == "__main__":
    main()
