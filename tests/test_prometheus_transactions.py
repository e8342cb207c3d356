"""Transactions from a real Prometheus (Debian's, over a backfilled TSDB) into cost per transaction.

The counters are written by hand as OpenMetrics: two instances of service ``api`` whose
http_requests_total grow linearly inside each hour by known amounts, sampled every 15 minutes
with a sample on every hour boundary, so ``increase(x[1h])`` at the hour's end is exactly the
hour's requests (no extrapolation). Expected counts and unit costs are computed by hand below.
HTTP failure modes use the real server (bad query, nothing listening) or pytest-httpserver.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from spendscope.analysis.unit_cost import UnitCostSettings, run_unit_costs
from spendscope.cli import app
from spendscope.collectors.focus import FocusFiles
from spendscope.collectors.prometheus import PrometheusSource, PrometheusTransactions
from spendscope.errors import BadData, CollectorError, CredentialsExpired, Throttled
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from tests.servers import free_port

from .conftest import rows, write_csv

D = Decimal
START = datetime(2026, 10, 5, tzinfo=UTC)
QUERY = "sum by (service)(increase(http_requests_total[1h]))"
# Requests of service api per hour from 2026-10-05 00:00 UTC (26 hours, up to 2026-10-06 02:00),
# half on instance a and half on instance b; the query sums the two.
API_PER_HOUR = [120, 0, 400, 40] + [100] * 20 + [80, 60]
runner = CliRunner()


def openmetrics() -> str:
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    total = 0.0
    for quarter in range(len(API_PER_HOUR) * 4 + 1):
        t = START + timedelta(minutes=15 * quarter)
        if quarter:
            total += API_PER_HOUR[(quarter - 1) // 4] / 2 / 4  # one instance, one quarter of the hour
        for instance in ("a", "b"):
            lines.append(f'http_requests_total{{service="api",instance="{instance}"}} {total} {int(t.timestamp())}')
    return "\n".join([*lines, "# EOF"]) + "\n"


@pytest.fixture
def prometheus(prometheus_tsdb: Any) -> str:
    url: str = prometheus_tsdb(openmetrics())
    return url


def _hour(h: int) -> datetime:
    return START + timedelta(hours=h)


API_COST = ["0.60", "0.60", "1.00", "0.60"] + ["0.50"] * 20  # hours 0..23 of 2026-10-05


def _bill(tmp_path: Path) -> Path:
    api = [
        rows(
            1,
            ResourceId=f"api-{h}",
            ChargePeriodStart=f"{_hour(h):%Y-%m-%dT%H:%M:%SZ}",
            ChargePeriodEnd=f"{_hour(h + 1):%Y-%m-%dT%H:%M:%SZ}",
            BilledCost=cost,
            EffectiveCost=cost,
            Tags='{"app": "api", "env": "prod"}',
        )[0]
        for h, cost in enumerate(API_COST)
    ]
    db = rows(  # one daily charge of a service with no traffic metric: 4.80 / 24 = 0.20 per hour
        1,
        ResourceId="db-1",
        ChargePeriodStart="2026-10-05T00:00:00Z",
        ChargePeriodEnd="2026-10-06T00:00:00Z",
        BilledCost="4.80",
        EffectiveCost="4.80",
        Tags='{"App": "DB"}',
    )
    untagged = rows(1, ResourceId="other", BilledCost="9", EffectiveCost="9", Tags=None)
    return write_csv(tmp_path / "bill.csv", api + db + untagged)


def test_fetch_counts_each_hour_by_hand(prometheus: str) -> None:
    collector = PrometheusTransactions(PrometheusSource(url=prometheus, query=QUERY))
    frame = collector.fetch(START, _hour(26))
    collector.close()
    assert frame["service"].unique().to_list() == ["api"]  # instances a and b summed by the query
    assert frame["window_start"].to_list() == [_hour(h) for h in range(26)]
    assert frame["window_end"].to_list() == [_hour(h + 1) for h in range(26)]
    assert [c.normalize() for c in frame["count"]] == [D(n) for n in API_PER_HOUR]


def test_cli_ingest_prometheus_then_unit_cost_matches_hand_values(prometheus: str, tmp_path: Path) -> None:
    wh = tmp_path / "wh.duckdb"
    conn = open_warehouse(wh)
    ingest(conn, FocusFiles([str(_bill(tmp_path))], source="bill"))
    conn.close()
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f'[unit_cost.prometheus]\nname = "web"\nurl = "{prometheus}"\nquery = "{QUERY}"\nstep_s = 3600\n'
        'token = "not-a-real-token"\n'
    )
    base = ["--warehouse", str(wh), "--config", str(config)]
    for _ in range(2):  # a rerun replaces the source's rows in the range: nothing doubles
        result = runner.invoke(app, [*base, "ingest", "prometheus", "--from", "2026-10-05", "--to", "2026-10-06T02:00"])
        assert result.exit_code == 0, result.output
        assert "not-a-real-token" not in result.output
    conn = open_warehouse(wh)
    try:
        stored = conn.execute("SELECT DISTINCT source FROM transactions").fetchall()
        assert stored == [("prometheus:web",)]
        assert conn.execute("SELECT count(*), sum(count) FROM transactions").fetchone() == (26, D(2700))
        run_unit_costs(conn, UnitCostSettings())
    finally:
        conn.close()

    def unit_cost(*args: str) -> list[dict[str, Any]]:
        result = runner.invoke(app, [*base, "unit-cost", *args, "--format", "json"])
        assert result.exit_code == 0, result.output
        data: list[dict[str, Any]] = json.loads(result.stdout)
        return data

    hours = {row["window_start"]: row for row in unit_cost("--service", "api", "--window", "hour")}
    assert len(hours) == 26

    def at(h: int) -> tuple[Any, ...]:
        row = hours[_hour(h).isoformat()]
        cpt = row["cost_per_transaction"]
        return (
            None if row["cost"] is None else D(str(row["cost"])),
            D(str(row["transactions"])),
            None if cpt is None else D(str(cpt)),
            row["status"],
        )

    assert at(0) == (D("0.6"), D(120), D("0.005"), "ok")  # 0.60 / 120
    assert at(1) == (D("0.6"), D(0), None, "ok")  # no requests: no unit cost, never infinity
    assert at(2) == (D("1.0"), D(400), D("0.0025"), "ok")  # 1.00 / 400
    assert at(3) == (D("0.6"), D(40), D("0.015"), "ok")  # 0.60 / 40
    assert at(4) == (D("0.5"), D(100), D("0.005"), "ok")  # 0.50 / 100
    # Traffic of 2026-10-06 before its bill: the bill ends at 2026-10-06 00:00 (latest ChargePeriodEnd).
    assert at(24) == (None, D(80), None, "cost_pending")
    assert at(25) == (None, D(60), None, "cost_pending")

    days = unit_cost("--window", "day")
    assert [(r["service"], r["window_start"][:10], r["status"]) for r in days] == [
        ("api", "2026-10-05", "ok"),
        ("api", "2026-10-06", "cost_pending"),
        ("db", "2026-10-05", "no_traffic_metric"),  # 'DB' folded; cost reported, not hidden
    ]
    api_day = days[0]
    # cost 0.60 + 0.60 + 1.00 + 0.60 + 20 × 0.50 = 12.80; requests 120 + 0 + 400 + 40 + 20 × 100 = 2560
    assert (D(str(api_day["cost"])), D(str(api_day["transactions"]))) == (D("12.8"), D(2560))
    assert D(str(api_day["cost_per_transaction"])) == D("0.005")  # 12.80 / 2560
    assert api_day["currency"] == "USD"
    assert (days[2]["cost"], days[2]["transactions"], days[2]["cost_per_transaction"]) == (4.8, None, None)
    month = unit_cost("--service", "api", "--window", "month")
    # October is not billed to its end (2026-10-06 < 2026-11-01): pending, the 2700 requests shown.
    assert [(m["status"], m["transactions"], m["cost_per_transaction"]) for m in month] == [
        ("cost_pending", 2700.0, None)
    ]


def test_bad_query_is_one_line_with_prometheus_error(prometheus: str) -> None:
    collector = PrometheusTransactions(PrometheusSource(url=prometheus, query="sum by (service)(", retries=0))
    with pytest.raises(CollectorError) as caught:
        collector.fetch(START, _hour(2))
    message = str(caught.value)
    assert message.startswith(f"GET {prometheus}/api/v1/query_range: HTTP 400: bad_data: ")
    assert "parse error" in message
    assert "\n" not in message


def test_connection_refused_names_the_call() -> None:
    url = f"http://user:pw-secret@127.0.0.1:{free_port()}"
    source = PrometheusSource(
        url=url, query=QUERY, username="user", password=SecretStr("pw-secret"), retries=1, backoff_s=0
    )
    with pytest.raises(CollectorError) as caught:
        PrometheusTransactions(source).fetch(START, _hour(1))
    port = url.rsplit(":", 1)[1]
    assert str(caught.value) == f"GET http://127.0.0.1:{port}/api/v1/query_range: cannot connect: connection refused"


def _matrix(*series: tuple[dict[str, str], list[tuple[float, str]]]) -> dict[str, Any]:
    result = [{"metric": m, "values": [[t, v] for t, v in values]} for m, values in series]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_retries_503_then_reads_the_answer(httpserver: HTTPServer) -> None:
    t = _hour(1).timestamp()
    httpserver.expect_ordered_request("/api/v1/query_range").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(
        "/api/v1/query_range", query_string={"query": QUERY, "start": f"{t:.3f}", "end": f"{t:.3f}", "step": "3600s"}
    ).respond_with_json(_matrix(({"service": "api"}, [(t, "12.5")])))
    source = PrometheusSource(url=httpserver.url_for("/"), query=QUERY, retries=2, backoff_s=0)
    frame = PrometheusTransactions(source).fetch(START, _hour(1))
    httpserver.check_assertions()
    assert frame.rows() == [("api", START, _hour(1), D("12.5"))]


def test_throttled_after_retries_and_token_never_printed(httpserver: HTTPServer) -> None:
    calls: list[str | None] = []

    def throttle(request: Request) -> Response:
        calls.append(request.headers.get("Authorization"))
        return Response('{"status":"error","errorType":"unavailable","error":"slow down"}', status=429)

    httpserver.expect_request("/api/v1/query_range").respond_with_handler(throttle)
    source = PrometheusSource(
        url=httpserver.url_for("/"), query=QUERY, token=SecretStr("tok-123"), retries=2, backoff_s=0
    )
    with pytest.raises(Throttled) as caught:
        PrometheusTransactions(source).fetch(START, _hour(1))
    assert calls == ["Bearer tok-123"] * 3  # first call + 2 retries, each with the token
    assert "HTTP 429: unavailable: slow down" in str(caught.value)
    assert "tok-123" not in str(caught.value)


def test_unauthorized_and_wrong_result_type(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/api/v1/query_range").respond_with_data("Unauthorized", status=401)
    source = PrometheusSource(url=httpserver.url_for("/"), query=QUERY, token=SecretStr("tok-123"), retries=0)
    with pytest.raises(CredentialsExpired, match="HTTP 401; check the token"):
        PrometheusTransactions(source).fetch(START, _hour(1))
    httpserver.expect_oneshot_request("/api/v1/query_range").respond_with_json(
        {"status": "success", "data": {"resultType": "vector", "result": []}}
    )
    with pytest.raises(CollectorError, match="resultType 'vector', expected 'matrix'"):
        PrometheusTransactions(source).fetch(START, _hour(1))


def test_series_without_service_label_is_refused(httpserver: HTTPServer) -> None:
    t = _hour(1).timestamp()
    httpserver.expect_request("/api/v1/query_range").respond_with_json(_matrix(({"job": "web"}, [(t, "3")])))
    source = PrometheusSource(url=httpserver.url_for("/"), query=QUERY, retries=0)
    with pytest.raises(BadData, match="a series has no 'service' label"):
        PrometheusTransactions(source).fetch(START, _hour(1))


def test_long_ranges_are_chunked(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("spendscope.collectors.prometheus.MAX_POINTS_PER_QUERY", 2)
    seen: list[tuple[float, float]] = []

    def answer(request: Request) -> Response:
        first, last = float(request.args["start"]), float(request.args["end"])
        seen.append((first, last))
        points = [(first + 3600 * i, "1") for i in range(int((last - first) // 3600) + 1)]
        return Response(json.dumps(_matrix(({"service": "api"}, points))), content_type="application/json")

    httpserver.expect_request("/api/v1/query_range").respond_with_handler(answer)
    source = PrometheusSource(url=httpserver.url_for("/"), query=QUERY, retries=0)
    frame = PrometheusTransactions(source).fetch(START, _hour(5))
    # Evaluation times 01:00 … 05:00 in chunks of two points: [1, 2], [3, 4], [5, 5].
    assert [(int(a - START.timestamp()) // 3600, int(b - START.timestamp()) // 3600) for a, b in seen] == [
        (1, 2),
        (3, 4),
        (5, 5),
    ]
    assert frame["window_start"].to_list() == [_hour(h) for h in range(5)]
    assert frame["count"].sum() == D(5)


def test_store_refuses_rows_outside_the_range(wh: duckdb.DuckDBPyConnection) -> None:
    import polars as pl

    from spendscope.collectors.prometheus import OUTPUT_SCHEMA
    from spendscope.warehouse.transactions import store_transactions

    frame = pl.DataFrame([("api", _hour(5), _hour(6), D(1))], schema=OUTPUT_SCHEMA, orient="row")
    with pytest.raises(BadData, match="1 transaction rows"):
        store_transactions(wh, frame, source="prometheus:x", start=START, end=_hour(5))
    assert wh.execute("SELECT count(*) FROM transactions").fetchone() == (0,)
