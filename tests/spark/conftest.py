"""Fixtures for the Spark engine: one local SparkSession for the run, and one generated bill (three billing
periods, AWS CUR 2.0, Azure Cost Management exports, GCP billing export) ingested twice — through the DuckDB
collectors into one warehouse, and through Spark (normalize, daily rollup, pull) into another.

Spark runs in local mode (``local[2]``, the PyPI pyspark package brings Spark; Java 17 comes from the machine).
Without ``java`` the tests skip with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spendscope.collectors.sources import AwsSource, AzureSource, GcpSource
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.load import LoadResult
from spendscope.warehouse.spark.settings import SparkSettings

TEST_CONF = {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2", "spark.ui.enabled": "false"}
ROWS = 20_000
MONTHS = 3
PERIODS = ("2026-10", "2026-11", "2026-12")


def _java_or_skip() -> None:
    if shutil.which("java") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("java is not on PATH: `make system-deps` installs openjdk-17-jre-headless")
        pytest.skip("java is absent: PySpark's local mode needs Java 17 (`make system-deps` installs it)")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    _java_or_skip()
    from spendscope.warehouse.spark.session import build_session

    session = build_session(SparkSettings(master="local[2]", conf=TEST_CONF), app_name="spendscope-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def bill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`spendscope generate --formats cur,azure,gcp` over three months; plus a copy of the Azure exports
    without the FocusCost export, so the actual + amortized (EA cost details) mapping is exercised too."""
    out = tmp_path_factory.mktemp("bill")
    exe = Path(sys.executable).with_name("spendscope")
    subprocess.run(
        [str(exe), "generate", "--out", str(out), "--rows", str(ROWS), "--months", str(MONTHS),
         "--formats", "cur,azure,gcp"],
        check=True, capture_output=True,
    )  # fmt: skip
    cost_only = out / "azure-cost-only"
    shutil.copytree(out / "azure-exports", cost_only)
    for focus_export in cost_only.rglob("*-focus"):
        shutil.rmtree(focus_export)
    return out


def cases(bill: Path) -> dict[str, AwsSource | AzureSource | GcpSource]:
    """One [[sources]] entry per native format that has landed."""
    return {
        "aws_cur2": AwsSource(name="aws", collector="aws", location=str(bill / "cur" / "cur2")),
        "azure_cost": AzureSource(name="azure-cost", collector="azure", location=str(bill / "azure-cost-only")),
        "azure_focus": AzureSource(name="azure-focus", collector="azure", location=str(bill / "azure-exports")),
        "gcp_export": GcpSource(name="gcp", collector="gcp", location=str(bill / "gcp-export" / "parquet")),
    }


@dataclass
class Ingested:
    duck: duckdb.DuckDBPyConnection
    spark_wh: duckdb.DuckDBPyConnection
    location: Path
    results: dict[str, list[LoadResult]]
    sources: dict[str, str]
    """case → ledger source name."""


@pytest.fixture(scope="session")
def ingested(spark: Any, bill: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    from spendscope.pipeline import ingest, sources_from_config
    from spendscope.warehouse.spark.ingest import ingest_source_config

    base = tmp_path_factory.mktemp("warehouses")
    duck = open_warehouse(base / "duckdb.duckdb")
    spark_wh = open_warehouse(base / "spark.duckdb")
    location = base / "lake"
    settings = SparkSettings(location=str(location), conf=TEST_CONF)
    results: dict[str, list[LoadResult]] = {}
    sources: dict[str, str] = {}
    for case, cfg in cases(bill).items():
        for source in sources_from_config(duck, cfg):
            ingest(duck, source)
            sources[case] = source.source
        results[case] = ingest_source_config(spark_wh, cfg, settings, spark=spark)
    yield Ingested(duck, spark_wh, location, results, sources)
    duck.close()
    spark_wh.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """py4j leaves its gateway sockets to the garbage collector (a ResourceWarning pytest turns into an error)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
