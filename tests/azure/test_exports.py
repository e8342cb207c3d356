"""Azure Cost Management exports → FOCUS: each charge type, actual + amortized without double counting,
EA and MCA columns, CSV/CSV.gz/Parquet, both layouts, runs in Blob storage (Azurite), bad input.

Expected values come from the hand-written rows of azure_rows.py (arithmetic in its docstring) or from
SQL written here over the files as uploaded, never from the collector's code path.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendscope import sql
from spendscope.collectors.azure.exports import azure_sources
from spendscope.collectors.azure.exports_plan import plan_export_file
from spendscope.errors import BadData, CollectorError, CredentialsExpired, SchemaMismatch, SpendscopeError, Throttled
from spendscope.exporters.focus_file import export_focus
from spendscope.generator import generate
from spendscope.generator.azure_exports import LATE_CHARGE, upload_tree, write_azure_exports
from spendscope.pipeline import ingest
from spendscope.warehouse.files import SourceFile
from tests.servers.azurite import Azurite

from ..conftest import shared_path, snapshot
from .azure_rows import (
    BILLED_TOTAL,
    EFFECTIVE_TOTAL,
    RI,
    SP,
    SUB_A,
    SUB_B,
    ea_row,
    expected_by_case,
    month_rows,
    to_mca,
    write_run,
    write_table,
)

D = Decimal
DIRECTORY = "billingAccounts/86412957"


def _ingest_all(conn: duckdb.DuckDBPyConnection, location: str, **kw: Any) -> list[str]:
    return [ingest(conn, s).status for s in azure_sources(location, **kw)]


def _write_month(root: Path, agreement: str, fmt: str, layout: str) -> None:
    """The hand-written month as an actual and an amortized export, in the given layout."""
    convert = to_mca if agreement == "MCA" else (lambda r: r)
    for dataset, export in (("actual", "acme-actual"), ("amortized", "acme-amortized")):
        rows = [convert(r) for r in month_rows(dataset)]
        if layout == "single":  # <dir>/<export>/<range>/<export>_<guid>.csv, no manifest
            suffix = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet"}[fmt]
            name = f"{DIRECTORY}/{export}/20261001-20261031/{export}_0f7e5f2c-1b9f-4a3e-8d7e-2c1a9b8e7d6f.{suffix}"
            write_table(root / name, rows, fmt=fmt)
        else:
            kind = "ActualCost" if dataset == "actual" else "AmortizedCost"
            write_run(root, directory=DIRECTORY, export=export, dataset=kind, rows=rows, fmt=fmt, parts=2)


# ------------------------------------------------------------------ mapping, by hand-computed rows

EXPECTED_ROWS = {
    # case: (ChargeCategory, ChargeClass, PricingCategory, CommitmentDiscountStatus, CommitmentDiscountType)
    "ondemand": ("Usage", None, "Standard", None, None),
    "spot": ("Usage", None, "Dynamic", None, None),
    "ri-used": ("Usage", None, "Committed", "Used", "Reservation"),
    "sp-used": ("Usage", None, "Committed", "Used", "Savings Plan"),
    "ri-purchase": ("Purchase", None, "Standard", None, "Reservation"),  # FOCUS: a purchase is not Committed
    "sp-purchase": ("Purchase", None, "Standard", None, "Savings Plan"),
    "ri-refund": ("Purchase", "Correction", "Standard", None, "Reservation"),
    "rounding": ("Adjustment", None, None, None, None),
    "marketplace": ("Purchase", None, "Standard", None, None),
    "tax": ("Tax", None, None, None, None),
    "ri-unused": ("Usage", None, "Committed", "Unused", "Reservation"),
    "sp-unused": ("Usage", None, "Committed", "Unused", "Savings Plan"),
}


@pytest.mark.parametrize(
    ("agreement", "fmt", "layout"),
    [
        ("EA", "csv", "single"),
        ("EA", "csv.gz", "partitioned"),
        ("MCA", "csv", "partitioned"),
        ("MCA", "parquet", "partitioned"),
    ],
)
def test_each_charge_type_and_pricing_model(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, agreement: str, fmt: str, layout: str
) -> None:
    _write_month(tmp_path / "exports", agreement, fmt, layout)
    assert _ingest_all(wh, str(tmp_path / "exports")) == ["loaded"]
    got = {
        r[0].removeprefix("Test product "): r[1:]
        for r in wh.execute(
            "SELECT ChargeDescription, ChargeCategory, ChargeClass, PricingCategory, CommitmentDiscountStatus, "
            "CommitmentDiscountType, BilledCost, EffectiveCost FROM billing"
        ).fetchall()
    }
    assert wh.execute("SELECT count(*) FROM billing").fetchone() == (12,)  # each case once, none twice
    expected = {case: (*EXPECTED_ROWS[case], b, e) for case, (b, e) in expected_by_case().items()}
    assert got == expected
    totals = wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone()
    assert totals == (BILLED_TOTAL, EFFECTIVE_TOTAL)  # 58.91 = Σ actual; 36.81 = Σ amortized (see azure_rows)
    account = "86412957" if agreement == "EA" else "BP-1"  # EA enrollment / MCA billing profile
    kind = "Billing Account" if agreement == "EA" else "Billing Profile"
    assert wh.execute("SELECT DISTINCT BillingAccountId, BillingAccountType, SubAccountId FROM billing").fetchall() == [
        (account, kind, SUB_A)
    ]
    commitments = wh.execute(
        "SELECT ChargeDescription, CommitmentDiscountId, CommitmentDiscountCategory, ResourceId FROM billing "
        "WHERE CommitmentDiscountStatus = 'Unused' OR ChargeCategory = 'Purchase' AND CommitmentDiscountId IS NOT NULL "
        "ORDER BY 1"
    ).fetchall()
    assert commitments == [
        ("Test product ri-purchase", RI, "Usage", RI),
        ("Test product ri-refund", RI, "Usage", RI),
        ("Test product ri-unused", RI, "Usage", RI),
        ("Test product sp-purchase", SP, "Spend", SP),
        ("Test product sp-unused", SP, "Spend", SP),
    ]
    # "10K" of storage operations: 60,000 consumed = 6 priced blocks of 10,000 at 0.5 = 3.00
    row = wh.execute(
        "SELECT ConsumedQuantity, PricingQuantity, PricingUnit, ContractedCost FROM billing "
        "WHERE ChargeDescription = 'Test product sp-used'"
    ).fetchone()
    assert row == (D(60000), D(6), "10000 Units", D("3.00"))
    # On-demand VM: 10 h at 0.5 contracted, 0.6 list → 5.00 and 6.00
    row = wh.execute(
        "SELECT ContractedCost, ListCost, PricingUnit, ServiceName, ServiceCategory, x_ResourceGroupName, RegionId "
        "FROM billing WHERE ChargeDescription = 'Test product ondemand'"
    ).fetchone()
    assert row == (D(5), D(6), "Hours", "Virtual Machines", "Compute", "rg-web", "westeurope")


def test_contracted_and_list_cost_of_100_or_more(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Unit price × exchange rate × quantity as three DECIMAL(38, 12) factors has scale 36 and overflowed
    (DuckDB: "Overflow in multiplication") from a cost of 100 up. 150 h at 2.00 contracted, 2.40 list:
    300.00 and 360.00, by hand."""
    rows = [ea_row("ondemand", "Usage", "OnDemand", "300", Quantity="150", UnitPrice="2", PayGPrice="2.4")]
    for dataset, export in (("ActualCost", "acme-actual"), ("AmortizedCost", "acme-amortized")):
        write_run(tmp_path / "exports", directory=DIRECTORY, export=export, dataset=dataset, rows=rows)
    assert _ingest_all(wh, str(tmp_path / "exports")) == ["loaded"]
    row = wh.execute("SELECT ContractedCost, ListCost, BilledCost, PricingQuantity FROM billing").fetchone()
    assert row == (D(300), D(360), D(300), D(150))


def test_tags_with_and_without_braces(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _write_month(tmp_path / "exports", "EA", "csv", "partitioned")
    _ingest_all(wh, str(tmp_path / "exports"))
    tags = dict(
        wh.execute(
            "SELECT ChargeDescription, CAST(Tags AS VARCHAR) FROM billing WHERE ChargeDescription IN "
            "('Test product ondemand', 'Test product spot', 'Test product ri-used')"
        ).fetchall()
    )
    assert json.loads(tags["Test product ondemand"]) == {"team": "web", "env": "prod"}  # EA: no outer braces
    assert json.loads(tags["Test product spot"]) == {"team": "web"}  # with braces
    assert tags["Test product ri-used"] is None  # "not json": kept raw, reported
    raw = wh.execute(
        "SELECT json_extract_string(x_Extensions, '$.Tags_unparsed') FROM billing "
        "WHERE ChargeDescription = 'Test product ri-used'"
    ).fetchone()
    assert raw == ("not json",)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=12),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_tag_parser_round_trips_any_tags(tags: dict[str, str], braces: bool) -> None:
    """Any tag set, written as Azure writes it (JSON with or without the outer braces), reads back."""
    import tempfile

    text = json.dumps(tags, ensure_ascii=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_table(Path(tmp) / "f.csv", [ea_row("ondemand", "Usage", "OnDemand", "1", Tags=text if braces
                                                        else text[1:-1])], fmt="csv")  # fmt: skip
        conn = duckdb.connect()
        conn.execute("SET TimeZone = 'UTC'")
        plan = plan_export_file(conn, SourceFile(str(path), 1, 1, "x"), str(path), role="amortized")
        (got,) = conn.execute(f"SELECT CAST(Tags AS VARCHAR) FROM ({plan.select_sql})", plan.params).fetchone()  # type: ignore[misc]
        conn.close()
    assert json.loads(got) == tags


@pytest.mark.parametrize(
    ("dataset", "billed", "effective", "note"),
    [
        # every actual row as billed, the purchases keep their cost: 58.91 both ways
        ("actual", BILLED_TOTAL, BILLED_TOTAL, "no amortized export"),
        # amortized rows only: the commitment purchases (30 + 12 − 10) are not billed anywhere:
        # 5 + 0.4 + 0.01 + 20 + 1.5 = 26.91 billed; 36.81 effective as with both files
        ("amortized", D("26.91"), EFFECTIVE_TOTAL, "no actual export"),
    ],
)
def test_one_dataset_alone(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, dataset: str, billed: Decimal, effective: Decimal, note: str
) -> None:
    root = tmp_path / "exports"
    kind = "ActualCost" if dataset == "actual" else "AmortizedCost"
    write_run(root, directory=DIRECTORY, export=f"acme-{dataset}", dataset=kind, rows=month_rows(dataset))
    assert _ingest_all(wh, str(root)) == ["loaded"]
    assert wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone() == (billed, effective)
    (deviations,) = wh.execute("SELECT deviations FROM ingests").fetchone()  # type: ignore[misc]
    assert note in deviations


def test_single_file_layout_takes_the_newest_file(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "exports" / "daily" / "20261001-20261031"
    old = write_table(folder / "daily_aaaa.csv", [ea_row("ondemand", "Usage", "OnDemand", "5.00")], fmt="csv")
    new = write_table(
        folder / "daily_bbbb.csv",
        [ea_row("ondemand", "Usage", "OnDemand", "5.00"), ea_row("spot", "Usage", "Spot", "0.40", day=6)],
        fmt="csv",
    )
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_700_086_400, 1_700_086_400))  # a day later
    assert _ingest_all(wh, str(tmp_path / "exports")) == ["loaded"]
    assert wh.execute("SELECT sum(BilledCost), min(x_SourceFile) FROM billing").fetchone() == (D("5.40"), str(new))


# ------------------------------------------------------------------ generated exports in Azurite


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated month (with an Azure reservation): the FOCUS Parquet the exports are made from."""
    root = tmp_path_factory.mktemp("gen")
    generate(root, rows=20_000, seed=7, month="2026-10")
    return root


def _download(container: Any, names: list[str], dest: Path) -> list[str]:
    """The uploaded blobs, fetched back from Azurite for the independent expectation."""
    out = []
    for name in names:
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(container.download_blob(name).readall())
        out.append(str(path))
    return out


def _csv(files: list[str]) -> str:
    return f"read_csv({files!r}, header = true, all_varchar = true)"


def test_generated_exports_from_azurite(
    wh: duckdb.DuckDBPyConnection, generated: Path, azurite_server: Azurite, azurite_container: Any, tmp_path: Path
) -> None:
    out = tmp_path / "blobs"
    result = write_azure_exports(generated, out, part_bytes=1 << 20)  # several parts per run
    uploaded = upload_tree(out, azurite_container)
    azurite_container.delete_blobs(*[n for n in uploaded if "/acme-focus/" in n])  # actual + amortized only
    names = [n for n in uploaded if "/acme-focus/" not in n]
    location = f"az://{azurite_container.container_name}/"
    cs = azurite_server.connection_string
    (source,) = azure_sources(location, connection_string=cs)
    assert source.source == f"{azurite_server.blob_endpoint}/{azurite_container.container_name}/{DIRECTORY}/acme"
    assert ingest(wh, source).status == "loaded"

    local = _download(azurite_container, [n for n in names if n.endswith(".csv")], tmp_path / "check")
    actual, amortized = [f for f in local if "/acme-actual/" in f], [f for f in local if "/acme-amortized/" in f]
    assert len(actual) > 1 and len(amortized) > 1
    raw = duckdb.connect()
    # Billed per subscription, meter category and day from the actual files; effective from the amortized.
    expected = raw.execute(
        f"""
        WITH a AS (SELECT SubscriptionId s, coalesce(MeterCategory, '') m, strptime(Date, '%m/%d/%Y')::DATE d,
                          sum(CostInBillingCurrency::DECIMAL(38, 12)) c FROM {_csv(actual)} GROUP BY ALL),
             z AS (SELECT SubscriptionId s, coalesce(MeterCategory, '') m, strptime(Date, '%m/%d/%Y')::DATE d,
                          sum(CostInBillingCurrency::DECIMAL(38, 12)) c FROM {_csv(amortized)} GROUP BY ALL)
        SELECT s, m, d, coalesce(a.c, 0), coalesce(z.c, 0) FROM a FULL JOIN z USING (s, m, d) ORDER BY ALL
        """
    ).fetchall()
    got = wh.execute(
        "SELECT SubAccountId, coalesce(json_extract_string(x_Extensions, '$.x_SkuMeterCategory'), ''), "
        "ChargePeriodStart::DATE, sum(BilledCost), sum(EffectiveCost) FROM billing GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert got == expected and len(expected) > 100
    # The month has a reservation: amortized ≠ actual per row, yet each total is its own dataset's.
    (unused,) = raw.execute(f"SELECT count(*) FROM {_csv(amortized)} WHERE ChargeType = 'UnusedReservation'").fetchone()  # type: ignore[misc]
    (purchases,) = raw.execute(f"SELECT count(*) FROM {_csv(actual)} WHERE ChargeType = 'Purchase'").fetchone()  # type: ignore[misc]
    assert unused > 0 and purchases == 1
    totals = raw.execute(
        f"SELECT (SELECT sum(CostInBillingCurrency::DECIMAL(38, 12)) FROM {_csv(actual)}), "
        f"(SELECT sum(CostInBillingCurrency::DECIMAL(38, 12)) FROM {_csv(amortized)})"
    ).fetchone()
    assert wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone() == totals
    covered = wh.execute(
        "SELECT sum(BilledCost), sum(EffectiveCost) FROM billing WHERE CommitmentDiscountStatus = 'Used'"
    ).fetchone()
    assert covered is not None and covered[0] == 0 < covered[1]

    billed_before = sum((r[3] for r in got), D(0))

    # An unchanged re-run does no work: same ETags, nothing downloaded, one load in the ledger.
    assert _ingest_all(wh, location, connection_string=cs) == ["unchanged"]
    assert wh.execute("SELECT count(*) FROM ingests").fetchone() == (1,)

    # Azure restates the month: a newer run (submitted a day later) replaces the period.
    write_azure_exports(generated, out, part_bytes=1 << 20, restate="2026-10")
    uploaded = upload_tree(out, azurite_container)
    azurite_container.delete_blobs(*[n for n in uploaded if "/acme-focus/" in n])
    new = [n for n in uploaded if n not in names and "/acme-focus/" not in n]
    assert len([n for n in new if n.endswith("manifest.json")]) == 2  # the new actual and amortized runs
    assert _ingest_all(wh, location, connection_string=cs) == ["loaded"]
    restated = _download(azurite_container, [n for n in new if n.endswith(".csv")], tmp_path / "check2")
    actual, amortized = [f for f in restated if "/acme-actual/" in f], [f for f in restated if "/acme-amortized/" in f]
    totals = raw.execute(
        f"SELECT (SELECT sum(CostInBillingCurrency::DECIMAL(38, 12)) FROM {_csv(actual)}), "
        f"(SELECT sum(CostInBillingCurrency::DECIMAL(38, 12)) FROM {_csv(amortized)})"
    ).fetchone()
    assert wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone() == totals
    assert totals is not None and totals[0] == billed_before + LATE_CHARGE
    assert wh.execute("SELECT status, count(*) FROM ingests GROUP BY 1 ORDER BY 1").fetchall() == [
        ("loaded", 1),
        ("replaced", 1),
    ]
    assert result.directory == DIRECTORY


def test_a_focus_export_replaces_actual_and_amortized(
    wh: duckdb.DuckDBPyConnection, generated: Path, azurite_server: Azurite, azurite_container: Any, tmp_path: Path
) -> None:
    out = tmp_path / "blobs"
    write_azure_exports(generated, out)
    location, cs = f"az://{azurite_container.container_name}/", azurite_server.connection_string
    focus_names = []
    for name in upload_tree(out, azurite_container):
        if "/acme-focus/" in name:
            focus_names.append(name)
            azurite_container.delete_blob(name)
    assert _ingest_all(wh, location, connection_string=cs) == ["loaded"]
    # The FOCUS export of the same scope and period arrives: it is preferred and replaces the unit.
    upload_tree(out, azurite_container)
    assert _ingest_all(wh, location, connection_string=cs) == ["loaded"]
    assert wh.execute("SELECT status, count(*) FROM ingests GROUP BY 1 ORDER BY 1").fetchall() == [
        ("loaded", 1),
        ("replaced", 1),
    ]
    files = wh.execute("SELECT DISTINCT x_SourceFile FROM billing").fetchall()
    assert files and all("/acme-focus/" in f for (f,) in files)
    parquet = _download(azurite_container, [n for n in focus_names if n.endswith(".parquet")], tmp_path / "check")
    expected = (
        duckdb.connect()
        .execute("SELECT count(*), sum(BilledCost), sum(EffectiveCost) FROM read_parquet($f)", {"f": parquet})
        .fetchone()
    )
    assert wh.execute("SELECT count(*), sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone() == expected


def test_two_subscription_scoped_exports_are_two_sources(
    wh: duckdb.DuckDBPyConnection, azurite_server: Azurite, azurite_container: Any, tmp_path: Path
) -> None:
    root = tmp_path / "blobs"
    for sub in (SUB_A, SUB_B):
        rows = [ea_row("ondemand", "Usage", "OnDemand", "5.00", SubscriptionId=sub)]
        write_run(root, directory=f"subscriptions/{sub}", export="costs", dataset="ActualCost", rows=rows,
                  scope=f"/subscriptions/{sub}")  # fmt: skip
    upload_tree(root, azurite_container)
    location = f"az://{azurite_container.container_name}/subscriptions"
    assert _ingest_all(wh, location, connection_string=azurite_server.connection_string) == ["loaded", "loaded"]
    base = f"{azurite_server.blob_endpoint}/{azurite_container.container_name}"
    assert wh.execute("SELECT source, row_count FROM ingests ORDER BY 1").fetchall() == [
        (f"{base}/subscriptions/{SUB_A}/costs", 1),
        (f"{base}/subscriptions/{SUB_B}/costs", 1),
    ]


# ------------------------------------------------------------------ FOCUS validator

# focus-validator 2.2.1 rules that fail although the data meets the spec's text:
AZURE_VALIDATOR_BUGS = {
    # Spec (InvoiceId): "InvoiceId MUST be null when the charge is not associated either with an invoice
    # or with a pre-generated provisional invoice." Validator check InvoiceId-C-005-C: "InvoiceId MUST
    # NOT be null when the charge is associated with either an issued invoice or a pre-generated
    # provisional invoice." with an empty Condition, so every row needs an InvoiceId; EA cost details
    # carry none (the EA schema has no InvoiceId column). Its twin C-004-C is tolerated by the wrapper.
    "InvoiceId-C-005-C": "EA cost details have no invoice id",
}
MARKETPLACE_BUGS = {
    # Spec (EffectiveCost): "EffectiveCost MUST be 0 when ChargeCategory is "Purchase" and the purchase is
    # intended to cover future eligible charges." Validator check EffectiveCost-C-005-C: "EffectiveCost
    # MUST equal '0'" on every Purchase; a Marketplace purchase covers no future charges.
    "EffectiveCost-C-005-C": "the Marketplace purchase is not a commitment",
    "EffectiveCost-C-000-M": "parent of EffectiveCost-C-005-C",
}


def _validate(path: Path, tolerated: dict[str, str]) -> set[str]:
    tool = shared_path("tools", "focus-validate")
    env = {k: v for k, v in os.environ.items() if k != "IGNORE_RULES"}
    proc = subprocess.run([str(tool), str(path)], capture_output=True, text=True, timeout=900, env=env)
    failed = {line.strip()[2:] for line in proc.stdout.splitlines() if line.strip().startswith("- ")}
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert failed <= set(tolerated), proc.stdout
    return failed


def test_azure_ingested_month_exports_as_valid_focus(
    wh: duckdb.DuckDBPyConnection, generated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "blobs"
    result = write_azure_exports(generated, out)
    for manifest in result.manifests:  # actual + amortized only: the conversion is what is validated
        if "/acme-focus/" in manifest.as_posix():
            for f in manifest.parent.iterdir():
                f.unlink()
    assert _ingest_all(wh, str(out)) == ["loaded"]
    export_focus(wh, period="2026-10", out=tmp_path / "azure.parquet")
    assert _validate(tmp_path / "azure.parquet", AZURE_VALIDATOR_BUGS) == set(AZURE_VALIDATOR_BUGS)


def test_every_charge_type_exports_as_valid_focus(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _write_month(tmp_path / "exports", "MCA", "csv", "partitioned")
    _ingest_all(wh, str(tmp_path / "exports"))
    export_focus(wh, period="2026-10", out=tmp_path / "mca.parquet")
    assert _validate(tmp_path / "mca.parquet", MARKETPLACE_BUGS) == set(MARKETPLACE_BUGS)


def test_service_categories_are_focus_1_2_values() -> None:
    model = json.loads(shared_path("data", "focus-validator", "model-1.2.json").read_text(encoding="utf-8"))
    rule = model["ModelRules"]["ServiceSubcategory-C-004-M"]["ValidationCriteria"]["Requirement"]
    allowed = set()  # (ServiceCategory, ServiceSubcategory) pairs the validator accepts
    for alternative in rule["Items"]:
        values = {check["ColumnName"]: check["Value"] for check in alternative["Items"]}
        allowed.add((values["ServiceCategory"], values["ServiceSubcategory"]))
    rows = (
        duckdb.connect()
        .execute(
            "SELECT ServiceCategory, ServiceSubcategory, lower(coalesce(meter_category, '')), "
            "lower(coalesce(consumed_service, '')) FROM read_csv($p, header = true, all_varchar = true)",
            {"p": sql.reference_path("azure_service_categories.csv")},
        )
        .fetchall()
    )
    assert rows and {(c, s) for c, s, _, _ in rows} <= allowed
    keys = [(m, c) for _, _, m, c in rows]
    assert len(keys) == len(set(keys))  # one row per lookup key: the mapping's joins never fan out


# ------------------------------------------------------------------ bad input


@pytest.fixture
def loaded(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> tuple[Any, ...]:
    """A warehouse holding one good load, and its snapshot: a refused load must leave it as is."""
    _write_month(tmp_path / "good", "EA", "csv", "partitioned")
    _ingest_all(wh, str(tmp_path / "good"))
    return snapshot(wh)


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ('"unterminated,1,2\n', "Value with unterminated quote found"),
        ("a,b,c\n", "Expected Number of Columns: 57 Found: 3"),
    ],
)
def test_malformed_csv_rows(
    wh: duckdb.DuckDBPyConnection, loaded: tuple[Any, ...], azurite_server: Azurite, azurite_container: Any,
    tmp_path: Path, bad_row: str, reason: str,
) -> None:  # fmt: skip
    root = tmp_path / "blobs"
    names = write_run(root, directory="other", export="x-actual", dataset="ActualCost", rows=month_rows("actual"))
    part = root / names[0]
    part.write_text(part.read_text(encoding="utf-8-sig") + bad_row, encoding="utf-8")  # row 13: after 12 good ones
    upload_tree(root, azurite_container)
    location = f"az://{azurite_container.container_name}/other"
    with pytest.raises(BadData) as info:
        _ingest_all(wh, location, connection_string=azurite_server.connection_string)
    message = str(info.value)
    assert message.startswith(f"{azurite_server.blob_endpoint}/{azurite_container.container_name}/{names[0]}: ")
    assert f"CSV Error on Line: 12: {reason}" in message and message.endswith("; nothing was loaded")
    assert "\n" not in message
    assert snapshot(wh) == loaded


def test_a_bad_cost_value_names_the_column(
    wh: duckdb.DuckDBPyConnection, loaded: tuple[Any, ...], tmp_path: Path
) -> None:
    rows = month_rows("amortized")
    rows[0]["CostInBillingCurrency"] = "12,5 EUR"
    names = write_run(tmp_path / "bad", directory="d", export="x-amortized", dataset="AmortizedCost", rows=rows)
    with pytest.raises(BadData, match=r"column CostInBillingCurrency: value '12,5 EUR' is not a number") as info:
        _ingest_all(wh, str(tmp_path / "bad"))
    assert names[0] in str(info.value)
    assert snapshot(wh) == loaded


def test_manifest_naming_a_missing_blob(
    wh: duckdb.DuckDBPyConnection,
    loaded: tuple[Any, ...],
    azurite_server: Azurite,
    azurite_container: Any,
    tmp_path: Path,
) -> None:
    root = tmp_path / "blobs"
    names = write_run(root, directory="d", export="x-actual", dataset="ActualCost", rows=month_rows("actual"), parts=2)
    upload_tree(root, azurite_container)
    azurite_container.delete_blob(names[1])
    with pytest.raises(CollectorError) as info:
        _ingest_all(
            wh, f"az://{azurite_container.container_name}/d", connection_string=azurite_server.connection_string
        )
    message = str(info.value)
    assert f"manifest lists {names[1]}, which does not exist" in message and "\n" not in message
    assert message.startswith(f"{azurite_server.blob_endpoint}/{azurite_container.container_name}/{names[2]}")
    assert snapshot(wh) == loaded


def test_neither_ea_nor_mca_columns(wh: duckdb.DuckDBPyConnection, loaded: tuple[Any, ...], tmp_path: Path) -> None:
    odd = [{"UsageDate": "2026-10-01", "Cost": "1.0", "Currency": "EUR", "SubscriptionGuid": SUB_A}]
    names = write_run(tmp_path / "odd", directory="d", export="odd-actual", dataset="ActualCost", rows=odd)  # type: ignore[arg-type]
    with pytest.raises(SchemaMismatch, match="neither an EA nor an MCA cost details file") as info:
        _ingest_all(wh, str(tmp_path / "odd"))
    assert str(info.value).startswith(str(tmp_path / "odd" / names[0]))
    assert "missing EA column(s) BillingAccountId, BillingCurrencyCode" in str(info.value)
    assert snapshot(wh) == loaded


_ERROR_XML = (
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}\n'
    "RequestId:00000000-0000-0000-0000-000000000000\nTime:2026-11-02T06:00:00.0000000Z</Message>{detail}</Error>"
)


@pytest.mark.parametrize(
    ("status", "code", "message", "detail", "error"),
    [
        # the answer Azure Storage documents for a SAS past its expiry ("Signed expiry time [...] must be
        # after signed start time"): 403 AuthenticationFailed, raised by the SDK as ClientAuthenticationError
        (403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of "
         "Authorization header is formed correctly including the signature.",
         "<AuthenticationErrorDetail>Signed expiry time [Wed, 01 Jan 2020 00:00:00 GMT] must be after signed "
         "start time [Mon, 02 Nov 2026 06:00:00 GMT]</AuthenticationErrorDetail>", CredentialsExpired),
        (503, "ServerBusy", "The server is currently unable to receive requests. Please retry your request.", "",
         Throttled),
        (404, "ContainerNotFound", "The specified container does not exist.", "", CollectorError),
    ],
)  # fmt: skip
def test_storage_errors_name_the_call(
    wh: duckdb.DuckDBPyConnection, httpserver: Any, status: int, code: str, message: str, detail: str, error: type
) -> None:
    """Azurite cannot expire a SAS token or throttle on demand, so a pytest-httpserver answers List Blobs
    with the status, x-ms-error-code header and XML body the Blob service REST reference documents; the
    real azure-storage-blob client (retries off) raises azure-core's documented exception for each."""
    from azure.storage.blob import ContainerClient

    httpserver.expect_request("/devstoreaccount1/costs", method="GET").respond_with_data(
        _ERROR_XML.format(code=code, message=message, detail=detail), status=status,
        headers={"x-ms-error-code": code, "Content-Type": "application/xml"})  # fmt: skip
    sas = "sv=2025-01-05&se=2020-01-01T00%3A00%3A00Z&sr=c&sp=rl&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
    client = ContainerClient(f"http://127.0.0.1:{httpserver.port}/devstoreaccount1?{sas}", "costs", retry_total=0)
    before = snapshot(wh)
    with pytest.raises(SpendscopeError) as info:
        _ingest_all(wh, "az://costs/exports", client=client)
    assert type(info.value) is error
    text = str(info.value)
    assert text.startswith(f"list_blobs http://127.0.0.1:{httpserver.port}/devstoreaccount1/costs/exports: ")
    assert "\n" not in text and "sig=" not in text and "c2VjcmV0" not in text  # no SAS in the message
    (request, _response) = httpserver.log[0]
    assert request.args["comp"] == "list" and request.args["prefix"] == "exports"  # List Blobs, as documented
    assert snapshot(wh) == before


def test_no_exports_under_the_location(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CollectorError, match="no Cost Management export runs found"):
        _ingest_all(wh, str(tmp_path / "empty"))
    with pytest.raises(CollectorError, match="needs a connection string"):
        azure_sources("az://costs/exports")
