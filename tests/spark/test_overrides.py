"""Each hand-written ``.spark.sql`` twin agrees with its DuckDB original on the same input.

``gcp_billing_to_focus.spark.sql``: one generated GCP billing export file (Parquet) goes through the DuckDB
collector's SELECT (run by DuckDB) and through the twin (run by Spark); every FOCUS column of every row
must be equal. x_Extensions is compared by its members (the engines write JSON numbers and timestamps
differently; the daily rollup does not carry it).
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spendscope import sql
from spendscope.collectors.gcp.billing_plan import export_subquery, plan_export_file
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.spark.dialect import spark_sql

TWINS = [n for folder in ("collectors",) for n in sql.names(folder) if sql.spark_override(n) is not None]


def _value(column: str, v: Any) -> Any:
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if column == "Tags" and v is not None:
        return json.loads(v)
    if column == "x_Extensions" and v is not None:
        doc = json.loads(v)
        return (Decimal(str(doc["cost"])), doc["invoice_month"], len(doc.get("credits") or []))
    if isinstance(v, float):
        return Decimal(str(v))
    return v


def test_every_twin_has_a_test() -> None:
    assert TWINS == ["collectors/gcp_billing_to_focus"]


def test_gcp_twin_agrees_with_duckdb(spark: Any, bill: Path) -> None:
    path = sorted((bill / "gcp-export" / "parquet").rglob("*.parquet"))[0]
    plan = plan_export_file(duckdb.connect(), SourceFile(str(path), 0, 0, "x"), str(path))
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    cursor = duck.execute(plan.select_sql, plan.params)
    columns = [d[0] for d in cursor.description]
    expected = [{c: _value(c, v) for c, v in zip(columns, row, strict=True)} for row in cursor.fetchall()]

    frame = spark.read.parquet(str(path))
    frame.createOrReplaceTempView("native_0")
    with open(sql.reference_path("gcp_service_categories.csv"), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    spark.createDataFrame(
        [tuple(r) for r in rows[1:]], ", ".join(f"{h} string" for h in rows[0])
    ).createOrReplaceTempView("categories")
    shape = {f.name: _fields(f.dataType) for f in frame.schema.fields}
    result = spark.sql(spark_sql("collectors/gcp_billing_to_focus", export=export_subquery(shape, "native_0")))
    assert result.columns == columns
    got = [{c: _value(c, row[c]) for c in columns} for row in result.collect()]

    def key(r: dict[str, Any]) -> str:
        return json.dumps(r, sort_keys=True, default=str)

    assert len(got) == len(expected) > 100
    assert sorted(got, key=key) == sorted(expected, key=key)
    assert any(r["CommitmentDiscountId"] for r in expected), "no CUD-covered row: the credits path is untested"
    assert any(r["Tags"] and any(k.startswith("project:") for k in r["Tags"]) for r in expected)


def _fields(t: Any) -> set[str] | None:
    from pyspark.sql.types import ArrayType, StructType

    if isinstance(t, ArrayType):
        t = t.elementType
    return set(t.fieldNames()) if isinstance(t, StructType) else None


@pytest.mark.parametrize("name", ["collectors/aws_cur_to_focus", "collectors/azure_cost_to_focus"])
def test_translated_mappings_have_no_twin(name: str) -> None:
    assert sql.spark_override(name) is None
