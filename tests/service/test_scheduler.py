"""The scheduler in-process: an ingest that loads rows chains analysis and export, requests made while a
run waits for the writer are covered by it, and every run is in the ledger with how it ended."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from spendscope.config import FocusSource, Settings, SourceConfig
from spendscope.service.scheduler import ServiceScheduler
from spendscope.service.settings import ServiceSettings
from tests.conftest import rows, write_csv

from .conftest import wait_for


def _runs(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, bool | None]]:
    return [
        (str(job), str(status), changed)
        for job, status, changed in conn.execute(
            "SELECT job, status, changed FROM service_runs ORDER BY started_at"
        ).fetchall()
    ]


def _settings(tmp_path: Path, sources: list[SourceConfig]) -> Settings:
    service = ServiceSettings(jitter_s=0, analyze_jobs=["fx", "allocation"], report_schedule=None)
    return Settings(warehouse=tmp_path / "wh.duckdb", sources=sources, service=service)


@pytest.fixture
def scheduled(wh: duckdb.DuckDBPyConnection) -> Iterator[list[ServiceScheduler]]:
    """Schedulers the test starts, stopped before the warehouse closes."""
    started: list[ServiceScheduler] = []
    yield started
    for scheduler in started:
        scheduler.stop(5)


def test_a_loading_ingest_chains_analysis_then_export(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, scheduled: list[ServiceScheduler]
) -> None:
    bill = write_csv(tmp_path / "bill" / "oct.csv", rows(4))
    source = FocusSource(name="files", paths=[str(bill)], schedule="every 1h")
    scheduler = ServiceScheduler(wh, _settings(tmp_path, [source]))
    scheduled.append(scheduler)
    scheduler.start()
    wait_for(lambda: len(_runs(wh)) >= 3 and all(s != "running" for _, s, _ in _runs(wh)), timeout_s=30, what="3 runs")
    time.sleep(0.5)  # nothing else may follow
    assert _runs(wh) == [
        ("ingest:files", "succeeded", True),
        ("analyze", "succeeded", True),
        ("export", "succeeded", False),
    ]
    teams = wh.execute("SELECT team, sum(BilledCost) FROM allocated_daily GROUP BY 1").fetchall()
    assert [(t, float(c)) for t, c in teams] == [("payments", 6.0)]  # 4 × 1.50, tagged team=payments
    assert scheduler.stop(5)


def test_requests_while_a_run_is_queued_are_covered_by_it(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, scheduled: list[ServiceScheduler]
) -> None:
    scheduler = ServiceScheduler(wh, _settings(tmp_path, []))
    scheduled.append(scheduler)
    scheduler.start()
    with scheduler.exclusive(timeout_s=5):  # a write outside the jobs (an audited cleanup plan) holds the writer
        for _ in range(5):
            scheduler.request("analyze")
        time.sleep(0.5)
        assert _runs(wh) == []  # the analysis waits for the writer
    wait_for(lambda: ("export", "succeeded", False) in _runs(wh), timeout_s=30, what="the export")
    time.sleep(0.5)
    assert _runs(wh) == [("analyze", "succeeded", True), ("export", "succeeded", False)]  # once, not five times
