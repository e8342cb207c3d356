"""The generated AWS bill written as CUR 2.0 and legacy CUR: S3 layout, manifests, line item types, the
invoice and amortization invariants (SQL over the CUR files, compared with SQL over the FOCUS files),
restatement, and a round trip through S3 (moto) into spendscope's own AWS collector."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.aws.s3 import aws_sources
from spendscope.errors import ConfigError
from spendscope.generator import generate
from spendscope.generator.cur import CurResult, Delivery, upload_tree, write_cur
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from tests.servers.moto import MotoServer

D = Decimal
ByKey = dict[tuple[str, str], tuple[Decimal, Decimal]]
"""(period, usage account) → (billed, amortized)."""
CENT_MILLIONTH = D("0.000001")
RESTATED, PLAIN = "2026-10", "2026-11"
ROWS_PER_FILE = 1500  # small, so each period is several chunk files

# The standard amortized cost of CUR line items (AWS's documented semantics; the FinOps Foundation's
# CUR→FOCUS EffectiveCost), written here independently of spendscope's code.
AMORTIZED = """CASE {type}
    WHEN 'DiscountedUsage' THEN {re}
    WHEN 'SavingsPlanCoveredUsage' THEN {sp}
    WHEN 'SavingsPlanNegation' THEN 0
    WHEN 'RIFee' THEN {ua} + {ur}
    WHEN 'SavingsPlanRecurringFee' THEN {tc} - {uc}
    ELSE {u} END"""
CUR2 = {
    "type": "line_item_line_item_type",
    "u": "line_item_unblended_cost",
    "re": "reservation_effective_cost",
    "sp": "savings_plan_savings_plan_effective_cost",
    "ua": "reservation_unused_amortized_upfront_fee_for_billing_period",
    "ur": "reservation_unused_recurring_fee",
    "tc": "savings_plan_total_commitment_to_date",
    "uc": "savings_plan_used_commitment",
    "account": "line_item_usage_account_id",
    "period": "strftime(bill_billing_period_start_date, '%Y-%m')",
}
LEGACY = {
    "type": '"lineItem/LineItemType"',
    "u": 'CAST("lineItem/UnblendedCost" AS DECIMAL(38, 12))',
    "re": 'CAST("reservation/EffectiveCost" AS DECIMAL(38, 12))',
    "sp": 'CAST("savingsPlan/SavingsPlanEffectiveCost" AS DECIMAL(38, 12))',
    "ua": 'CAST("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod" AS DECIMAL(38, 12))',
    "ur": 'CAST("reservation/UnusedRecurringFee" AS DECIMAL(38, 12))',
    "tc": 'CAST("savingsPlan/TotalCommitmentToDate" AS DECIMAL(38, 12))',
    "uc": 'CAST("savingsPlan/UsedCommitment" AS DECIMAL(38, 12))',
    "account": '"lineItem/UsageAccountId"',
    "period": 'left("bill/BillingPeriodStartDate", 7)',
}


def cur_totals(files: list[Path], cols: dict[str, str]) -> ByKey:
    """(period, usage account) → (Σ unblended, Σ amortized), by SQL over CUR files (all text for CSV)."""
    paths = ", ".join(f"'{f}'" for f in files)
    src = (
        f"read_parquet([{paths}])"
        if cols is CUR2
        else f"read_csv([{paths}], header = true, all_varchar = true, nullstr = '')"
    )
    sql = (
        f"SELECT {cols['period']}, {cols['account']}, sum({cols['u']}), sum({AMORTIZED.format(**cols)}) "
        f"FROM {src} GROUP BY ALL ORDER BY ALL"
    )
    return {(p, a): (D(str(b)), D(str(e))) for p, a, b, e in duckdb.connect().execute(sql).fetchall()}


def focus_totals(bill: Path) -> ByKey:
    rows = duckdb.connect().execute(
        "SELECT strftime(BillingPeriodStart, '%Y-%m'), SubAccountId, sum(BilledCost), sum(EffectiveCost) "
        "FROM read_parquet($f) GROUP BY ALL ORDER BY ALL",
        {"f": str(bill / "focus" / "aws" / "*" / "*.parquet")},
    )
    return {(p, a): (b, e) for p, a, b, e in rows.fetchall()}


def assert_close(got: ByKey, want: ByKey, tol: Decimal) -> None:
    assert got.keys() == want.keys()
    for k in want:
        assert abs(got[k][0] - want[k][0]) <= tol and abs(got[k][1] - want[k][1]) <= tol, (k, got[k], want[k])


@pytest.fixture(scope="module")
def bill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bill")
    generate(out, rows=12_000, seed=11, month=RESTATED, months=2)
    return out


@pytest.fixture(scope="module")
def cur(bill: Path, tmp_path_factory: pytest.TempPathFactory) -> CurResult:
    return write_cur(bill, tmp_path_factory.mktemp("cur"), restate=RESTATED, rows_per_file=ROWS_PER_FILE)


def files_of(root: Path, keys: tuple[str, ...]) -> list[Path]:
    return [root / k for k in keys]


def delivery(cur: CurResult, fmt: str, period: str, number: int) -> Delivery:
    (d,) = [d for d in cur.deliveries if (d.format, d.period, d.number) == (fmt, period, number)]
    return d


# ------------------------------------------------------------------ layout and manifests


def test_cur2_layout_and_manifest_list_exactly_the_data_files(cur: CurResult) -> None:
    export = cur.cur2_root / "exports" / "spendscope-cur2"
    for period in (RESTATED, PLAIN):
        present = sorted(p.relative_to(cur.cur2_root).as_posix() for p in (export / "data").rglob("*") if p.is_file())
        manifest_path = export / "metadata" / f"BILLING_PERIOD={period}" / "spendscope-cur2-Manifest.json"
        assert cur.cur2_manifests[period] == manifest_path
        manifest = json.loads(manifest_path.read_text())
        in_period = [k for k in present if f"/BILLING_PERIOD={period}/" in k]
        assert sorted(manifest["dataFiles"]) == in_period and len(in_period) >= 2  # chunked
        assert all(re.fullmatch(r".*/spendscope-cur2-\d{5}\.snappy\.parquet", k) for k in in_period)
        assert in_period[0].endswith("-00001.snappy.parquet")
        assert manifest["billingPeriod"]["start"] == f"{period}-01T00:00:00.000Z"
        assert manifest["exportName"] == "spendscope-cur2" and manifest["exportArn"].startswith(
            "arn:aws:bcm-data-exports:"
        )
        assert manifest["executionId"] == delivery(cur, "cur2", period, 2 if period == RESTATED else 1).delivery_id
        # the manifest's columns are the files' columns, with the types AWS documents
        schema = duckdb.connect().execute(
            "SELECT name, type FROM parquet_schema($f) WHERE name <> 'schema'",
            {"f": str(cur.cur2_root / in_period[0])},
        )
        file_cols = {n: t for n, t in schema.fetchall()}
        types = {c["name"]: c["type"] for c in manifest["columns"]}
        assert set(types) <= set(file_cols)
        assert types["line_item_unblended_cost"] == "double" and file_cols["line_item_unblended_cost"] == "DOUBLE"
        assert types["line_item_usage_start_date"] == "timestamp" and types["product"] == "map<string,string>"
        assert types["resource_tags"] == "map<string,string>" and types["line_item_unblended_rate"] == "string"


def test_legacy_layout_each_assembly_manifest_lists_its_files(cur: CurResult) -> None:
    report = cur.legacy_root / "exports" / "spendscope-legacy"
    assert sorted(p.name for p in report.iterdir()) == ["20261001-20261101", "20261101-20261201"]
    for folder in report.iterdir():
        assemblies = [d for d in folder.iterdir() if d.is_dir()]
        assert len(assemblies) == (2 if folder.name.startswith("202610") else 1)
        for assembly in assemblies:
            manifest = json.loads((assembly / "spendscope-legacy-Manifest.json").read_text())
            data = sorted(p.relative_to(cur.legacy_root).as_posix() for p in assembly.glob("*.csv.gz"))
            assert sorted(manifest["reportKeys"]) == data and len(data) >= 2
            assert manifest["assemblyId"] == assembly.name and manifest["compression"] == "GZIP"
            assert manifest["contentType"] == "text/csv" and manifest["reportName"] == "spendscope-legacy"
            assert manifest["billingPeriod"]["start"] == f"{folder.name[:8]}T000000.000Z"
            assert re.fullmatch(r"\d{8}T000000\.000Z", manifest["billingPeriod"]["end"])
            assert {"category", "name", "type"} == set(manifest["columns"][0])
        current = json.loads((folder / "spendscope-legacy-Manifest.json").read_text())
        newest = max(assemblies, key=lambda a: (a / "spendscope-legacy-Manifest.json").stat().st_mtime)
        assert current == json.loads((newest / "spendscope-legacy-Manifest.json").read_text())


def test_legacy_csv_header_is_category_slash_name_and_parses(cur: CurResult) -> None:
    d = delivery(cur, "legacy", PLAIN, 1)
    first = cur.legacy_root / d.data_keys[0]
    with gzip.open(first, "rt") as fh:
        header = fh.readline().rstrip("\n").split(",")
    for expected in (
        "identity/LineItemId",
        "bill/PayerAccountId",
        "lineItem/UnblendedCost",
        "lineItem/LineItemType",
        "reservation/EffectiveCost",
        "reservation/ReservationARN",
        "savingsPlan/SavingsPlanEffectiveCost",
        "pricing/publicOnDemandCost",
        "product/ProductName",
        "resourceTags/user:team",
        "resourceTags/user:cost-center",
    ):
        assert expected in header
    assert all(
        re.fullmatch(r"(identity|bill|lineItem|product|pricing|reservation|savingsPlan|resourceTags)/\S+", h)
        for h in header
    )
    manifest = json.loads((cur.legacy_root / d.manifest_keys[0]).read_text())
    assert [f"{c['category']}/{c['name']}" for c in manifest["columns"]] == header
    con = duckdb.connect()
    legacy = ", ".join(f"'{f}'" for f in files_of(cur.legacy_root, d.data_keys))
    cur2 = ", ".join(f"'{f}'" for f in files_of(cur.cur2_root, delivery(cur, "cur2", PLAIN, 1).data_keys))
    counted = con.execute(
        f'SELECT count(*), count(DISTINCT "identity/LineItemId") FROM read_csv([{legacy}], header = true)'
    ).fetchone()
    assert counted == con.execute(f"SELECT count(*), count(*) FROM read_parquet([{cur2}])").fetchone()
    assert counted == (d.totals.rows, d.totals.rows)


# ------------------------------------------------------------------ invariants


@pytest.mark.parametrize("fmt", ["cur2", "legacy"])
def test_invoice_and_amortized_cost_match_focus_per_period_and_account(bill: Path, cur: CurResult, fmt: str) -> None:
    root, cols = (cur.cur2_root, CUR2) if fmt == "cur2" else (cur.legacy_root, LEGACY)
    tol = D(0) if fmt == "legacy" else CENT_MILLIONTH  # legacy CSV: the decimals as text; CUR 2.0: doubles
    # the original deliveries: legacy keeps October's first assembly, CUR 2.0 overwrote it (test_restatement)
    periods = (RESTATED, PLAIN) if fmt == "legacy" else (PLAIN,)
    got: ByKey = {}
    for period in periods:
        d = delivery(cur, fmt, period, 1)
        mine = cur_totals(files_of(root, d.data_keys), cols)
        assert_close(mine, {(period, a): v for a, v in d.totals.by_account.items()}, tol)  # = what write_cur reports
        got |= mine
    want = {k: v for k, v in focus_totals(bill).items() if k[0] in periods}
    assert_close(got, want, tol)
    # the RI makes billed and amortized differ per account: the owner pays the fee, the staging account uses it
    assert any(b != e for b, e in want.values())


def test_line_item_types_map_back_from_focus(bill: Path, cur: CurResult) -> None:
    con = duckdb.connect()
    focus = con.execute(
        "SELECT count(*) FILTER (WHERE CommitmentDiscountStatus = 'Used'), "
        "sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), "
        "sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), "
        "sum(PricingQuantity) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), "
        "count(*) FILTER (WHERE ChargeCategory = 'Purchase'), count(*) FILTER (WHERE ChargeCategory = 'Tax'), "
        "count(*) FILTER (WHERE ChargeCategory = 'Credit'), "
        "count(*) FILTER (WHERE ServiceName LIKE 'AWS Support%' AND ChargeCategory = 'Usage'), "
        "count(DISTINCT CommitmentDiscountType) FROM read_parquet($f) WHERE strftime(BillingPeriodStart, '%Y-%m') = $p",
        {"f": str(bill / "focus" / "aws" / "*" / "*.parquet"), "p": PLAIN},
    ).fetchone()
    files = ", ".join(f"'{f}'" for f in cur.cur2_files[PLAIN])
    got = con.execute(
        "SELECT count(*) FILTER (WHERE line_item_line_item_type = 'DiscountedUsage'), "
        "sum(reservation_effective_cost) FILTER (WHERE line_item_line_item_type = 'DiscountedUsage'), "
        "sum(reservation_unused_recurring_fee), sum(reservation_unused_quantity), "
        "count(*) FILTER (WHERE line_item_line_item_type = 'RIFee'), "
        "count(*) FILTER (WHERE line_item_line_item_type = 'Tax'), "
        "count(*) FILTER (WHERE line_item_line_item_type = 'Credit'), "
        "count(*) FILTER (WHERE line_item_line_item_type = 'Fee'), 1 "
        f"FROM read_parquet([{files}])"
    ).fetchone()
    assert focus is not None and got is not None and focus[0] > 0 and focus[4] == 1
    assert got[0] == focus[0] and got[4:] == focus[4:]
    assert abs(D(str(got[1])) - focus[1]) < CENT_MILLIONTH and abs(D(str(got[2])) - focus[2]) < CENT_MILLIONTH
    assert D(str(got[3])) == focus[3]
    checks = con.execute(
        "SELECT bool_and(line_item_unblended_cost = 0 AND pricing_public_on_demand_cost > 0 "
        "AND pricing_term = 'Reserved' AND reservation_reservation_a_r_n LIKE 'arn:aws:ec2:%:reserved-instances/%') "
        "FILTER (WHERE line_item_line_item_type = 'DiscountedUsage'), "
        "bool_and(pricing_term = 'OnDemand') FILTER (WHERE line_item_line_item_type = 'Usage'), "
        "bool_and(line_item_product_code = 'AWSSupportBusiness') FILTER (WHERE line_item_line_item_type = 'Fee'), "
        "bool_and(map_keys(resource_tags) = list_filter(map_keys(resource_tags), k -> k LIKE 'user\\_%' ESCAPE '\\')), "
        "count(*) FILTER (WHERE resource_tags['user_team'] IS NOT NULL) "
        f"FROM read_parquet([{files}])"
    ).fetchone()
    assert checks is not None and checks[:4] == (True, True, True, True) and checks[4] > 0


def test_savings_plan_commitment(bill: Path, tmp_path: Path) -> None:
    """The generator's world has one commitment, an AWS Reserved Instance. The Savings Plan line item types
    are checked on a copy of the FOCUS bill whose commitment is relabelled as a Compute Savings Plan."""
    sp_dir = tmp_path / "focus" / "aws"
    con = duckdb.connect()
    for period in (RESTATED, PLAIN):
        (sp_dir / period).mkdir(parents=True)
        ri, sp = "'^arn:aws:ec2:[^:]+:(\\d+):reserved-instances/'", "'arn:aws:savingsplans::\\1:savingsplan/'"
        commitment_rows = "ChargeCategory = 'Purchase' OR CommitmentDiscountStatus = 'Unused'"
        con.execute(
            "COPY (SELECT * REPLACE ("
            "CASE WHEN CommitmentDiscountId IS NOT NULL THEN 'Savings Plan' END AS CommitmentDiscountType, "
            "CASE WHEN CommitmentDiscountId IS NOT NULL THEN 'Spend' END AS CommitmentDiscountCategory, "
            f"regexp_replace(CommitmentDiscountId, {ri}, {sp}) AS CommitmentDiscountId, "
            f"CASE WHEN {commitment_rows} THEN regexp_replace(ResourceId, {ri}, {sp}) ELSE ResourceId END "
            "AS ResourceId) "
            f"FROM read_parquet('{bill}/focus/aws/{period}/*.parquet')) "
            f"TO '{sp_dir / period / 'part-00000.parquet'}' (FORMAT parquet)"
        )
    result = write_cur(tmp_path, tmp_path / "out")
    files = [f for p in result.periods for f in result.cur2_files[p]]
    assert_close(cur_totals(files, CUR2), focus_totals(tmp_path), CENT_MILLIONTH)
    legacy = [f for p in result.periods for f in result.legacy_files[p]]
    assert_close(cur_totals(legacy, LEGACY), focus_totals(tmp_path), D(0))
    src = ", ".join(f"'{f}'" for f in files)
    kinds = dict(
        con.execute(f"SELECT line_item_line_item_type, count(*) FROM read_parquet([{src}]) GROUP BY 1").fetchall()
    )
    assert "DiscountedUsage" not in kinds and "RIFee" not in kinds
    assert (
        kinds["SavingsPlanCoveredUsage"] == kinds["SavingsPlanNegation"] > 0 and kinds["SavingsPlanRecurringFee"] == 2
    )
    pairs = con.execute(
        "SELECT sum(line_item_unblended_cost) AS net, bool_and(savings_plan_savings_plan_a_r_n LIKE "
        "'arn:aws:savingsplans::%') AS arn FROM read_parquet([" + src + "]) WHERE line_item_line_item_type IN "
        "('SavingsPlanCoveredUsage', 'SavingsPlanNegation') GROUP BY line_item_resource_id, line_item_usage_start_date"
    ).fetchall()
    assert pairs and all(abs(net) < 1e-9 and arn for net, arn in pairs)  # usage nets to its FOCUS BilledCost, 0
    fee = con.execute(
        "SELECT sum(savings_plan_total_commitment_to_date - savings_plan_used_commitment) FROM read_parquet(["
        + src
        + "]) WHERE line_item_line_item_type = 'SavingsPlanRecurringFee'"
    ).fetchone()
    unused = con.execute(
        "SELECT sum(EffectiveCost) FROM read_parquet($f) WHERE CommitmentDiscountStatus = 'Unused'",
        {"f": str(sp_dir / "*" / "*.parquet")},
    ).fetchone()
    assert fee is not None and unused is not None and abs(D(str(fee[0])) - unused[0]) < CENT_MILLIONTH


# ------------------------------------------------------------------ determinism and restatement


def test_same_input_same_bytes(bill: Path, cur: CurResult, tmp_path: Path) -> None:
    again = write_cur(bill, tmp_path, restate=RESTATED, rows_per_file=ROWS_PER_FILE)
    for root, other in ((cur.cur2_root, again.cur2_root), (cur.legacy_root, again.legacy_root)):
        mine = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
        assert mine == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
        for rel in mine:
            assert (root / rel).read_bytes() == (other / rel).read_bytes(), rel
    assert again.totals == cur.totals


def test_restatement_is_a_newer_delivery_with_a_late_credit(bill: Path, cur: CurResult) -> None:
    first, second = (delivery(cur, "legacy", RESTATED, n) for n in (1, 2))
    assert first.delivery_id != second.delivery_id and second.delivered_at > first.delivered_at
    credit = second.totals.billed - first.totals.billed
    assert credit < 0 and second.totals.amortized - first.totals.amortized == credit
    assert second.totals.rows == first.totals.rows + 1
    # legacy: the old assembly stays; the period manifest now names the new one, and is newer
    old_m, new_m, current = (cur.legacy_root / k for k in (*first.manifest_keys[:1], *second.manifest_keys))
    assert old_m.exists() and json.loads(current.read_text())["assemblyId"] == second.delivery_id
    assert old_m.stat().st_mtime < new_m.stat().st_mtime == current.stat().st_mtime
    assert all((cur.legacy_root / k).exists() for k in first.data_keys)
    focus = {k: v for k, v in focus_totals(bill).items() if k[0] == RESTATED}
    assert cur_totals(files_of(cur.legacy_root, first.data_keys), LEGACY) == focus  # delivery 1: the FOCUS bill
    restated = cur_totals(files_of(cur.legacy_root, second.data_keys), LEGACY)
    diff = {k: (restated[k][0] - focus[k][0], restated[k][1] - focus[k][1]) for k in focus}
    assert sorted(v for v in diff.values() if v != (D(0), D(0))) == [(credit, credit)]
    # CUR 2.0: same keys, overwritten; the manifest is the restatement's
    c1, c2 = (delivery(cur, "cur2", RESTATED, n) for n in (1, 2))
    assert c1.data_keys == c2.data_keys[: len(c1.data_keys)]
    manifest = json.loads(cur.cur2_manifests[RESTATED].read_text())
    assert manifest["executionId"] == c2.delivery_id != c1.delivery_id
    assert_close(cur_totals(files_of(cur.cur2_root, c2.data_keys), CUR2), restated, CENT_MILLIONTH)
    files = ", ".join(f"'{f}'" for f in files_of(cur.cur2_root, c2.data_keys))
    late = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet([{files}]) WHERE line_item_line_item_description LIKE '%booked late%'"
    )
    assert late.fetchone() == (1,)


def test_bad_arguments(bill: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot restate 2027-01"):
        write_cur(bill, tmp_path, restate="2027-01")
    with pytest.raises(ConfigError, match="no AWS FOCUS bill"):
        write_cur(tmp_path, tmp_path / "out")


# ------------------------------------------------------------------ S3 (moto) and the AWS collector


def test_s3_round_trip_and_collector(cur: CurResult, moto: MotoServer, tmp_path: Path) -> None:
    s3 = moto.client("s3")
    uploaded = upload_tree(cur.cur2_root, bucket="billing", s3_client=s3)
    uploaded += upload_tree(cur.legacy_root, bucket="billing", s3_client=s3)  # bucket exists now
    local = [p.relative_to(r).as_posix() for r in (cur.cur2_root, cur.legacy_root) for p in r.rglob("*") if p.is_file()]
    listed = [
        o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="billing") for o in page["Contents"]
    ]
    assert sorted(listed) == sorted(uploaded) == sorted(local)
    manifest = json.loads(s3.get_object(Bucket="billing", Key=cur.deliveries[-2].manifest_keys[0])["Body"].read())
    assert set(manifest["dataFiles"]) <= set(listed)
    # spendscope's AWS collector reads the latest delivery of each period and gets the invoice back
    for root in ("exports/spendscope-cur2", "exports/spendscope-legacy"):
        wh = open_warehouse(tmp_path / f"{root.rsplit('/', 1)[1]}.duckdb")
        [source] = aws_sources(f"s3://billing/{root}", endpoint_url=moto.url)
        assert ingest(wh, source).status == "loaded"
        rows = wh.execute(
            "SELECT strftime(BillingPeriodStart, '%Y-%m'), SubAccountId, sum(BilledCost), sum(EffectiveCost) "
            "FROM billing GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        want = {(p, a): v for p, t in cur.totals.items() for a, v in t.by_account.items()}
        assert_close({(p, a): (b, e) for p, a, b, e in rows}, want, CENT_MILLIONTH)
        wh.close()
