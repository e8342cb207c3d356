"""Untagged spend: a hand-written bill through the warehouse, expected figures computed by hand."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from pydantic import ValidationError

from spendscope.analysis.untagged import TagPolicy, run_untagged, untagged_spend
from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest

from ..conftest import rows, write_csv

D = Decimal
POLICY = TagPolicy(required_keys=["team", "Env"], allowed_values={"env": ["prod", "dev", "staging"]})


def _row(rid: str | None, cost: str, tags: str | None, *, day: str = "05", **over: Any) -> dict[str, Any]:
    row = rows(
        1,
        ResourceId=rid,
        BilledCost=cost,
        EffectiveCost=cost,
        Tags=tags,
        ChargePeriodStart=f"2026-10-{day}T00:00:00Z",
        ChargePeriodEnd=f"2026-10-{day}T01:00:00Z",
    )[0]
    row.update(over)
    return row


S3 = {"ServiceName": "Amazon S3", "ServiceCategory": "Storage", "ServiceSubcategory": "Object Storage"}
EUR = {"BillingCurrency": "EUR", "PricingCurrency": "EUR", "SubAccountId": "C"}
# October 2026. Accounts A (EC2) and B (S3) in USD, C (EC2) in EUR.
HAND_BILL = [
    _row("r1", "10.00", '{"team": "payments", "env": "prod"}', SubAccountId="A"),  # tagged
    _row("r2", "4.00", '{"Team": "search", "ENV": " Prod "}', SubAccountId="A"),  # tagged: key and value case
    _row("r3", "6.00", None, day="06", SubAccountId="A"),  # untagged: no Tags
    _row("r4", "3.00", '{"team": "ml"}', day="06", SubAccountId="B", **S3),  # mistagged: env missing
    _row("r5", "2.00", '{"team": "ml", "env": "qa"}', day="06", SubAccountId="B", **S3),  # mistagged: qa not allowed
    _row("r6", "5.00", '{"team": "  ", "owner": "x"}', SubAccountId="B", **S3),  # untagged: blank team, no env
    _row(None, "1.50", None, ChargeCategory="Tax", SubAccountId="A"),  # untaggable
    _row(None, "-2.00", None, ChargeCategory="Credit", SubAccountId="A"),  # untaggable
    _row(None, "3.00", None, ServiceName="AWS Support", ServiceSubcategory="Support", SubAccountId="A"),  # untaggable
    _row("r7", "8.00", None, **EUR),  # EUR untagged
    _row("r8", "2.00", '{"team": "data", "env": "dev"}', **EUR),  # EUR tagged
    # November: outside the period asked for.
    _row(
        "r9",
        "100.00",
        None,
        BillingPeriodStart="2026-11-01T00:00:00Z",
        BillingPeriodEnd="2026-12-01T00:00:00Z",
        ChargePeriodStart="2026-11-03T00:00:00Z",
        ChargePeriodEnd="2026-11-03T01:00:00Z",
    ),
]


def _load(wh: duckdb.DuckDBPyConnection, tmp_path: Path, data: list[dict[str, Any]]) -> None:
    ingest(wh, FocusFiles([str(write_csv(tmp_path / "bill.csv", data))], source="bill"))


def _money(frame: pl.DataFrame, keys: list[str], column: str) -> dict[tuple[Any, ...], Decimal]:
    return {tuple(r[k] for k in keys): r[column].normalize() for r in frame.iter_rows(named=True)}


def test_hand_bill_money_and_percent(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    result = untagged_spend(wh, POLICY, period="2026-10", top_n=3)

    s = {r["currency"]: r for r in result.summary.iter_rows(named=True)}
    assert set(s) == {"USD", "EUR"}
    # USD taggable: r1 10 + r2 4 + r3 6 + r4 3 + r5 2 + r6 5 = 30 (tax, credit, support left out).
    assert s["USD"]["EffectiveCost"] == D("30")
    assert s["USD"]["untagged_cost"] == D("11")  # r3 6 + r6 5
    assert s["USD"]["mistagged_cost"] == D("5")  # r4 3 + r5 2
    assert s["USD"]["noncompliant_cost"] == D("16")  # 11 + 5
    assert s["USD"]["noncompliant_pct"] == pytest.approx(16 / 30 * 100)  # 53.33 %
    assert s["USD"]["untaggable_cost"] == D("2.5")  # tax 1.50 - credit 2.00 + support 3.00
    # EUR: r7 8 untagged of 8 + 2 = 10 → 80 %; nothing untaggable.
    assert (s["EUR"]["EffectiveCost"], s["EUR"]["noncompliant_cost"]) == (D("10"), D("8"))
    assert s["EUR"]["noncompliant_pct"] == pytest.approx(80.0)
    assert s["EUR"]["untaggable_cost"] == D("0")

    by = result.by_account_service
    keys = ["SubAccountId", "ServiceName", "currency"]
    assert _money(by, keys, "EffectiveCost") == {
        ("A", "Amazon EC2", "USD"): D("20"),  # r1 10 + r2 4 + r3 6 (support and tax are not here)
        ("B", "Amazon S3", "USD"): D("10"),  # r4 3 + r5 2 + r6 5
        ("C", "Amazon EC2", "EUR"): D("10"),  # r7 8 + r8 2
    }
    assert _money(by, keys, "noncompliant_cost") == {
        ("A", "Amazon EC2", "USD"): D("6"),  # r3
        ("B", "Amazon S3", "USD"): D("10"),  # r4 3 + r5 2 + r6 5
        ("C", "Amazon EC2", "EUR"): D("8"),  # r7
    }
    pct = {(r["SubAccountId"], r["currency"]): r["noncompliant_pct"] for r in by.iter_rows(named=True)}
    assert pct == {("A", "USD"): pytest.approx(30.0), ("B", "USD"): pytest.approx(100.0), ("C", "EUR"): 80.0}

    day = result.by_day
    days = {(str(r["day"]), r["currency"]): r for r in day.iter_rows(named=True)}
    # USD on the 5th: r1 10 + r2 4 + r6 5 = 19, noncompliant r6 5 → 5/19; on the 6th: r3 6 + r4 3 + r5 2 = 11, all bad.
    assert days["2026-10-05", "USD"]["EffectiveCost"] == D("19")
    assert days["2026-10-05", "USD"]["noncompliant_pct"] == pytest.approx(5 / 19 * 100)
    assert days["2026-10-06", "USD"]["noncompliant_cost"] == D("11")
    assert days["2026-10-06", "USD"]["noncompliant_pct"] == pytest.approx(100.0)
    assert set(days) == {("2026-10-05", "USD"), ("2026-10-06", "USD"), ("2026-10-05", "EUR")}  # no November

    top = result.top_resources
    # USD by noncompliant cost: r3 6, r6 5, r4 3, (r5 2 cut by top_n=3); EUR: r7 8.
    assert [
        (r["currency"], r["ResourceId"], r["noncompliant_cost"].normalize()) for r in top.iter_rows(named=True)
    ] == [
        ("EUR", "r7", D("8")),
        ("USD", "r3", D("6")),
        ("USD", "r6", D("5")),
        ("USD", "r4", D("3")),
    ]

    # Untaggable charges are reported apart and never appear as offenders.
    assert _money(result.untaggable, ["ChargeCategory", "ServiceName", "currency"], "EffectiveCost") == {
        ("Tax", "Amazon EC2", "USD"): D("1.5"),
        ("Credit", "Amazon EC2", "USD"): D("-2"),
        ("Usage", "AWS Support", "USD"): D("3"),
    }
    assert top["ResourceId"].null_count() == 0


def test_every_period_and_keys_with_json_pointer_characters(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    data = [
        _row("a", "7.00", '{"Cost/Center": "42", "x~y": "z"}'),  # both keys present (escaped as ~1 and ~0)
        _row("b", "3.00", '{"cost/center": "43"}'),  # x~y missing → mistagged
        HAND_BILL[-1],  # November, 100 untagged
    ]
    _load(wh, tmp_path, data)
    result = untagged_spend(wh, TagPolicy(required_keys=["cost/center", "X~Y"]), period=None)
    row = result.summary.row(0, named=True)
    # Every period: 7 + 3 + 100 = 110 taggable; untagged November 100, mistagged b 3 → 103 / 110.
    assert (row["EffectiveCost"], row["untagged_cost"], row["mistagged_cost"]) == (D("110"), D("100"), D("3"))
    assert row["noncompliant_pct"] == pytest.approx(103 / 110 * 100)


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match="not required"):
        TagPolicy(required_keys=["team"], allowed_values={"env": ["prod"]})
    with pytest.raises(ValidationError, match="repeat"):
        TagPolicy(required_keys=["team", "Team"])
    with pytest.raises(ValidationError):
        TagPolicy(required_keys=[])


def test_run_untagged_stores_the_period_and_replaces_it(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    run_untagged(wh, POLICY, period=None, top_n=2)
    stored = wh.execute(
        "SELECT strftime(billing_period_start, '%Y-%m'), currency, status, sum(EffectiveCost) FROM untagged_daily "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    # By hand from HAND_BILL: October USD tagged r1 10 + r2 4, untagged r3 6 + r6 5, mistagged r4 3 + r5 2,
    # untaggable 1.50 - 2.00 + 3.00; EUR tagged r8 2, untagged r7 8; November USD untagged r9 100.
    assert [(p, c, st, v.normalize()) for p, c, st, v in stored] == [
        ("2026-10", "EUR", "tagged", D("2")),
        ("2026-10", "EUR", "untagged", D("8")),
        ("2026-10", "USD", "mistagged", D("5")),
        ("2026-10", "USD", "tagged", D("14")),
        ("2026-10", "USD", "untaggable", D("2.5")),
        ("2026-10", "USD", "untagged", D("11")),
        ("2026-11", "USD", "untagged", D("100")),
    ]
    top = wh.execute(
        "SELECT strftime(billing_period_start, '%Y-%m'), currency, rank, ResourceId FROM untagged_resources "
        "ORDER BY ALL"
    ).fetchall()
    assert top == [
        ("2026-10", "EUR", 1, "r7"),
        ("2026-10", "USD", 1, "r3"),
        ("2026-10", "USD", 2, "r6"),
        ("2026-11", "USD", 1, "r9"),
    ]
    # Re-running October under a policy that accepts everything replaces October only, in one run.
    run_id, _ = run_untagged(wh, TagPolicy(required_keys=["team"]), period="2026-10")
    after = wh.execute(
        "SELECT strftime(billing_period_start, '%Y-%m'), run_id = $r, count(*) FROM untagged_daily GROUP BY ALL "
        "ORDER BY ALL",
        {"r": run_id},
    ).fetchall()
    assert [(p, mine) for p, mine, _ in after] == [("2026-10", True), ("2026-11", False)]
    assert wh.execute("SELECT count(*) FROM untagged_resources WHERE ResourceId = 'r9'").fetchone() == (1,)
