"""Ticket sinks with the real HTTP client against pytest-httpserver, asserting the vendor contracts.

Each vendor's expectations (method, path, headers, exact JSON body) are written here from its REST
documentation:
- Jira Cloud REST v3 (developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues):
  POST /rest/api/3/issue {"fields": {project.key, summary, issuetype.name, description (ADF doc)}}
  → 201 {"id", "key", "self"}; POST /rest/api/3/issue/{key}/comment {"body": ADF doc} → 201;
  GET/POST /rest/api/3/issue/{key}/transitions ({"transition": {"id"}} → 204). Basic auth
  email:api_token.
- GitHub REST (docs.github.com/en/rest/issues/issues, /issues/comments): POST
  /repos/{owner}/{repo}/issues {"title", "body", "labels"} → 201 {"number", "html_url"}; POST
  …/issues/{n}/comments {"body"} → 201; PATCH …/issues/{n} {"state": "closed", "state_reason":
  "completed"} → 200; Authorization: Bearer, Accept: application/vnd.github+json,
  X-GitHub-Api-Version: 2022-11-28.
- ServiceNow Table API (docs.servicenow.com, Table API): POST /api/now/table/{table} → 201
  {"result": {"sys_id", "number"}}; PATCH /api/now/table/{table}/{sys_id} → 200; basic auth.
- Slack incoming webhooks (docs.slack.dev, "Incoming webhooks"): POST {"text": …} as JSON.

The orphans (hand-written inventory, real run_orphans, list-price estimates): vol-a 100 GiB ×
0.08 = 8.00 USD and eipalloc-1 730 h × 0.005 = 3.65 USD owned by alice (11.65); vol-b 50 GiB ×
0.08 = 4.00 USD of team web. Later vol-c (20 × 0.08 = 1.60) appears for alice, eipalloc-1 and
vol-b go: alice 8.00 + 1.60 = 9.60.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Response

from spendscope.analysis.orphans import run_orphans
from spendscope.cli import app
from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.errors import ExporterError
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.tickets.settings import GitHubSink, JiraSink, ServiceNowSink, TicketSettings, WebhookSink
from spendscope.exporters.tickets.sync import sync_tickets
from spendscope.warehouse.inventory import load_inventory

T0 = datetime(2026, 11, 15, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
JIRA_TOKEN, GITHUB_TOKEN, SNOW_PASSWORD = "jira-SECRET-token", "ghp_SECRET", "snow-SECRET"
HOOK_PATH = "/services/T000/B000/SECRETSECRET"

LINE_A = "vol-a (unattached disk, aws / 111 / us-east-1): 8.00 USD/month; proposed: snapshot then delete volume"
LINE_IP = "eipalloc-1 (unassociated IP, aws / 111 / us-east-1): 3.65 USD/month; proposed: release address"
LINE_B = "vol-b (unattached disk, aws / 111 / us-east-1): 4.00 USD/month; proposed: snapshot then delete volume"
LINE_C = "vol-c (unattached disk, aws / 111 / us-east-1): 1.60 USD/month; proposed: snapshot then delete volume"
TITLE_ALICE = "spendscope: 2 orphaned resources of owner alice: 11.65 USD/month"
TITLE_WEB = "spendscope: 1 orphaned resource of owner web: 4.00 USD/month"
INTRO_ALICE = "spendscope found 2 orphaned resources of owner alice, wasting 11.65 USD per month."
INTRO_WEB = "spendscope found 1 orphaned resource of owner web, wasting 4.00 USD per month."
FOOTER = (
    "Kept up to date by `spendscope tickets sync`: changes are added as comments, and the ticket closes "
    "when every resource above is gone. Resources tagged as protected are never cleaned up automatically."
)
CHANGE_ALICE = [
    "Orphaned resources changed since the last update:",
    f"- new: {LINE_C}",
    "- gone: eipalloc-1 (unassociated IP)",
    "Now: 2 resources, 9.60 USD/month.",
]
CLOSE_WEB = "Resolved: every orphaned resource of this ticket is gone (vol-b). Closed by spendscope."


def res(rid: str, rtype: str, state: str, *, size: int | None = None, **tags: str) -> dict[str, Any]:
    return {
        "provider": "aws",
        "account_id": "111",
        "region": "us-east-1",
        "resource_id": rid,
        "resource_type": rtype,
        "state": state,
        "attached_to": None,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "last_used_at": None,
        "size": None if size is None else Decimal(size),
        "size_unit": None if size is None else "GiB",
        "tags": json.dumps(tags),
        "details": "{}",
    }


def observe(wh: duckdb.DuckDBPyConnection, at: datetime, resources: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist([{**r, "observed_at": at} for r in resources], schema=OUTPUT_SCHEMA)
    load_inventory(wh, table, source="aws")
    run_orphans(wh, now=at + timedelta(hours=1))


FIRST = [
    res("vol-a", "ebs_volume", "available", size=100, owner="alice"),
    res("eipalloc-1", "elastic_ip", "unassociated", owner="alice"),
    res("vol-b", "ebs_volume", "available", size=50, team="web"),
]
LATER = [
    res("vol-a", "ebs_volume", "available", size=100, owner="alice"),
    res("vol-c", "ebs_volume", "available", size=20, owner="alice"),
]


def settings(**sinks: Any) -> TicketSettings:
    return TicketSettings(delay_s=0, retries=2, backoff_s=0, timeout_s=5, **sinks)


def sync(wh: duckdb.DuckDBPyConnection, s: TicketSettings, now: datetime, **kw: Any) -> list[Any]:
    return sync_tickets(wh, s, cleanup=CleanupSettings(), now=now, **kw)


def tickets(wh: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return wh.execute(
        "SELECT sink, group_key, external_id, status, CAST(fingerprints AS VARCHAR[]) IS NOT NULL, closed_at "
        "FROM tickets ORDER BY sink, group_key"
    ).fetchall()


def para(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def doc(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


def bullets(*lines: str) -> dict[str, Any]:
    return {"type": "bulletList", "content": [{"type": "listItem", "content": [para(x)]} for x in lines]}


def done(server: HTTPServer) -> None:
    """Every expected request arrived, in order, and nothing else did."""
    server.check_assertions()
    assert server.ordered_handlers == [], f"requests not made: {server.ordered_handlers}"


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """What spendscope and its HTTP stack logged (not the test server's own access log)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


JSON = {"Content-Type": "application/json"}


# ------------------------------------------------------------------ Jira


def test_jira_create_update_instead_of_duplicate_and_close(
    httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection
) -> None:
    jira = JiraSink(
        url=httpserver.url_for("/").rstrip("/"),
        email="ada@example.com",
        api_token=SecretStr(JIRA_TOKEN),
        project_key="FIN",
        done_transition="Done",
    )
    s = settings(jira=jira)
    auth = {**JSON, "Authorization": basic("ada@example.com", JIRA_TOKEN), "Accept": "application/json"}
    issue = "/rest/api/3/issue"
    labels = ["spendscope", "orphaned-resources"]

    def create(summary: str, intro: str, lines: list[str]) -> dict[str, Any]:
        description = doc(para(intro), bullets(*lines), para(FOOTER))
        return {
            "fields": {
                "project": {"key": "FIN"},
                "summary": summary,
                "issuetype": {"name": "Task"},
                "description": description,
                "labels": labels,
            }
        }

    observe(wh, T0, FIRST)
    httpserver.expect_ordered_request(
        issue, method="POST", headers=auth, json=create(TITLE_ALICE, INTRO_ALICE, [LINE_A, LINE_IP])
    ).respond_with_json(
        {"id": "10001", "key": "FIN-1", "self": httpserver.url_for("/rest/api/3/issue/10001")}, status=201
    )
    httpserver.expect_ordered_request(
        issue, method="POST", headers=auth, json=create(TITLE_WEB, INTRO_WEB, [LINE_B])
    ).respond_with_json(
        {"id": "10002", "key": "FIN-2", "self": httpserver.url_for("/rest/api/3/issue/10002")}, status=201
    )
    first = sync(wh, s, T0 + timedelta(hours=2))
    done(httpserver)
    assert [(a.action, a.external_id, a.url) for a in first] == [
        ("create", "FIN-1", f"{jira.url}/browse/FIN-1"),
        ("create", "FIN-2", f"{jira.url}/browse/FIN-2"),
    ]

    calls = len(httpserver.log)
    again = sync(wh, s, T0 + timedelta(hours=3))
    assert [a.action for a in again] == ["unchanged", "unchanged"]
    assert len(httpserver.log) == calls  # nothing sent: no duplicate ticket, no empty comment

    observe(wh, T1, LATER)
    httpserver.expect_ordered_request(
        f"{issue}/FIN-1/comment", method="POST", headers=auth, json={"body": doc(*map(para, CHANGE_ALICE))}
    ).respond_with_json({"id": "1"}, status=201)
    httpserver.expect_ordered_request(
        f"{issue}/FIN-2/comment", method="POST", headers=auth, json={"body": doc(para(CLOSE_WEB))}
    ).respond_with_json({"id": "2"}, status=201)
    httpserver.expect_ordered_request(
        f"{issue}/FIN-2/transitions", method="GET", headers={"Authorization": auth["Authorization"]}
    ).respond_with_json({"transitions": [{"id": "11", "name": "To Do"}, {"id": "31", "name": "Done"}]})
    httpserver.expect_ordered_request(
        f"{issue}/FIN-2/transitions", method="POST", headers=auth, json={"transition": {"id": "31"}}
    ).respond_with_data("", status=204)
    third = sync(wh, s, T1 + timedelta(hours=2))
    done(httpserver)
    assert [(a.action, a.group_key) for a in third] == [("update", "owner:alice"), ("close", "owner:web")]
    assert tickets(wh) == [
        ("jira", "owner:alice", "FIN-1", "open", True, None),
        ("jira", "owner:web", "FIN-2", "closed", True, T1 + timedelta(hours=2)),
    ]
    items = json.loads(wh.execute("SELECT items FROM tickets WHERE group_key = 'owner:alice'").fetchall()[0][0])
    assert sorted(v["resource_id"] for v in items.values()) == ["vol-a", "vol-c"]


# ------------------------------------------------------------------ GitHub


def github_sink(httpserver: HTTPServer, token: str = GITHUB_TOKEN) -> GitHubSink:
    return GitHubSink(repo="acme/finops", token=SecretStr(token), api_url=httpserver.url_for("/").rstrip("/"))


GH_HEADERS = {
    **JSON,
    "Authorization": f"Bearer {GITHUB_TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}


def gh_body(intro: str, lines: list[str]) -> str:
    return intro + "\n\n" + "\n".join(f"- {x}" for x in lines) + "\n\n" + FOOTER + "\n"


def test_github_create_update_and_close(httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection) -> None:
    s = settings(github=github_sink(httpserver))
    issues = "/repos/acme/finops/issues"
    labels = ["spendscope", "orphaned-resources"]
    observe(wh, T0, FIRST)
    for n, (title, intro, lines) in enumerate(
        [(TITLE_ALICE, INTRO_ALICE, [LINE_A, LINE_IP]), (TITLE_WEB, INTRO_WEB, [LINE_B])], 7
    ):
        body = {"title": title, "body": gh_body(intro, lines), "labels": labels}
        httpserver.expect_ordered_request(issues, method="POST", headers=GH_HEADERS, json=body).respond_with_json(
            {"number": n, "html_url": f"https://github.com/acme/finops/issues/{n}"}, status=201
        )
    sync(wh, s, T0 + timedelta(hours=2))
    done(httpserver)
    calls = len(httpserver.log)
    assert [a.action for a in sync(wh, s, T0 + timedelta(hours=3))] == ["unchanged", "unchanged"]
    assert len(httpserver.log) == calls

    observe(wh, T1, LATER)
    comment = {"body": "\n".join(CHANGE_ALICE)}
    httpserver.expect_ordered_request(
        f"{issues}/7/comments", method="POST", headers=GH_HEADERS, json=comment
    ).respond_with_json({"id": 1}, status=201)
    httpserver.expect_ordered_request(
        f"{issues}/8/comments", method="POST", headers=GH_HEADERS, json={"body": CLOSE_WEB}
    ).respond_with_json({"id": 2}, status=201)
    httpserver.expect_ordered_request(
        f"{issues}/8", method="PATCH", headers=GH_HEADERS, json={"state": "closed", "state_reason": "completed"}
    ).respond_with_json({"number": 8, "state": "closed"})
    sync(wh, s, T1 + timedelta(hours=2))
    done(httpserver)
    assert [(t[1], t[2], t[3]) for t in tickets(wh)] == [("owner:alice", "7", "open"), ("owner:web", "8", "closed")]


def test_429_is_retried_after_retry_after(httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection) -> None:
    s = settings(github=github_sink(httpserver))
    observe(wh, T0, FIRST[2:])  # vol-b only: one ticket
    body = {"title": TITLE_WEB, "body": gh_body(INTRO_WEB, [LINE_B]), "labels": ["spendscope", "orphaned-resources"]}
    throttled = Response("", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/repos/acme/finops/issues", method="POST", json=body).respond_with_response(
        throttled
    )
    httpserver.expect_ordered_request(
        "/repos/acme/finops/issues", method="POST", headers=GH_HEADERS, json=body
    ).respond_with_json({"number": 3, "html_url": "https://github.com/acme/finops/issues/3"}, status=201)
    started = time.monotonic()
    (action,) = sync(wh, s, T0 + timedelta(hours=2))
    elapsed = time.monotonic() - started
    done(httpserver)
    assert elapsed >= 1.0  # waited for Retry-After
    assert (action.action, action.external_id) == ("create", "3")
    assert len(httpserver.log) == 2 and len(tickets(wh)) == 1


def test_401_is_a_clear_error_without_the_token(
    httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings(github=github_sink(httpserver, token="ghp_WRONG"))
    observe(wh, T0, FIRST[2:])
    httpserver.expect_request("/repos/acme/finops/issues", method="POST").respond_with_json(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, status=401
    )
    url = httpserver.url_for("/repos/acme/finops/issues")
    with caplog.at_level(logging.INFO), pytest.raises(ExporterError) as err:
        sync(wh, s, T0 + timedelta(hours=2))
    assert str(err.value) == f"POST {url}: HTTP 401: authentication failed; check [tickets.github] token"
    assert "HTTP 401" not in client_log(caplog) and "status=401" in client_log(caplog)
    assert "ghp_WRONG" not in client_log(caplog)
    assert len(httpserver.log) == 1 and tickets(wh) == []  # not retried, nothing recorded


# ------------------------------------------------------------------ ServiceNow and webhook


def test_servicenow_incident_create_work_note_and_resolve(
    httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection
) -> None:
    snow = ServiceNowSink(
        instance_url=httpserver.url_for("/").rstrip("/"),
        user="svc-spendscope",
        password=SecretStr(SNOW_PASSWORD),
        fields={"assignment_group": "FinOps"},
    )
    s = settings(servicenow=snow)
    headers = {**JSON, "Accept": "application/json", "Authorization": basic("svc-spendscope", SNOW_PASSWORD)}
    table = "/api/now/table/incident"
    observe(wh, T0, FIRST[2:])
    create = {
        "assignment_group": "FinOps",
        "short_description": TITLE_WEB,
        "description": f"{INTRO_WEB}\n\n- {LINE_B}\n\n{FOOTER}",
    }
    httpserver.expect_ordered_request(table, method="POST", headers=headers, json=create).respond_with_json(
        {"result": {"sys_id": "9d385017c611228701d22104cc95c371", "number": "INC0010001"}}, status=201
    )
    (created,) = sync(wh, s, T0 + timedelta(hours=2))
    done(httpserver)
    assert created.url == f"{snow.instance_url}/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371"

    observe(wh, T1, [*FIRST[2:], res("vol-d", "ebs_volume", "available", size=10, team="web")])  # 10 × 0.08 = 0.80
    note = [
        "Orphaned resources changed since the last update:",
        "- new: vol-d (unattached disk, aws / 111 / us-east-1): 0.80 USD/month; proposed: snapshot then delete volume",
        "Now: 2 resources, 4.80 USD/month.",
    ]
    record = f"{table}/9d385017c611228701d22104cc95c371"
    httpserver.expect_ordered_request(
        record, method="PATCH", headers=headers, json={"work_notes": "\n".join(note)}
    ).respond_with_json({"result": {}})
    sync(wh, s, T1 + timedelta(hours=2))
    observe(wh, T1 + timedelta(days=1), [res("i-1", "ec2_instance", "running")])  # both volumes gone
    resolve = {
        "close_code": "Solution provided",
        "state": "6",
        "close_notes": "Resolved: every orphaned resource of this ticket is gone (vol-b, vol-d). Closed by spendscope.",
    }
    httpserver.expect_ordered_request(record, method="PATCH", headers=headers, json=resolve).respond_with_json(
        {"result": {}}
    )
    sync(wh, s, T1 + timedelta(days=1, hours=2))
    done(httpserver)
    assert [t[3] for t in tickets(wh)] == ["closed"]


def test_webhook_messages_dry_run_budget_and_delay(
    httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection, caplog: pytest.LogCaptureFixture
) -> None:
    hook = WebhookSink(url=SecretStr(httpserver.url_for(HOOK_PATH)))
    s = settings(webhook=hook, max_per_run=1).model_copy(update={"delay_s": 0.5})
    observe(wh, T0, FIRST)

    planned = sync(wh, s, T0 + timedelta(hours=2), dry_run=True)
    assert [(a.action, a.group_key) for a in planned] == [("create", "owner:alice"), ("deferred", "owner:web")]
    assert httpserver.log == [] and tickets(wh) == []  # a dry run sends and stores nothing

    alice = {"text": f"*{TITLE_ALICE}*\n" + gh_body(INTRO_ALICE, [LINE_A, LINE_IP])}
    web = {"text": f"*{TITLE_WEB}*\n" + gh_body(INTRO_WEB, [LINE_B])}
    httpserver.expect_ordered_request(HOOK_PATH, method="POST", headers=JSON, json=alice).respond_with_data("ok")
    httpserver.expect_ordered_request(HOOK_PATH, method="POST", headers=JSON, json=web).respond_with_data("ok")
    pauses: list[float] = []
    with caplog.at_level(logging.INFO):
        first = sync(wh, s, T0 + timedelta(hours=2), sleep=pauses.append)  # max_per_run = 1: web waits
        assert [a.action for a in first] == ["create", "deferred"] and len(httpserver.log) == 1
        second = sync(wh, s, T0 + timedelta(hours=3), sleep=pauses.append)
    done(httpserver)
    assert [a.action for a in second] == ["create", "unchanged"]
    assert pauses == []  # one operation per sync: no pause needed

    s3 = s.model_copy(update={"max_per_run": 5})
    observe(wh, T1, LATER)
    change = {"text": "*spendscope: 2 orphaned resources of owner alice: 9.60 USD/month*\n" + "\n".join(CHANGE_ALICE)}
    httpserver.expect_ordered_request(HOOK_PATH, method="POST", json=change).respond_with_data("ok")
    httpserver.expect_ordered_request(HOOK_PATH, method="POST", json={"text": CLOSE_WEB}).respond_with_data("ok")
    with caplog.at_level(logging.INFO):
        sync(wh, s3, T1 + timedelta(hours=2), sleep=pauses.append)
    done(httpserver)
    assert pauses == [0.5]  # delay_s between the two operations
    assert "ticket sink=webhook call=POST http://localhost" in client_log(caplog)
    assert HOOK_PATH.rsplit("/", 1)[1] not in client_log(caplog)  # the webhook URL's secret path is never logged
    bodies = [json.dumps(json.loads(req.get_data())) for req, _ in httpserver.log]
    assert not any(secret in b for b in bodies for secret in (HOOK_PATH, JIRA_TOKEN, GITHUB_TOKEN))


def test_cli_sync_dry_run_with_the_webhook_url_from_the_environment(
    httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    observe(wh, T0, FIRST)
    wh.close()
    runner = CliRunner()
    base = ["--warehouse", str(tmp_path / "wh.duckdb")]
    unset = runner.invoke(app, [*base, "tickets", "sync", "--dry-run"])
    assert unset.exit_code == 1
    assert unset.stderr.startswith("error: no ticket sink configured: set [tickets.jira]")

    config = tmp_path / "spendscope.toml"
    config.write_text("[tickets]\ndelay_s = 0\n\n[tickets.webhook]\ndetails = true\n")
    monkeypatch.setenv("SPENDSCOPE_TICKETS__WEBHOOK__URL", httpserver.url_for(HOOK_PATH))
    shown = runner.invoke(app, ["--config", str(config), *base, "config", "show"])
    assert shown.exit_code == 0 and "SECRETSECRET" not in shown.output
    planned = runner.invoke(app, ["--config", str(config), *base, "tickets", "sync", "--dry-run", "--format", "json"])
    assert planned.exit_code == 0, planned.output
    assert [(a["sink"], a["group"], a["action"]) for a in json.loads(planned.stdout)] == [
        ("webhook", "owner:alice", "create"),
        ("webhook", "owner:web", "create"),
    ]
    assert httpserver.log == []
