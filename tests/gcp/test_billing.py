"""The Google Cloud Billing export collector against fake-gcs-server, the BigQuery emulator, and
pytest-httpserver (only for the 403, which the emulator cannot produce: it has no IAM).

Expected values come from DuckDB queries written here over the files or rows the test uploaded, or
from the hand-computed rows in gcp_rows.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spendscope.collectors.gcp.billing import gcp_sources
from spendscope.errors import CollectorError, CredentialsExpired, SchemaMismatch, UnknownCurrency
from spendscope.generator.gcp_export import (
    GcpExportResult,
    bigquery_schema,
    create_export_table,
    insert_export_rows,
    write_gcp_export,
)
from spendscope.pipeline import ingest
from spendscope.warehouse.load import collector_state

from ..conftest import shared_path, snapshot
from .gcp_rows import CUD_ID, MONTH, credit_rows, write_jsonl

TOTALS_BY_DAY = (
    "SELECT SubAccountId, ServiceName, CAST(ChargePeriodStart AS DATE) AS day, round(sum(BilledCost), 6) "
    "FROM billing GROUP BY ALL ORDER BY ALL"
)
# Independent route: cost + Σ credits.amount straight from the export file(s), per project/service/day.
EXPECTED_BY_DAY = (
    "SELECT project.id, service.description, CAST(usage_start_time AS DATE), "
    "round(sum(CAST(cost AS DECIMAL(38, 12)) + coalesce(list_sum(list_transform(credits, "
    "c -> CAST(c.amount AS DECIMAL(38, 12)))), 0)), 6) FROM {reader} GROUP BY ALL ORDER BY ALL"
)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> GcpExportResult:
    from spendscope.generator import generate

    tmp = tmp_path_factory.mktemp("gcp-export")
    generate(tmp / "data", rows=12_000, seed=5, month="2026-10")
    return write_gcp_export(tmp / "data" / "focus" / "gcp" / "2026-10", tmp / "export")


def _expected(reader: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    raw = duckdb.connect()
    raw.execute("SET TimeZone = 'UTC'")
    return raw.execute(EXPECTED_BY_DAY.format(reader=reader), params).fetchall()


def test_gcs_export_files_ingest_with_totals_of_the_files(
    gcs: Any, export: GcpExportResult, wh: duckdb.DuckDBPyConnection
) -> None:
    client = gcs.client()
    bucket = client.create_bucket("billing-copies")
    bucket.blob("exports/gcp/202610/part-0.parquet").upload_from_filename(str(export.parquet))
    [source] = gcp_sources("gs://billing-copies/exports/gcp", storage_client=client)

    result = ingest(wh, source)

    assert result.status == "loaded"
    assert result.rows == len(export.rows) + len(export.late_rows)
    assert wh.execute(TOTALS_BY_DAY).fetchall() == _expected("read_parquet($p)", {"p": str(export.parquet)})
    again = gcp_sources("gs://billing-copies/exports/gcp", storage_client=client)[0]
    assert ingest(wh, again).status == "unchanged"


def test_local_jsonl_copy_has_the_same_totals(export: GcpExportResult, wh: duckdb.DuckDBPyConnection) -> None:
    [source] = gcp_sources(str(export.jsonl))
    ingest(wh, source)
    reader = "read_json($p, format = 'newline_delimited')"
    assert wh.execute(TOTALS_BY_DAY).fetchall() == _expected(reader, {"p": str(export.jsonl)})


@pytest.fixture
def bq(bigquery_server: Any) -> Any:
    return bigquery_server


def test_bigquery_late_rows_replace_their_month_and_rerun_is_a_noop(
    bq: Any, export: GcpExportResult, wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    client = bq.client()
    table_id = f"{bq.new_dataset()}.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
    table = create_export_table(client, table_id)
    insert_export_rows(client, table, export.rows)

    def run() -> Any:
        [source] = gcp_sources(f"bq://{table_id}", bigquery_client=client, cursor=lambda s: collector_state(wh, s))
        return ingest(wh, source)

    first = run()
    assert first.status == "loaded" and first.rows == len(export.rows)
    on_time = write_jsonl(tmp_path / "on_time.jsonl", export.rows)
    reader = "read_json($p, format = 'newline_delimited')"
    assert wh.execute(TOTALS_BY_DAY).fetchall() == _expected(reader, {"p": str(on_time)})
    state = collector_state(wh, f"bq://{table_id}")
    assert state["export_time_watermark"] == max(r["export_time"] for r in export.rows).isoformat()

    assert run().status == "unchanged"  # an immediate re-run reads nothing

    insert_export_rows(client, table, export.late_rows)  # same invoice month, export_time 2 days later
    second = run()
    assert second.status == "loaded"
    assert [u.replaces for u in second.units] == [first.ingest_id]
    everything = write_jsonl(tmp_path / "all.jsonl", export.rows + export.late_rows)
    assert wh.execute("SELECT count(*) FROM billing").fetchone() == (len(export.rows) + len(export.late_rows),)
    assert wh.execute(TOTALS_BY_DAY).fetchall() == _expected(reader, {"p": str(everything)})
    assert run().status == "unchanged"
    loaded = wh.execute("SELECT count(*) FROM ingests WHERE status = 'loaded'").fetchone()
    assert loaded == (1,)


def test_a_dataset_with_both_tables_reads_only_the_detailed_one(bq: Any, wh: duckdb.DuckDBPyConnection) -> None:
    client = bq.client()
    dataset = bq.new_dataset()
    standard = create_export_table(client, f"{dataset}.gcp_billing_export_v1_X")
    detailed = create_export_table(client, f"{dataset}.gcp_billing_export_resource_v1_X")
    insert_export_rows(client, standard, credit_rows())
    insert_export_rows(client, detailed, credit_rows())

    [source] = gcp_sources(f"bq://{dataset}", bigquery_client=client)
    result = ingest(wh, source)

    assert source.source == f"bq://{dataset}.gcp_billing_export_resource_v1_X"
    assert result.rows == 6  # not 12: the standard table holds the same costs
    assert "not gcp_billing_export_v1_X" in json.dumps(result.deviations)


def test_credits_land_in_the_focus_columns(tmp_path: Path, wh: duckdb.DuckDBPyConnection) -> None:
    path = write_jsonl(tmp_path / "credits.jsonl", credit_rows())
    ingest(wh, gcp_sources(str(path))[0])

    raw = duckdb.connect()
    cost, credits = raw.execute(
        "SELECT sum(CAST(cost AS DECIMAL(38, 2))), sum(coalesce(list_sum(list_transform(credits, "
        "c -> CAST(c.amount AS DECIMAL(38, 2)))), 0)) FROM read_json($p, format = 'newline_delimited')",
        {"p": str(path)},
    ).fetchone()  # type: ignore[misc]
    assert (cost, credits) == (Decimal("27.35"), Decimal("-13.90"))
    billed, effective = wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone()  # type: ignore[misc]
    assert billed == effective == cost + credits == Decimal("13.45")

    by_app = {
        r[0]: r[1:]
        for r in wh.execute(
            "SELECT json_extract_string(Tags, '$.app'), BilledCost, ContractedCost, ListCost, ChargeCategory, "
            "PricingCategory, CommitmentDiscountId, CommitmentDiscountStatus, CommitmentDiscountCategory "
            "FROM billing"
        ).fetchall()
    }
    d = Decimal
    # cud: 10.00 - 6.00 CUD - 1.50 SUD = 2.50; contracted 10.00 - 1.50 SUD; list 10.00 × 1.25
    assert by_app["cud"] == (d("2.5"), d("8.5"), d("12.5"), "Usage", "Committed", CUD_ID, "Used", "Usage")
    # sud: 4.00 - 0.80 SUD - 0.20 free tier = 3.00; contracted 4.00 - 0.80
    assert by_app["sud"] == (d("3"), d("3.2"), d("5"), "Usage", "Standard", None, None, None)
    # bq: 5.00 - 5.00 promotion = 0; the promotion lowers only billed/effective
    assert by_app["bq"] == (d("0"), d("5"), d("6.25"), "Usage", "Standard", None, None, None)
    # run: 2.00 - 0.40 spend-based CUD
    assert by_app["run"] == (d("1.6"), d("2"), d("2.5"), "Usage", "Committed", "cud-flex-1", "Used", "Spend")
    assert by_app["tax"][:5] == (d("0.35"), d("0.35"), d("0.35"), "Tax", None)
    assert by_app["fee"][:5] == (d("6"), d("6"), d("7.5"), "Purchase", "Standard")
    tags = json.loads(
        wh.execute("SELECT Tags FROM billing WHERE json_extract_string(Tags, '$.app') = 'cud'").fetchone()[0]
    )  # type: ignore[index]
    assert tags == {
        "team": "data",
        "app": "cud",
        "project:team": "data-platform",
        "system:compute.googleapis.com/machine_spec": "n2-standard-8",
    }
    period = wh.execute("SELECT DISTINCT strftime(BillingPeriodStart, '%Y%m') FROM billing").fetchall()
    assert period == [(MONTH,)]


def test_service_categories_are_focus_1_2_values() -> None:
    model = json.loads(shared_path("data", "focus-validator", "model-1.2.json").read_text())
    text = json.dumps(model)
    raw = duckdb.connect()
    from spendscope import sql

    rows = raw.execute(
        "SELECT ServiceCategory, ServiceSubcategory FROM read_csv($p, header = true, all_varchar = true)",
        {"p": sql.reference_path("gcp_service_categories.csv")},
    ).fetchall()
    for category, subcategory in rows:
        assert json.dumps(category) in text, category
        assert json.dumps(subcategory) in text, subcategory


def test_focus_export_of_a_gcp_month_passes_the_validator(
    export: GcpExportResult, wh: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from spendscope.exporters.focus_file import export_focus

    tool = shared_path("tools", "focus-validate")
    ingest(wh, gcp_sources(str(export.parquet))[0])
    out = tmp_path / "gcp-2026-10.parquet"
    export_focus(wh, period="2026-10", out=out)
    env = {**os.environ, "IGNORE_RULES": TOLERATED}
    proc = subprocess.run([str(tool), str(out)], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


# Tolerated, by name:
# - EffectiveCost-C-005-C (and its parent EffectiveCost-C-000-M). Spec: "EffectiveCost MUST be 0 when
#   ChargeCategory is "Purchase" and the purchase is intended to cover future eligible charges."
#   Validator check: "EffectiveCost MUST equal '0'." on every Purchase row. A GCP commitment fee row is
#   the fee for the same day's commitment (it covers no future charges) and the export carries no
#   amortization, so its EffectiveCost is its cost (see ../shared/FOCUS-NOTES.md, validator bugs).
# - InvoiceId-C-005-C. Spec: "InvoiceId MUST NOT be null when the charge is associated with either an
#   issued invoice or a pre-generated provisional invoice." Validator check: "InvoiceId MUST NOT be
#   NULL." The billing export has no invoice number (only invoice.month), so there is none to give.
TOLERATED = "^(EffectiveCost-C-00[05]-[CM]|InvoiceId-C-005-C)$"


# --- bad input: one-line errors naming the table or call; the warehouse unchanged ------------------


def test_a_file_without_credits_is_refused(tmp_path: Path, wh: duckdb.DuckDBPyConnection) -> None:
    path = write_jsonl(tmp_path / "no-credits.jsonl", credit_rows(), drop=("credits",))
    before = snapshot(wh)
    with pytest.raises(SchemaMismatch) as err:
        ingest(wh, gcp_sources(str(path))[0])
    assert str(err.value) == f"{path}: not a Cloud Billing export: missing column credits"
    assert snapshot(wh) == before


def test_a_table_without_credits_is_refused(bq: Any, wh: duckdb.DuckDBPyConnection) -> None:
    client = bq.client()
    table_id = f"{bq.new_dataset()}.gcp_billing_export_v1_X"
    create_export_table(client, table_id, schema=[f for f in bigquery_schema() if f.name != "credits"])
    before = snapshot(wh)
    with pytest.raises(SchemaMismatch) as err:
        ingest(wh, gcp_sources(f"bq://{table_id}", bigquery_client=client)[0])
    assert str(err.value) == f"bq://{table_id}: not a Cloud Billing export table: missing column credits"
    assert snapshot(wh) == before


def test_an_unknown_currency_names_the_table(bq: Any, wh: duckdb.DuckDBPyConnection) -> None:
    client = bq.client()
    table_id = f"{bq.new_dataset()}.gcp_billing_export_v1_X"
    insert_export_rows(client, create_export_table(client, table_id), credit_rows(currency="XYZ"))
    before = snapshot(wh)
    with pytest.raises(UnknownCurrency) as err:
        ingest(wh, gcp_sources(f"bq://{table_id}", bigquery_client=client)[0])
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"bq://{table_id}#invoice.month={MONTH}: ")
    assert "'XYZ'" in message
    assert snapshot(wh) == before


@pytest.fixture
def http(httpserver: Any) -> Iterator[Any]:
    yield httpserver
    httpserver.check_assertions()


def test_a_403_on_the_dataset_is_one_line(http: Any, wh: duckdb.DuckDBPyConnection) -> None:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    # tables.get answering the documented error shape (https://cloud.google.com/bigquery/docs/error-messages)
    body = {
        "error": {
            "code": 403,
            "message": "Access Denied: Table p:billing.gcp_billing_export_v1_X: Permission bigquery.tables.get denied",
            "errors": [{"message": "Access Denied", "domain": "global", "reason": "accessDenied"}],
            "status": "PERMISSION_DENIED",
        }
    }
    http.expect_request("/bigquery/v2/projects/p/datasets/billing/tables/gcp_billing_export_v1_X").respond_with_json(
        body, status=403
    )
    client = bigquery.Client(
        project="p", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=http.url_for(""))
    )
    before = snapshot(wh)
    with pytest.raises(CollectorError) as err:
        ingest(wh, gcp_sources("bq://p.billing.gcp_billing_export_v1_X", bigquery_client=client)[0])
    assert str(err.value).startswith("bigquery.get_table p.billing.gcp_billing_export_v1_X: 403 permission denied")
    assert "\n" not in str(err.value)
    assert snapshot(wh) == before


def test_an_expired_token_is_credentials_expired(bq: Any, wh: duckdb.DuckDBPyConnection) -> None:
    from google.auth import credentials as ga_credentials
    from google.auth.exceptions import RefreshError

    class Expired(ga_credentials.Credentials):  # type: ignore[misc]
        def refresh(self, request: Any) -> None:
            raise RefreshError("invalid_grant: Token has been expired or revoked.")

    client = bq.client(credentials=Expired())
    before = snapshot(wh)
    with pytest.raises(CredentialsExpired) as err:
        ingest(wh, gcp_sources("bq://test-proj.billing.gcp_billing_export_v1_X", bigquery_client=client)[0])
    assert str(err.value).startswith("bigquery.get_table test-proj.billing.gcp_billing_export_v1_X: ")
    assert "expired or revoked" in str(err.value)
    assert snapshot(wh) == before


def test_safety_window_is_three_days_by_default(bq: Any) -> None:
    [source] = gcp_sources("bq://test-proj.a.gcp_billing_export_v1_X", bigquery_client=bq.client())
    assert source.safety_window == timedelta(days=3)  # type: ignore[union-attr]
