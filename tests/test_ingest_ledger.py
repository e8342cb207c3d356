"""Ingest through the ledger: idempotent re-runs, restatements, load units, failures leave no trace."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.doctor import run_doctor

from .conftest import rows, snapshot, write_csv, write_parquet


def _total(conn: duckdb.DuckDBPyConnection, col: str = "BilledCost") -> Decimal:
    row = conn.execute(f"SELECT coalesce(sum({col}), 0) FROM billing").fetchone()
    assert row is not None
    return Decimal(row[0])


def test_reingest_of_unchanged_files_is_a_noop(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "oct.csv", rows(4))
    first = ingest(wh, FocusFiles([str(f)], source="s"))
    assert first.status == "loaded" and first.rows == 4
    before = snapshot(wh)
    again = ingest(wh, FocusFiles([str(f)], source="s"))
    assert again.status == "unchanged"
    assert snapshot(wh) == before
    assert _total(wh) == Decimal("6.00")  # 4 × 1.50


def test_restated_file_replaces_its_period(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "oct.csv", rows(4))
    first = ingest(wh, FocusFiles([str(f)], source="s"))
    write_csv(f, rows(3, BilledCost="2.25", EffectiveCost="2.00"))  # the provider rewrote October
    second = ingest(wh, FocusFiles([str(f)], source="s"))
    assert second.status == "loaded"
    assert _total(wh) == Decimal("6.75")  # 3 × 2.25, the 4 old rows are gone
    assert _total(wh, "EffectiveCost") == Decimal("6.00")  # 3 × 2.00
    ledger = wh.execute("SELECT ingest_id, status, replaced_by, replaces FROM ingests ORDER BY ingest_id").fetchall()
    assert ledger == [
        (first.ingest_id, "replaced", second.ingest_id, None),
        (second.ingest_id, "loaded", None, first.ingest_id),
    ]
    assert run_doctor(wh) == []


def test_restatement_touches_only_its_period(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    sep = rows(
        2,
        BillingPeriodStart="2026-09-01T00:00:00Z",
        BillingPeriodEnd="2026-10-01T00:00:00Z",
        ChargePeriodStart="2026-09-10T00:00:00Z",
        ChargePeriodEnd="2026-09-10T01:00:00Z",
    )
    both = write_csv(tmp_path / "a" / "sep_oct.csv", sep + rows(2))
    ingest(wh, FocusFiles([str(both)], source="s"))
    assert _total(wh) == Decimal("6.00")  # 4 × 1.50
    oct_only = write_csv(tmp_path / "b" / "oct.csv", rows(1, BilledCost="10"))
    ingest(wh, FocusFiles([str(oct_only)], source="s"))
    by_period = dict(
        wh.execute("SELECT strftime(BillingPeriodStart, '%Y-%m'), sum(BilledCost) FROM billing GROUP BY 1").fetchall()
    )
    assert by_period == {"2026-09": Decimal("3.00"), "2026-10": Decimal("10")}
    assert run_doctor(wh) == []


def test_all_files_of_one_command_load_together(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    part1 = write_csv(tmp_path / "d" / "part-1.csv", rows(2))
    part2 = write_parquet(tmp_path / "d" / "part-2.parquet", rows(3, BilledCost="1.00"))
    result = ingest(wh, FocusFiles([str(tmp_path / "d")], source="s"))
    assert result.rows == 5 and len(result.units) == 1
    files = wh.execute("SELECT files FROM ingests WHERE status = 'loaded'").fetchone()
    assert files is not None and str(part1) in files[0] and str(part2) in files[0]
    assert _total(wh) == Decimal("6.00")  # 2 × 1.50 + 3 × 1.00


def test_two_sources_do_not_replace_each_other_but_doctor_warns(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "oct.csv", rows(2))
    ingest(wh, FocusFiles([str(f)], source="aws-a"))
    ingest(wh, FocusFiles([str(f)], source="aws-b"))
    assert _total(wh) == Decimal("6.00")  # both kept: 2 × 2 × 1.50
    found = run_doctor(wh)
    assert [f.level for f in found] == ["warning"]
    assert "111122223333" in found[0].problem and "aws-a" in found[0].problem


def test_default_source_is_the_resolved_path(
    wh: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = write_csv(tmp_path / "oct.csv", rows(1))
    monkeypatch.chdir(tmp_path)
    result = ingest(wh, FocusFiles(["oct.csv"]))
    assert result.source == str(f.resolve())


def test_zero_row_file_is_loaded_as_empty(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    f = tmp_path / "empty.csv"
    f.write_text(",".join(rows(1)[0]) + "\n")
    result = ingest(wh, FocusFiles([str(f)], source="s"))
    assert result.rows == 0 and _total(wh) == 0
    assert ingest(wh, FocusFiles([str(f)], source="s")).status == "unchanged"


def test_doctor_detects_tampering(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    ingest(wh, FocusFiles([str(write_csv(tmp_path / "oct.csv", rows(3)))], source="s"))
    wh.execute("UPDATE billing SET BilledCost = 99 WHERE rowid = (SELECT min(rowid) FROM billing)")
    assert {f.check for f in run_doctor(wh)} == {"totals_vs_ledger"}
    wh.execute("DELETE FROM billing WHERE rowid = (SELECT min(rowid) FROM billing)")
    assert {f.check for f in run_doctor(wh)} == {"totals_vs_ledger", "rows_vs_ledger"}


def test_collector_state_commits_with_the_data(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    from spendscope.collectors.focus import FocusFiles
    from spendscope.warehouse.files import describe_files
    from spendscope.warehouse.load import collector_state, load

    good = FocusFiles([str(write_csv(tmp_path / "a" / "oct.csv", rows(1)))], source="s")
    request = good.fetch(None, describe=lambda ps: describe_files(ps, {}))
    load(wh, dataclasses.replace(request, state={"watermark": "2026-10-05T00:00:00Z"}))
    assert collector_state(wh, "s") == {"watermark": "2026-10-05T00:00:00Z"}
    bad = FocusFiles([str(write_csv(tmp_path / "b" / "oct.csv", rows(1, BillingCurrency="ZZZ")))], source="s")
    request = bad.fetch(None, describe=lambda ps: describe_files(ps, {}))
    with pytest.raises(Exception, match="ZZZ"):
        load(wh, dataclasses.replace(request, state={"watermark": "2026-10-09T00:00:00Z"}))
    assert collector_state(wh, "s") == {"watermark": "2026-10-05T00:00:00Z"}  # not advanced by a failed load


def test_every_collector_run_is_recorded_for_freshness(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good" / "bill.csv", rows(3))
    ingest(wh, FocusFiles([str(good)], source="s"))
    ingest(wh, FocusFiles([str(good)], source="s"))  # unchanged: no load, still a successful run
    bad = tmp_path / "bad" / "bill.csv"
    bad.parent.mkdir()
    bad.write_text("BilledCost,BillingCurrency\nnot-a-number,USD\n")
    with pytest.raises(Exception, match=r"bill\.csv"):
        ingest(wh, FocusFiles([str(bad)], source="t"))
    runs = wh.execute(
        "SELECT source, status, rows, error IS NULL, finished_at >= started_at FROM collector_runs ORDER BY started_at"
    ).fetchall()
    assert runs == [("s", "loaded", 3, True, True), ("s", "unchanged", 0, True, True), ("t", "failed", 0, False, True)]
