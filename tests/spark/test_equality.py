"""Spark normalize + daily rollup + pull gives the warehouse the same money as the DuckDB collectors.

For each native format (AWS CUR 2.0, Azure actual + amortized cost details, Azure FOCUS export, GCP billing
export), over three billing periods: cost by day × service × account × region × team, per period and
currency, from a query written here and run on both warehouses, must be equal — exactly, so also to the
cent. The FOCUS Parquet Spark writes must hold the DuckDB warehouse's rows and totals per period.
"""

from __future__ import annotations

import duckdb
import pytest

from spendscope.analysis.allocation import AllocationRules
from tests.spark.conftest import PERIODS, Ingested

CASES = ("aws_cur2", "azure_cost", "azure_focus", "gcp_export")
TEAM_KEY = AllocationRules().rule_sets[0].team.tag_keys[0] if AllocationRules().rule_sets else "team"

BY_DAY = """
SELECT strftime(b.BillingPeriodStart AT TIME ZONE 'UTC', '%Y-%m') AS period,
       CAST(b.ChargePeriodStart AT TIME ZONE 'UTC' AS DATE) AS day,
       b.ServiceName, b.SubAccountId, b.RegionId,
       json_extract_string(b.Tags, '$.' || $team) AS team,
       b.BillingCurrency,
       sum(b.BilledCost) AS billed, sum(b.EffectiveCost) AS effective,
       sum(b.ListCost) AS list, sum(b.ContractedCost) AS contracted
FROM billing b JOIN ingests i ON i.ingest_id = b.x_IngestId AND i.billing_period_start = b.BillingPeriodStart
WHERE i.source = $source AND i.status = 'loaded'
GROUP BY ALL
"""


def _by_day(conn: duckdb.DuckDBPyConnection, source: str) -> dict[tuple[object, ...], tuple[object, ...]]:
    rows = conn.execute(BY_DAY, {"source": source, "team": TEAM_KEY}).fetchall()
    return {tuple(r[:7]): tuple(r[7:]) for r in rows}


@pytest.mark.parametrize("case", CASES)
def test_cost_by_day_service_account_region_team_is_equal(ingested: Ingested, case: str) -> None:
    source = ingested.sources[case]
    duck, spark = _by_day(ingested.duck, source), _by_day(ingested.spark_wh, source)
    assert duck, "the DuckDB warehouse has no rows for the source"
    assert {k[0] for k in duck} == set(PERIODS)
    assert any(k[5] is not None for k in duck), "no row carries the team tag: the comparison would be weak"
    assert duck.keys() == spark.keys()
    for key, values in duck.items():
        assert spark[key] == values, key
        assert [round(v, 2) if v is not None else None for v in spark[key]] == [
            round(v, 2) if v is not None else None for v in values
        ]


@pytest.mark.parametrize("case", CASES)
def test_rollup_has_fewer_rows_and_one_spark_load_per_period(ingested: Ingested, case: str) -> None:
    source = ingested.sources[case]
    q = "SELECT count(*) FROM billing b JOIN ingests i ON i.ingest_id = b.x_IngestId WHERE i.source = $s"
    (duck_rows,) = ingested.duck.execute(q, {"s": source}).fetchone() or (0,)
    (spark_rows,) = ingested.spark_wh.execute(q, {"s": source}).fetchone() or (0,)
    assert 0 < spark_rows < duck_rows
    units = ingested.spark_wh.execute(
        "SELECT strftime(billing_period_start AT TIME ZONE 'UTC', '%Y-%m'), collector, count(*) FROM ingests "
        "WHERE source = $s AND status = 'loaded' GROUP BY ALL ORDER BY 1",
        {"s": source},
    ).fetchall()
    assert units == [(p, "spark", 1) for p in PERIODS]
    assert [r.status for r in ingested.results[case]] == ["loaded"] * len(PERIODS)


@pytest.mark.parametrize("case", CASES)
def test_focus_parquet_matches_duckdb_billing_per_period(ingested: Ingested, case: str) -> None:
    """Rows and totals of the FOCUS Parquet (read here with DuckDB, partition columns from the paths)."""
    import hashlib

    source = ingested.sources[case]
    source_id = hashlib.sha256(source.encode()).hexdigest()[:16]
    lake = ingested.location / "focus"
    focus = duckdb.connect()
    parquet = focus.execute(
        "SELECT billing_period, count(*), sum(BilledCost), sum(EffectiveCost) "
        "FROM read_parquet($glob, hive_partitioning = true) WHERE source = $id GROUP BY 1 ORDER BY 1",
        {"glob": f"{lake}/**/*.parquet", "id": source_id},
    ).fetchall()
    warehouse = ingested.duck.execute(
        "SELECT strftime(b.BillingPeriodStart AT TIME ZONE 'UTC', '%Y-%m'), count(*), sum(BilledCost), "
        "sum(EffectiveCost) FROM billing b JOIN ingests i ON i.ingest_id = b.x_IngestId "
        "AND i.billing_period_start = b.BillingPeriodStart WHERE i.source = $s GROUP BY 1 ORDER BY 1",
        {"s": source},
    ).fetchall()
    assert [tuple(r) for r in parquet] == [tuple(r) for r in warehouse]
    assert [r[0] for r in parquet] == list(PERIODS)
