"""The DuckDB → Spark translation keeps DuckDB's meaning: each statement runs in DuckDB and, translated, in
Spark, and both must answer the same. The cases are the DuckDB features sqlglot translates to a Spark
function of the same name but another meaning (division, list indexes, JSON, decimal scale, regexp flags),
plus the ones the warehouse SQL relies on (QUALIFY, TIMESTAMPTZ, intervals, parameters)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from spendscope import sql
from spendscope.warehouse.spark.dialect import SparkTranslationError, spark_sql, translate

SAME: list[tuple[str, dict[str, object]]] = [
    ("SELECT 7 / 2 AS v", {}),
    ("SELECT 1 / 0 AS a, -1 / 0 AS b, 2 / 4 AS c", {}),  # DuckDB: IEEE ±inf; Spark ANSI `/` would fail
    ("SELECT CAST('1.5' AS DECIMAL(38, 12)) / CAST('0.0' AS DECIMAL(38, 12)) AS v", {}),
    ("SELECT [10, 20, 30][1] AS v", {}),  # 1-based in DuckDB, 0-based in Spark
    ("SELECT [10][3] AS v", {}),  # past the end: NULL, not an error
    ("SELECT map_extract_value(map_from_entries([{'key': 'a', 'value': 'x'}]), 'a') AS v", {}),
    ("SELECT json_valid('{\"a\": 1}') AS a, json_valid('nope') AS b", {}),
    ("SELECT json_type('{\"a\": 1}') AS a, json_type('[1, 2]') AS b", {}),
    ("SELECT json_merge_patch('{}', json_object('a', 1, 'b', NULL, 'c', 'x')) AS v", {}),
    (
        "SELECT CAST(CAST('1.000000000001' AS DECIMAL(38, 12)) + CAST('2.000000000002' AS DECIMAL(38, 12)) "
        "AS VARCHAR) AS v",
        {},
    ),
    (
        "SELECT CAST(CAST('1.000000000001' AS DECIMAL(38, 12)) * CAST('3' AS DECIMAL(38, 12)) AS DECIMAL(38, 12)) AS v",
        {},
    ),
    (
        "SELECT sum(x) AS v FROM (VALUES (CAST('0.000000000001' AS DECIMAL(38, 12))), "
        "(CAST('0.1' AS DECIMAL(38, 12)))) t(x)",
        {},
    ),
    (
        "SELECT a FROM (VALUES (1, 2), (1, 3), (2, 1)) t(a, b) "
        "QUALIFY row_number() OVER (PARTITION BY a ORDER BY b) = 1 ORDER BY a",
        {},
    ),
    ("SELECT CAST('2026-10-01 00:00:00+02' AS TIMESTAMPTZ) AS v", {}),
    ("SELECT date_trunc('month', CAST('2026-10-15 13:00:00+00' AS TIMESTAMPTZ)) + INTERVAL 1 MONTH AS v", {}),
    ("SELECT regexp_replace('a-b-c', '[^a-z]', '', 'g') AS a, regexp_replace('user:team', '^user[_:]', '') AS b", {}),
    (
        "SELECT regexp_matches('10/01/2026', '^\\d{1,2}/\\d{1,2}/\\d{4}') AS a, strptime('10/1/2026', '%m/%d/%Y') AS b",
        {},
    ),
    ("WITH t AS NOT MATERIALIZED (SELECT 1 AS a), u AS MATERIALIZED (SELECT a + 1 AS b FROM t) SELECT b FROM u", {}),
    ("SELECT CASE $role WHEN 'amortized' THEN 1 ELSE 2 END AS v, $n + 1 AS w", {"role": "amortized", "n": 41}),
]


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


@pytest.mark.parametrize(("duck_sql", "params"), SAME)
def test_translation_keeps_duckdb_meaning(spark: Any, duck_sql: str, params: dict[str, object]) -> None:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    expected = [tuple(_norm(v) for v in row) for row in conn.execute(duck_sql, params).fetchall()]
    got = [tuple(_norm(v) for v in row) for row in spark.sql(translate(duck_sql), args=params or None).collect()]
    assert got == expected


@pytest.mark.parametrize(
    "duck_sql",
    [
        "SELECT list_sum([1, 2]) AS v",
        "SELECT len([1, 2]) AS v",  # len of a list is size() in Spark, length() of a string
        "SELECT json_object('a', NULL) AS v",  # keeps the null member; to_json(named_struct) would drop it
        "SELECT strptime('20261001 +0000', '%Y%m%d %z') AS v",
        "SELECT regexp_replace('a-b', '-', '') AS v",  # first match only in DuckDB
        "SELECT * FROM read_csv('x.csv')",
    ],
)
def test_untranslatable_statements_are_refused(duck_sql: str) -> None:
    with pytest.raises(SparkTranslationError, match=r"spark\.sql|faithful|first match|parameter"):
        translate(duck_sql, source="test.sql")


def test_bound_files_become_registered_tables() -> None:
    text = translate("SELECT * FROM read_csv($categories, header = true, all_varchar = true) AS c")
    assert "FROM categories AS c" in text


def test_the_twins_are_not_listed_and_are_used() -> None:
    names = sql.names("collectors")
    assert "collectors/gcp_billing_to_focus" in names
    assert not any(n.endswith(".spark") for n in names)
    assert sql.spark_override("collectors/gcp_billing_to_focus") is not None
    assert sql.spark_override("collectors/aws_cur_to_focus") is None
    assert "aggregate(" in spark_sql("collectors/gcp_billing_to_focus", export="SELECT * FROM native_0")
    for name in ("collectors/aws_cur_to_focus", "collectors/azure_cost_to_focus"):
        assert spark_sql(name, cur="SELECT * FROM t", cost="SELECT * FROM t")
