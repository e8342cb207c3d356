"""The read-only JSON API: figures from hand-written rows, hostile parameters refused with a 4xx and a clear
message (nothing runs, nothing changes), bearer auth, health and metrics; with the ASGI test client and over
a real uvicorn socket."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import uvicorn
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr

from spendscope.config import Settings
from spendscope.service.api import create_app
from spendscope.service.jobs import Check
from tests.servers import free_port

with warnings.catch_warnings():  # starlette 1.x asks for the httpx2 package; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TODAY = date(2026, 11, 25)

# allocated_daily by hand: (day, service, team, currency, BilledCost, EffectiveCost)
ALLOCATED = [
    ("2026-10-05", "Amazon EC2", "payments", "USD", "10.00", "8.00"),
    ("2026-10-06", "Amazon EC2", "payments", "USD", "5.50", "5.00"),
    ("2026-10-05", "Amazon S3", "payments", "USD", "1.25", "1.25"),
    ("2026-10-05", "Amazon EC2", "search", "USD", "3.00", "3.00"),
    ("2026-10-05", "Virtual Machines", "payments", "EUR", "7.00", "6.00"),
    ("2026-11-02", "Amazon EC2", "payments", "USD", "100.00", "100.00"),  # outside October
]


@pytest.fixture
def warehouse(wh: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    for day, service, team, currency, billed, effective in ALLOCATED:
        wh.execute(
            "INSERT INTO allocated_daily (billing_period_start, day, provider, account, sub_account, service, "
            "service_category, region, team, environment, currency, BilledCost, EffectiveCost, shared, run_id) "
            "VALUES (date_trunc('month', $d::DATE)::TIMESTAMPTZ, $d::DATE, 'AWS', '111', '222', $s, 'Compute', "
            "'us-east-1', $t, 'prod', $c, $b::DECIMAL(38, 12), $e::DECIMAL(38, 12), false, 1)",
            {"d": day, "s": service, "t": team, "c": currency, "b": billed, "e": effective},
        )
    wh.execute(
        "INSERT INTO unit_costs VALUES ('day', 'checkout', TIMESTAMPTZ '2026-10-05 00:00:00+00', "
        "TIMESTAMPTZ '2026-10-06 00:00:00+00', 'USD', 12.5, 1000, 0.0125, 'ok', NULL, 1), "
        "('day', 'search', TIMESTAMPTZ '2026-10-05 00:00:00+00', TIMESTAMPTZ '2026-10-06 00:00:00+00', "
        "'USD', 3, 0, NULL, 'no_traffic_metric', NULL, 1)"
    )
    for fingerprint, end in (("a-open", None), ("b-ended", "2026-10-09")):
        details = (
            '{"kind": "spike", "start": "2026-10-07", "end": ' + (f'"{end}"' if end else "null") + ", "
            '"detected_on": "2026-10-07", "series": "service", "expected": "10", "actual": "40", "impact": "30", '
            '"relative_change": 3.0, "drivers": [{"dimension": "ResourceId", "value": "i-1", "delta": "30"}]}'
        )
        wh.execute(
            "INSERT INTO findings (fingerprint, kind, run_id, dimensions, currency, severity, details) "
            "VALUES ($f, 'anomaly', 1, '{\"ServiceName\": \"Amazon EC2\"}', 'USD', 'high', $d)",
            {"f": fingerprint, "d": details},
        )
    wh.execute(
        "INSERT INTO findings (fingerprint, kind, run_id, provider, account_id, region, resource_id, dimensions, "
        "monthly_cost, currency, severity, details) VALUES ('o-1', 'orphan', 1, 'AWS', '222', 'us-east-1', "
        "'vol-1', '{\"orphan_kind\": \"unattached_volume\", \"team\": \"payments\"}', 8.00, 'USD', 'medium', "
        '\'{"age_days": 40, "cost_source": "bill"}\')'
    )
    return wh


def _client(conn: duckdb.DuckDBPyConnection, **settings: Any) -> TestClient:
    return TestClient(create_app(conn, Settings(**settings), today=lambda: TODAY))


def test_costs_group_by_team_and_service_per_currency(warehouse: duckdb.DuckDBPyConnection) -> None:
    answer = _client(warehouse).get(
        "/api/v1/costs", params={"group_by": "team,service", "from": "2026-10-01", "to": "2026-11-01"}
    )
    assert answer.status_code == 200
    body = answer.json()
    got = {(r["team"], r["service"], r["currency"]): (r["BilledCost"], r["EffectiveCost"]) for r in body["rows"]}
    assert got == {
        ("payments", "Amazon EC2", "USD"): (15.5, 13.0),  # 10.00 + 5.50; 8.00 + 5.00 (November's 100 left out)
        ("payments", "Amazon S3", "USD"): (1.25, 1.25),
        ("search", "Amazon EC2", "USD"): (3.0, 3.0),
        ("payments", "Virtual Machines", "EUR"): (7.0, 6.0),  # EUR apart, never added to USD
    }
    assert (body["group_by"], body["from"], body["to"], body["truncated"]) == (
        ["team", "service"],
        "2026-10-01",
        "2026-11-01",
        False,
    )
    # FOCUS names work too, and a day range selects days: 2026-10-06 alone holds EC2's 5.50
    one_day = _client(warehouse).get(
        "/api/v1/costs", params={"group_by": "ServiceName", "from": "2026-10-06", "to": "2026-10-07"}
    )
    assert one_day.json()["rows"] == [
        {"ServiceName": "Amazon EC2", "currency": "USD", "BilledCost": 5.5, "EffectiveCost": 5.0}
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"group_by": "team;DROP TABLE billing"}, "cannot group by 'team;DROP TABLE billing'"),
        ({"group_by": "team,BilledCost"}, "cannot group by 'BilledCost'"),
        ({"group_by": 'team" FROM billing --'}, "cannot group by"),
        ({"group_by": "tag:team"}, "cannot group by 'tag:team'"),
        ({"group_by": ""}, "group_by needs at least one name"),
        ({"group_by": "team,team"}, "each name once"),
        ({"group_by": "team," * 200}, "group_by: String should have at most 300 characters"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "spans 3652058 days; at most 400"),
        ({"from": "2026-10-05", "to": "2026-10-01"}, "must be before to"),
        ({"from": "2026-13-01"}, "from: Input should be a valid date"),
        ({"from": "yesterday'; DROP TABLE billing; --"}, "from: Input should be a valid date"),
        ({"groupby": "team"}, "unknown query parameter 'groupby'"),
    ],
)
def test_hostile_or_wrong_parameters_get_a_400_and_change_nothing(
    warehouse: duckdb.DuckDBPyConnection, params: dict[str, str], message: str
) -> None:
    answer = _client(warehouse).get("/api/v1/costs", params=params)
    assert answer.status_code == 400
    assert message in answer.json()["detail"]
    assert warehouse.execute("SELECT count(*) FROM allocated_daily").fetchone() == (len(ALLOCATED),)
    assert warehouse.execute("SELECT count(*) FROM billing").fetchone() == (0,)  # the table is still there


def test_repeated_parameter_and_bad_values_elsewhere(warehouse: duckdb.DuckDBPyConnection) -> None:
    client = _client(warehouse)
    twice = client.get("/api/v1/costs?group_by=team&group_by=service")
    assert twice.status_code == 400 and "more than once" in twice.json()["detail"]
    assert client.get("/api/v1/unit-cost", params={"window": "week"}).status_code == 400
    assert (
        client.get("/api/v1/anomalies", params={"kind": "spike,meteor"})
        .json()["detail"]
        .startswith("unknown kind 'meteor'")
    )
    assert client.get("/api/v1/anomalies", params={"active": "maybe"}).status_code == 400
    assert client.get("/api/v1/orphans", params={"limit": "5"}).status_code == 400


def test_unit_cost_anomalies_and_orphans_read_the_stored_results(warehouse: duckdb.DuckDBPyConnection) -> None:
    client = _client(warehouse)
    october = {"from": "2026-10-01", "to": "2026-11-01"}
    unit = client.get("/api/v1/unit-cost", params={**october, "service": "checkout"}).json()["rows"]
    assert [(r["service"], r["cost"], r["transactions"], r["cost_per_transaction"], r["status"]) for r in unit] == [
        ("checkout", 12.5, 1000.0, 0.0125, "ok")  # 12.5 / 1000
    ]
    injected = client.get("/api/v1/unit-cost", params={**october, "service": "x' OR '1'='1"})
    assert injected.status_code == 200 and injected.json()["rows"] == []  # a value, bound: matches no service
    active = client.get("/api/v1/anomalies", params={"active": "true"}).json()["rows"]
    assert [(a["id"], a["end"], a["impact"], a["drivers"][0]["value"]) for a in active] == [
        ("a-open", None, 30.0, "i-1")
    ]
    ended = client.get("/api/v1/anomalies", params={"active": "false"}).json()["rows"]
    assert [a["id"] for a in ended] == ["b-ended"]
    orphans = client.get("/api/v1/orphans").json()["rows"]
    assert [(o["ResourceId"], o["kind"], o["BillingCurrency"], o["EffectiveCost"]) for o in orphans] == [
        ("vol-1", "unattached_volume", "USD", 8.0)
    ]


def test_bearer_token_when_configured(warehouse: duckdb.DuckDBPyConnection) -> None:
    client = _client(warehouse, api_token=SecretStr("s3cret-token"))
    missing = client.get("/api/v1/costs")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["detail"] == "missing or wrong bearer token"
    assert client.get("/api/v1/orphans", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/v1/orphans", headers={"Authorization": "Basic s3cret-token"}).status_code == 401
    assert client.get("/api/v1/orphans", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # probes need no token
    assert client.get("/readyz").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {
        "/api/v1/costs",
        "/api/v1/unit-cost",
        "/api/v1/anomalies",
        "/api/v1/orphans",
        "/api/v1/cleanup-plan",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


class _Status:
    """The scheduler's side of /readyz and /api/v1/jobs, fixed (the real one is tested through `serve`)."""

    def __init__(self, checks: list[Check]) -> None:
        self.checks = checks

    def readiness(self, cur: duckdb.DuckDBPyConnection) -> list[Check]:
        return self.checks

    def jobs(self, cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        return [{"id": "ingest:aws"}]

    @contextmanager
    def exclusive(self, timeout_s: float) -> Iterator[None]:
        yield


def test_readyz_lists_failing_checks_and_metrics_are_served(warehouse: duckdb.DuckDBPyConnection) -> None:
    registry = CollectorRegistry()
    Counter("spendscope_test_probe", "a probe", registry=registry).inc()
    late = Check("ingest:aws", False, "late: last success 2026-11-25T10:00:00+00:00")
    app = create_app(warehouse, Settings(), status=_Status([Check("analyze", True, "ok"), late]), registry=registry)
    client = TestClient(app)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "ready": False,
        "checks": [
            {"name": "warehouse", "ok": True, "detail": str(Settings().warehouse)},
            {"name": "analyze", "ok": True, "detail": "ok"},
            {"name": "ingest:aws", "ok": False, "detail": "late: last success 2026-11-25T10:00:00+00:00"},
        ],
    }
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "spendscope_test_probe_total 1.0" in metrics.text
    assert client.get("/api/v1/jobs").json() == {"jobs": [{"id": "ingest:aws"}]}


def test_cleanup_plan_through_the_writer(warehouse: duckdb.DuckDBPyConnection) -> None:
    pytest.importorskip("spendscope.exporters.cleanup.plan")
    without_service = _client(warehouse).get("/api/v1/cleanup-plan")
    assert without_service.status_code == 501 and "spendscope serve" in without_service.json()["detail"]
    client = TestClient(create_app(warehouse, Settings(), status=_Status([])))
    plan = client.get("/api/v1/cleanup-plan")
    assert plan.status_code == 200, plan.text
    listed = [item["resource_id"] for item in plan.json()["items"] + plan.json()["protected"]]
    assert listed == ["vol-1"]


@contextmanager
def _uvicorn(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_over_a_real_socket(warehouse: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    app = create_app(warehouse, Settings(api_token=SecretStr("t0ken")), today=lambda: TODAY)
    with _uvicorn(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        auth = {"Authorization": "Bearer t0ken"}
        costs = http.get("/api/v1/costs?group_by=team&from=2026-10-01&to=2026-11-01", headers=auth)
        assert costs.status_code == 200
        assert {(r["team"], r["currency"]): r["EffectiveCost"] for r in costs.json()["rows"]} == {
            ("payments", "USD"): 14.25,  # 8.00 + 5.00 + 1.25
            ("search", "USD"): 3.0,
            ("payments", "EUR"): 6.0,
        }
        hostile = http.get("/api/v1/costs", params={"group_by": "team;DROP TABLE billing"}, headers=auth)
        assert hostile.status_code == 400 and "cannot group by" in hostile.json()["detail"]
        assert http.get("/api/v1/costs").status_code == 401
        assert http.get("/healthz").json()["status"] == "ok"
