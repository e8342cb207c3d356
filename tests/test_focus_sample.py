"""The FinOps Foundation's FOCUS 1.0 sample ingests; its totals match the raw file read independently."""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.exporters.focus_file import export_focus
from spendscope.pipeline import ingest

from .conftest import shared_path

# The independent route: DuckDB over the raw CSV, written here, with the sample's own null marker.
RAW = "read_csv($p, header = true, all_varchar = true, nullstr = 'NULL')"


@pytest.fixture
def sample() -> Path:
    return shared_path("data", "focus-sample-data", "focus_sample.csv")


@pytest.fixture
def loaded(wh: duckdb.DuckDBPyConnection, sample: Path) -> duckdb.DuckDBPyConnection:
    ingest(wh, FocusFiles([str(sample)], source="sample"))
    return wh


def test_totals_per_currency_match_the_raw_file(loaded: duckdb.DuckDBPyConnection, sample: Path) -> None:
    raw = duckdb.connect()
    expected = raw.execute(
        f"SELECT BillingCurrency, count(*), sum(BilledCost::DECIMAL(38, 12)), sum(EffectiveCost::DECIMAL(38, 12)) "
        f"FROM {RAW} GROUP BY 1 ORDER BY 1",
        {"p": str(sample)},
    ).fetchall()
    actual = loaded.execute(
        "SELECT BillingCurrency, count(*), sum(BilledCost), sum(EffectiveCost) FROM billing GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert actual == expected
    assert expected[0][0] == "USD" and expected[0][1] == 1000


def test_totals_per_service_match_the_raw_file(loaded: duckdb.DuckDBPyConnection, sample: Path) -> None:
    raw = duckdb.connect()
    expected = raw.execute(
        f"SELECT ServiceName, sum(BilledCost::DECIMAL(38, 12)), sum(EffectiveCost::DECIMAL(38, 12)) "
        f"FROM {RAW} GROUP BY 1 ORDER BY 1",
        {"p": str(sample)},
    ).fetchall()
    actual = loaded.execute(
        "SELECT ServiceName, sum(BilledCost), sum(EffectiveCost) FROM billing GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert actual == expected
    assert len(expected) > 10


def test_sample_deviations_are_reported_once_per_file(wh: duckdb.DuckDBPyConnection, sample: Path) -> None:
    result = ingest(wh, FocusFiles([str(sample)], source="sample"))
    dev = result.deviations[str(sample)]
    assert dev["focus_version"] == "1.0"
    assert dev["null_written_as_string"] == "NULL"
    assert dev["timestamps_without_T_Z"]
    assert dev["columns_without_x_prefix"] == ["Id"]
    # Oracle rows write 'Usage-based': normalized to the FOCUS value, and counted.
    assert dev["values_case_normalized"] == {"ChargeFrequency": 7}
    assert wh.execute("SELECT count(*) FROM billing WHERE ChargeFrequency = 'Usage-based'").fetchone() == (0,)
    # The non-prefixed column is kept, not lost.
    kept = wh.execute("SELECT count(*) FROM billing WHERE json_extract_string(x_Extensions, '$.Id') IS NOT NULL")
    assert kept.fetchone() == (1000,)


def test_tag_with_leading_space_key_is_kept_verbatim(loaded: duckdb.DuckDBPyConnection) -> None:
    n = loaded.execute("SELECT count(*) FROM billing WHERE json_extract_string(Tags, '/ org') IS NOT NULL").fetchone()
    assert n is not None and n[0] > 0


# Each rule the official validator fails on the sample's export, with the cause in the source data
# and a query on the raw sample proving that cause (so none of them is spendscope's doing).
_PROVIDER_UNITS = "{col} IN ('GB Months', 'GB Hours', 'GB/Month', 'Gigabyte Per Hour', 'OCPU Per Hour')"
SAMPLE_FAILURES: dict[str, tuple[str, str]] = {
    # FOCUS-NOTES: BilledCost-C-005-C treats ProviderName <> InvoiceIssuerName as a third-party
    # purchase; the sample names the provider 'AWS' and the issuer 'Amazon Web Services, Inc.'.
    "BilledCost-C-005-C": ("ProviderName differs from InvoiceIssuerName", "ProviderName <> InvoiceIssuerName"),
    # Oracle rows write an empty string; FOCUS null handling makes a missing value null.
    "BillingAccountName-C-003-C": ("empty BillingAccountName", "coalesce(BillingAccountName, '') = ''"),
    "ConsumedQuantity-C-004-C": (
        "ConsumedQuantity on non-Usage rows",
        "ChargeCategory <> 'Usage' AND ConsumedQuantity IS NOT NULL",
    ),
    # Provider spellings such as 'GB Months', 'GB/Month' or 'OCPU Per Hour' instead of FOCUS units.
    "ConsumedUnit-C-003-O": ("units outside the FOCUS unit format", _PROVIDER_UNITS.format(col="ConsumedUnit")),
    "PricingUnit-C-003-O": ("units outside the FOCUS unit format", _PROVIDER_UNITS.format(col="PricingUnit")),
    "ContractedCost-C-003-M": ("empty ContractedCost (Oracle rows)", "ContractedCost IS NULL"),
    "ContractedCost-C-004-M": ("empty ContractedCost (Oracle rows)", "ContractedCost IS NULL"),
    "ContractedUnitPrice-C-009-C": ("negative ContractedUnitPrice", "ContractedUnitPrice::DECIMAL(38,12) < 0"),
    # FOCUS 1.0 has no InvoiceId, ServiceSubcategory or SkuMeter: empty in a 1.2 export.
    "InvoiceId-C-005-C": ("FOCUS 1.0 has no InvoiceId", "true"),
    "ServiceSubcategory-C-002-M": ("FOCUS 1.0 has no ServiceSubcategory", "true"),
    "SkuMeter-C-005-C": ("FOCUS 1.0 has no SkuMeter", "SkuId IS NOT NULL"),
    "RegionName-C-004-C": ("RegionName without RegionId", "RegionId IS NULL AND RegionName IS NOT NULL"),
    "RegionName-C-005-C": ("RegionId without RegionName", "RegionId IS NOT NULL AND RegionName IS NULL"),
    "ResourceType-C-004-C": ("ResourceType without ResourceId", "ResourceId IS NULL AND ResourceType IS NOT NULL"),
    "ResourceType-C-005-C": ("ResourceId without ResourceType", "ResourceId IS NOT NULL AND ResourceType IS NULL"),
    "ServiceName-C-005-C": (
        "a ServiceName with two ServiceCategory values",
        "ServiceName IN (SELECT ServiceName FROM {raw} GROUP BY 1 HAVING count(DISTINCT ServiceCategory) > 1)",
    ),
}
# Parent rules that fail only because a child above fails (the validator's AND composition), and the
# validator bugs that the wrapper tolerates by default (FOCUS-NOTES.md).
DERIVED = {
    "BilledCost-C-000-M",
    "BillingAccountName-C-000-M",
    "ConsumedQuantity-C-000-C",
    "ConsumedQuantity-C-003-C",
    "ConsumedUnit-C-000-C",
    "ContractedCost-C-000-M",
    "ContractedUnitPrice-C-000-C",
    "ContractedUnitPrice-C-008-C",
    "PricingUnit-C-000-M",
    "RegionName-C-000-C",
    "RegionName-C-003-C",
    "ResourceType-C-000-C",
    "ResourceType-C-003-C",
    "ServiceName-C-000-M",
    "ServiceName-C-004-C",
    "ServiceName-C-007-C",
    "ServiceName-C-008-C",
    "ServiceSubcategory-C-000-O",
    "SkuMeter-C-000-C",
    "SkuMeter-C-003-C",
}


def test_sample_export_fails_only_rules_explained_by_the_source(
    loaded: duckdb.DuckDBPyConnection, sample: Path, tmp_path: Path
) -> None:
    tool = shared_path("tools", "focus-validate")
    out = tmp_path / "sample-2024-09.parquet"
    export_focus(loaded, period="2024-09", out=out)
    proc = subprocess.run([str(tool), str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failed = {line.strip()[2:] for line in proc.stdout.splitlines() if line.strip().startswith("- ")}
    unexplained = failed - set(SAMPLE_FAILURES) - DERIVED
    assert not unexplained, f"export fails rules the source data does not explain: {sorted(unexplained)}"
    raw = duckdb.connect()
    for rule in failed & set(SAMPLE_FAILURES):
        reason, condition = SAMPLE_FAILURES[rule]
        where = condition.format(raw=RAW)
        hit = raw.execute(
            f"SELECT count(*) FROM {RAW} WHERE BillingPeriodStart LIKE '2024-09%' AND ({where})", {"p": str(sample)}
        ).fetchone()
        assert hit is not None and hit[0] > 0, f"{rule}: the raw sample does not show '{reason}'"
    # Spendscope derives the 1.2 pricing-currency columns from FOCUS 1.0's billing currency,
    # so no PricingCurrency rule fails.
    assert not {r for r in failed if r.startswith("PricingCurrency")}
