"""Commitment utilization and coverage: a hand-written bill with an RI, a savings plan and a GCP-style
CUD (figures computed by hand below), the pure basis rules, period scoping, reporting columns, the CLI,
and a generated month checked against the generator's own ground_truth.json through four collectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from spendscope.analysis.commitments import commitment_utilization, run_commitments
from spendscope.analysis.fx import CurrencySettings, run_fx
from spendscope.cli import app
from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from ..conftest import rows, write_parquet

D = Decimal
RI = "arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::111122223333:savingsplan/sp-1"
CUD = "projects/p1/regions/europe-west1/commitments/cud-1"
OWNER = "111122223333"
APP = "444455556666"
FN = "777788889999"
SP_SERVICE = {"ServiceName": "Savings Plans for AWS Compute usage", "ServiceCategory": "Compute"}
LAMBDA = {"ServiceName": "AWS Lambda", "ServiceCategory": "Compute", "ResourceType": "Function"}
GCP = {
    "ProviderName": "Google Cloud",
    "PublisherName": "Google Cloud",
    "InvoiceIssuerName": "Google Cloud",
    "BillingAccountId": "01A2B3-C4D5E6",
    "SubAccountId": "p1",
    "RegionId": "europe-west1",
    "RegionName": "Belgium",
    "ServiceName": "Compute Engine",
    "ResourceType": "instances",
}
NO_PRICE = {"ListUnitPrice": None, "ContractedUnitPrice": None, "PricingCurrencyListUnitPrice": None}


def _one(**over: Any) -> dict[str, Any]:
    row = rows(1, **NO_PRICE, PricingCurrencyContractedUnitPrice=None)[0]
    row.update(over)
    row["PricingCurrencyEffectiveCost"] = row["EffectiveCost"]
    return row


def _commitment(cid: str, name: str, kind: str, category: str, **over: Any) -> dict[str, Any]:
    return _one(
        CommitmentDiscountId=cid,
        CommitmentDiscountName=name,
        CommitmentDiscountType=kind,
        CommitmentDiscountCategory=category,
        PricingCategory="Committed",
        BilledCost="0",
        **over,
    )


def _purchase(**over: Any) -> dict[str, Any]:
    return _one(
        ChargeCategory="Purchase", ChargeFrequency="Recurring", ConsumedQuantity=None, ConsumedUnit=None, **over
    )


# The hand-written bill: one month (2026-10), USD.
HAND_BILL = [
    # RI: 10 hours committed at 1.00/h (amortized). Used 3 × 2 h = 6 h (EffectiveCost 3 × 2.00), unused 4 h (4.00).
    _purchase(
        CommitmentDiscountId=RI,
        CommitmentDiscountName="ri-1",
        CommitmentDiscountType="Reserved Instance",
        CommitmentDiscountCategory="Usage",
        CommitmentDiscountQuantity="10",
        CommitmentDiscountUnit="Hours",
        BilledCost="10.00",
        EffectiveCost="0",
        ListCost="10.00",
        ContractedCost="10.00",
        PricingQuantity="10",
        ResourceId=RI,
        ResourceType="Reserved Instance",
        SubAccountId=OWNER,
    ),
    *[
        _commitment(
            RI,
            "ri-1",
            "Reserved Instance",
            "Usage",
            CommitmentDiscountStatus="Used",
            CommitmentDiscountQuantity="2",
            CommitmentDiscountUnit="Hours",
            EffectiveCost="2.00",
            ListCost="3.20",
            ContractedCost="3.00",
            PricingQuantity="2",
            ResourceId=f"i-ri-{k}",
        )
        for k in range(3)
    ],
    _commitment(
        RI,
        "ri-1",
        "Reserved Instance",
        "Usage",
        CommitmentDiscountStatus="Unused",
        CommitmentDiscountQuantity="4",
        CommitmentDiscountUnit="Hours",
        EffectiveCost="4.00",
        ListCost="6.40",  # an Unused row is never eligible usage
        ContractedCost="6.00",
        PricingQuantity="4",
        ConsumedQuantity=None,
        ResourceId=RI,
        ResourceType="Reserved Instance",
        SubAccountId=OWNER,
    ),
    # Savings plan (spend-based, no quantities): 5.00 committed; covers 1.50 of EC2 and 2.00 of Lambda; 1.50 unused.
    _purchase(
        CommitmentDiscountId=SP,
        CommitmentDiscountName="sp-1",
        CommitmentDiscountType="Savings Plan",
        CommitmentDiscountCategory="Spend",
        BilledCost="5.00",
        EffectiveCost="0",
        ListCost="5.00",
        ContractedCost="5.00",
        PricingQuantity=None,
        PricingUnit=None,
        ResourceId=SP,
        ResourceType="Savings Plan",
        SubAccountId=OWNER,
        **SP_SERVICE,
    ),
    _commitment(
        SP,
        "sp-1",
        "Savings Plan",
        "Spend",
        CommitmentDiscountStatus="Used",
        EffectiveCost="1.50",
        ListCost="2.00",
        ContractedCost="2.00",
        ResourceId="i-sp-1",
    ),
    _commitment(
        SP,
        "sp-1",
        "Savings Plan",
        "Spend",
        CommitmentDiscountStatus="Used",
        EffectiveCost="2.00",
        ListCost=None,  # on-demand equivalent falls back to ContractedCost 2.50
        ContractedCost="2.50",
        ResourceId="fn-1",
        SubAccountId=FN,
        **LAMBDA,
    ),
    _commitment(
        SP,
        "sp-1",
        "Savings Plan",
        "Spend",
        CommitmentDiscountStatus="Unused",
        EffectiveCost="1.50",
        ListCost="0",
        ContractedCost="0",
        ConsumedQuantity=None,
        PricingQuantity=None,
        PricingUnit=None,
        ResourceId=SP,
        ResourceType="Savings Plan",
        SubAccountId=OWNER,
        **SP_SERVICE,
    ),
    # GCP billing-export shape: the fee is a Purchase row naming the commitment only in ResourceId, not
    # amortized (EffectiveCost = BilledCost 8.00) for 100 h; covered usage costs 0 and carries 2 × 30 h.
    _purchase(
        **GCP | {"ResourceType": "commitments"},
        BilledCost="8.00",
        EffectiveCost="8.00",
        ListCost="8.00",
        ContractedCost="8.00",
        PricingQuantity="100",
        ResourceId=CUD,
    ),
    *[
        _commitment(
            CUD,
            "cud-1",
            "Committed Use Discount",
            "Usage",
            **GCP,
            CommitmentDiscountStatus="Used",
            CommitmentDiscountQuantity="30",
            CommitmentDiscountUnit="Hours",
            EffectiveCost="0",
            ListCost="6.00",
            ContractedCost="6.00",
            PricingQuantity="30",
            ResourceId=f"vm-cud-{k}",
        )
        for k in range(2)
    ],
    # On-demand usage.
    _one(ResourceId="i-od-1", BilledCost="3.00", EffectiveCost="3.00", ListCost="4.00", ContractedCost="3.00"),
    _one(
        ResourceId="i-od-2",
        RegionId="us-west-2",
        BilledCost="0.75",
        EffectiveCost="0.75",
        ListCost="1.00",
        ContractedCost="0.75",
    ),
    _one(ResourceId="vol-1", ResourceType="Volume", ListCost="0.80", ContractedCost="0.80"),  # not eligible
    _one(ResourceId="fn-2", SubAccountId=FN, EffectiveCost="0.40", ListCost="0.50", ContractedCost="0.40", **LAMBDA),
    _one(ResourceId="bucket-1", ServiceName="Amazon S3", ServiceCategory="Storage", ResourceType="Bucket"),
    _one(**GCP, ResourceId="vm-od-1", BilledCost="3.00", EffectiveCost="3.00", ListCost="4.00", ContractedCost="3.00"),
]


def _load(wh: duckdb.DuckDBPyConnection, tmp_path: Path, data: list[dict[str, Any]], name: str = "bill") -> None:
    ingest(wh, FocusFiles([str(write_parquet(tmp_path / f"{name}.parquet", data))], source=name))


def _money(frame: pl.DataFrame, key: str, cols: list[str]) -> dict[Any, tuple[Any, ...]]:
    out = {}
    for r in frame.iter_rows(named=True):
        out[r[key]] = tuple(r[c].normalize() if isinstance(r[c], Decimal) else r[c] for c in cols)
    return out


def test_hand_bill_utilization_by_quantity_cost_and_purchase(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    result = run_commitments(wh)
    util = result.utilization
    cols = ["basis", "utilization", "purchase_cost", "committed_cost", "used_cost", "unused_cost"]
    assert _money(util, "CommitmentDiscountId", cols) == {
        # RI: 6 h / (6 + 4) h = 0.6 by quantity; committed 0 + 3 × 2.00 + 4.00 = 10
        RI: ("quantity", pytest.approx(0.6), D("10"), D("10"), D("6"), D("4")),
        # SP: no quantities → by cost, 3.50 / (3.50 + 1.50) = 0.7
        SP: ("cost", pytest.approx(0.7), D("5"), D("5"), D("3.5"), D("1.5")),
        # CUD: not amortized → used 60 h / purchased 100 h = 0.6; committed = the fee's EffectiveCost 8.00
        CUD: ("purchase_quantity", pytest.approx(0.6), D("8"), D("8"), D("0"), D("0")),
    }
    cols = ["used_quantity", "unused_quantity", "committed_quantity", "CommitmentDiscountUnit"]
    assert _money(util, "CommitmentDiscountId", cols) == {
        RI: (D("6"), D("4"), D("10"), "Hours"),
        SP: (None, None, None, None),
        CUD: (D("60"), D("40"), D("100"), "Hours"),  # unused 100 − 2 × 30
    }
    cols = ["unused_commitment_cost", "covered_on_demand_cost", "net_savings"]
    assert _money(util, "CommitmentDiscountId", cols) == {
        RI: (D("4"), D("9.6"), D("-0.4")),  # covered 3 × 3.20 = 9.60; net 9.60 − 10
        SP: (D("1.5"), D("4.5"), D("-0.5")),  # covered 2.00 + 2.50 (ContractedCost) = 4.50; net 4.50 − 5
        CUD: (D("3.2"), D("12"), D("4")),  # unused 8.00 × 40/100 = 3.20; covered 2 × 6.00; net 12 − 8
    }
    # Owner columns come from the Purchase row.
    owners = _money(util, "CommitmentDiscountId", ["SubAccountId", "ServiceName", "CommitmentDiscountName"])
    assert owners[SP] == (OWNER, "Savings Plans for AWS Compute usage", "sp-1")
    assert owners[CUD] == ("p1", "Compute Engine", "cud-1")
    stored = wh.execute(
        "SELECT CommitmentDiscountId, utilization, run_id FROM commitment_utilization ORDER BY 1"
    ).fetchall()
    assert {(c, round(u, 9), r) for c, u, r in stored} == {
        (CUD, 0.6, result.run_id),
        (RI, 0.6, result.run_id),
        (SP, 0.7, result.run_id),
    }
    assert wh.execute("SELECT status FROM analysis_runs WHERE run_id = $r", {"r": result.run_id}).fetchone() == (
        "succeeded",
    )


def test_hand_bill_coverage_per_service_account_and_region(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    cov = run_commitments(wh).coverage
    key = pl.concat_str("ProviderName", "SubAccountId", "RegionId", "ServiceName", separator="|")
    got = _money(
        cov.with_columns(key=key),
        "key",
        [
            "eligible_on_demand_cost",
            "covered_on_demand_cost",
            "coverage",
            "eligible_effective_cost",
            "unused_commitment_cost",
        ],
    )
    assert got == {
        # RI used 3 × 3.20 + SP-covered 2.00 + on-demand i-od-1 4.00 = 15.60 eligible, 11.60 covered;
        # effective 3 × 2.00 + 1.50 + 3.00 = 10.50. The volume (another ResourceType) is not eligible.
        f"AWS|{APP}|us-east-1|Amazon EC2": (D("15.6"), D("11.6"), pytest.approx(11.6 / 15.6), D("10.5"), D("0")),
        # EC2 virtual machines were covered this period, so this region's one is eligible too.
        f"AWS|{APP}|us-west-2|Amazon EC2": (D("1"), D("0"), 0.0, D("0.75"), D("0")),
        # Lambda: covered 2.50 (ContractedCost, no ListCost) + on-demand 0.50 = 3.00
        f"AWS|{FN}|us-east-1|AWS Lambda": (D("3"), D("2.5"), pytest.approx(2.5 / 3), D("2.4"), D("0")),
        # the commitments' Unused rows land where they are billed; nothing there is eligible
        f"AWS|{OWNER}|us-east-1|Amazon EC2": (D("0"), D("0"), None, D("0"), D("4")),
        f"AWS|{OWNER}|us-east-1|Savings Plans for AWS Compute usage": (D("0"), D("0"), None, D("0"), D("1.5")),
        # GCP: 2 × 6.00 covered + 4.00 on demand; effective 0 + 0 + 3.00
        "Google Cloud|p1|europe-west1|Compute Engine": (D("16"), D("12"), 0.75, D("3"), D("0")),
    }
    # Independent route for uncovered: eligible − covered per row, by a query written here.
    checked = wh.execute(
        "SELECT count(*) FROM commitment_coverage "
        "WHERE uncovered_on_demand_cost <> eligible_on_demand_cost - covered_on_demand_cost"
    ).fetchone()
    assert checked == (0,)


def _parts(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "billing_period_start": None,
        "ProviderName": "X",
        "BillingAccountId": "a",
        "SubAccountId": "s",
        "RegionId": "r",
        "ServiceName": "svc",
        "CommitmentDiscountId": "c",
        "CommitmentDiscountName": None,
        "CommitmentDiscountType": None,
        "CommitmentDiscountCategory": None,
        "BillingCurrency": "USD",
        "purchase_cost": D("10"),
        "purchase_effective_cost": D("0"),
        "committed_cost": D("10"),
        "used_cost": D("6"),
        "unused_cost": D("4"),
        "covered_on_demand_cost": D("12"),
        "purchase_rows": 1,
        "usage_rows": 2,
        "unused_rows": 1,
        "quantity_rows": 2,
        "usage_units": 1,
        "usage_unit": "Hours",
        "used_quantity": D("3"),
        "unused_quantity": D("1"),
        "purchase_quantity_rows": 1,
        "purchase_units": 1,
        "purchase_unit": "Hours",
        "purchase_quantity": D("4"),
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("over", "basis", "utilization"),
    [
        ({}, "quantity", 0.75),  # 3 / (3 + 1)
        ({"quantity_rows": 1}, "cost", 0.6),  # one row without a quantity: 6 / (6 + 4)
        ({"usage_units": 2}, "cost", 0.6),  # two units cannot be added
        # not amortized (no Unused rows, the purchase has an EffectiveCost): 3 of 4 purchased hours
        (
            {"unused_rows": 0, "usage_rows": 1, "quantity_rows": 1, "purchase_effective_cost": D("10")},
            "purchase_quantity",
            0.75,
        ),
        # ... but the purchase is in another unit: unknown
        (
            {
                "unused_rows": 0,
                "usage_rows": 1,
                "quantity_rows": 1,
                "purchase_effective_cost": D("10"),
                "purchase_unit": "USD",
            },
            "none",
            None,
        ),
        # amortized and nothing used or unused: unknown
        (
            {
                "used_cost": D("0"),
                "unused_cost": D("0"),
                "used_quantity": None,
                "unused_quantity": None,
                "usage_rows": 0,
                "unused_rows": 0,
                "quantity_rows": 0,
            },
            "none",
            None,
        ),
    ],
)
def test_basis_rules(over: dict[str, Any], basis: str, utilization: float | None) -> None:
    frame = pl.DataFrame(
        [_parts(**over)],
        schema_overrides={k: pl.Decimal(38, 12) for k, v in _parts().items() if isinstance(v, Decimal)},
    )
    out = commitment_utilization(frame.lazy()).collect().row(0, named=True)
    assert out["basis"] == basis
    assert out["utilization"] == (pytest.approx(utilization) if utilization is not None else None)
    if basis == "none":
        assert out["unused_commitment_cost"] is None


def _month(data: list[dict[str, Any]], month: int) -> list[dict[str, Any]]:
    out = []
    for r in data:
        r = dict(r)
        r.update(
            BillingPeriodStart=f"2026-{month:02d}-01T00:00:00Z",
            BillingPeriodEnd=f"2026-{month + 1:02d}-01T00:00:00Z",
            ChargePeriodStart=f"2026-{month:02d}-05T00:00:00Z",
            ChargePeriodEnd=f"2026-{month:02d}-05T01:00:00Z",
        )
        out.append(r)
    return out


def test_a_period_run_replaces_only_its_period(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, _month(HAND_BILL, 10) + _month(HAND_BILL, 11))
    full = run_commitments(wh)
    assert full.utilization.height == 6  # 3 commitments × 2 periods
    nov = run_commitments(wh, period="2026-11")
    assert nov.utilization.height == 3
    by_run = wh.execute(
        "SELECT strftime(billing_period_start, '%Y-%m'), run_id, count(*) FROM commitment_utilization GROUP BY 1, 2 "
        "ORDER BY 1"
    ).fetchall()
    assert by_run == [("2026-10", full.run_id, 3), ("2026-11", nov.run_id, 3)]
    cov = wh.execute(
        "SELECT DISTINCT strftime(billing_period_start, '%Y-%m'), run_id FROM commitment_coverage ORDER BY 1"
    )
    assert cov.fetchall() == [("2026-10", full.run_id), ("2026-11", nov.run_id)]


def test_reporting_columns_at_the_period_start_rate(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load(wh, tmp_path, HAND_BILL)
    rates = tmp_path / "rates.csv"
    # 1 USD = 0.5 EUR from September; 0.8 from 2026-10-02 (after the period's first day: not used)
    rates.write_text("currency,rate,effective_from\nUSD,0.5,2026-09-01\nUSD,0.8,2026-10-02\n")
    run_fx(wh, CurrencySettings(reporting="EUR", fx_rates=rates))
    util = run_commitments(wh).utilization
    ri = util.filter(pl.col("CommitmentDiscountId") == RI).row(0, named=True)
    assert ri["reporting_currency"] == "EUR"
    assert ri["BillingCurrency"] == "USD"
    assert ri["committed_cost"] == D("10")  # the original stays
    assert ri["committed_cost_reporting"] == D("5")  # 10 × 0.5
    assert ri["net_savings_reporting"] == D("-0.2")  # −0.40 × 0.5
    assert wh.execute("SELECT sum(unused_commitment_cost_reporting) FROM commitment_coverage").fetchone() == (
        D("2.75"),  # (4.00 + 1.50) × 0.5
    )


def test_cli_prints_stored_rows_as_flat_json(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    conn = open_warehouse(path)
    try:
        _load(conn, tmp_path, HAND_BILL)
        run_commitments(conn)
    finally:
        conn.close()
    runner = CliRunner()
    result = runner.invoke(app, ["--warehouse", str(path), "commitments", "--period", "2026-10", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = {r["CommitmentDiscountId"]: r for r in json.loads(result.stdout)}
    assert data[SP]["utilization"] == pytest.approx(0.7)
    assert data[SP]["unused_commitment_cost"] == 1.5
    assert data[SP]["BillingCurrency"] == "USD"
    assert data[SP]["period"] == "2026-10"
    result = runner.invoke(app, ["--warehouse", str(path), "commitments", "--view", "coverage", "--format", "csv"])
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(result.stdout.encode())
    assert frame.height == 6
    assert {"ProviderName", "SubAccountId", "RegionId", "ServiceName", "BillingCurrency", "coverage"} <= set(
        frame.columns
    )
    result = runner.invoke(app, ["--warehouse", str(path), "commitments", "--view", "nope"])
    assert result.exit_code == 2


# ------------------------------------------------------------------ a generated month, four collectors


@dataclass(frozen=True)
class Generated:
    root: Path
    truth: list[dict[str, Any]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    from spendscope.generator import generate

    root = tmp_path_factory.mktemp("commitments-gen")
    gen = generate(root, rows=20_000, seed=11, month="2026-10")  # ≥ 4,000 rows a month: all three commit
    return Generated(root, json.loads(gen.ground_truth.read_text())["commitments"])


def _focus(g: Generated, tmp: Path) -> list[Any]:
    return [FocusFiles([str(p) for p in sorted((g.root / "focus").rglob("*.parquet"))], source="generated")]


def _aws_cur(g: Generated, tmp: Path) -> list[Any]:
    from spendscope.collectors.aws.s3 import aws_sources
    from spendscope.generator.cur import write_cur

    return list(aws_sources(str(write_cur(g.root, tmp / "cur").cur2_root)))


def _azure_exports(g: Generated, tmp: Path) -> list[Any]:
    from spendscope.collectors.azure.exports import azure_sources
    from spendscope.generator.azure_exports import write_azure_exports

    write_azure_exports(g.root, tmp / "azure")
    return list(azure_sources(str(tmp / "azure")))


def _gcp_export(g: Generated, tmp: Path) -> list[Any]:
    from spendscope.collectors.gcp.billing import gcp_sources
    from spendscope.generator.gcp_export import write_gcp_export

    return list(gcp_sources(str(write_gcp_export(g.root / "focus" / "gcp" / "2026-10", tmp / "gcp").parquet)))


@pytest.mark.parametrize(
    ("route", "providers", "basis"),
    [
        (_focus, {"aws", "azure", "gcp"}, "quantity"),
        (_aws_cur, {"aws"}, "cost"),  # the CUR has no commitment quantities
        (_azure_exports, {"azure"}, "quantity"),
        (_gcp_export, {"gcp"}, "purchase_quantity"),  # no amortization, no Unused rows in the export
    ],
    ids=["focus", "aws-cur", "azure-exports", "gcp-export"],
)
def test_generated_month_matches_the_generators_commitment_record(
    generated: Generated,
    tmp_path: Path,
    wh: duckdb.DuckDBPyConnection,
    route: Callable[[Generated, Path], list[Any]],
    providers: set[str],
    basis: str,
) -> None:
    for source in route(generated, tmp_path):
        assert ingest(wh, source).status == "loaded"
    util = run_commitments(wh).utilization
    expected = [c for c in generated.truth if c["provider"] in providers]
    assert {c["provider"] for c in expected} == providers
    assert util.height == len(expected)
    for c in expected:
        [row] = util.filter(pl.col("CommitmentDiscountId") == c["CommitmentDiscountId"]).iter_rows(named=True)
        assert row["basis"] == basis
        assert row["utilization"] == pytest.approx(c["utilization"], abs=1e-6)  # the record rounds to 6 places
        assert row["purchase_cost"] == D(c["purchase_billed_cost"])
        assert row["committed_cost"] == D(c["purchase_billed_cost"])
        assert row["unused_commitment_cost"] == D(c["unused_effective_cost"])
        if basis != "purchase_quantity":  # the export has no amortized used cost (covered usage costs 0)
            assert row["used_cost"] == D(c["used_effective_cost"])
