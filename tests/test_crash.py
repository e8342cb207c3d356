"""SIGKILL in the middle of an ingest: the reopened warehouse holds the old state or the new, never a half."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.doctor import run_doctor

from .conftest import rows, write_csv, write_parquet

TRIALS = int(os.environ.get("SPENDSCOPE_CRASH_TRIALS", "6"))


def _big_parquet(path: Path, copies: int) -> Path:
    block = pq.read_table(write_parquet(path.with_suffix(".block.parquet"), rows(1000, BilledCost="2.00")))
    pq.write_table(pa.concat_tables([block] * copies), path, row_group_size=50_000)
    return path


def _state(path: Path) -> tuple[int, Decimal]:
    conn = open_warehouse(path)
    try:
        assert [f for f in run_doctor(conn) if f.level == "error"] == []
        row = conn.execute("SELECT count(*), coalesce(sum(BilledCost), 0) FROM billing").fetchone()
        assert row is not None
        return int(row[0]), Decimal(row[1])
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_during_ingest_leaves_old_or_new_state(tmp_path: Path) -> None:
    base = tmp_path / "base.duckdb"
    conn = open_warehouse(base)
    old_file = write_csv(tmp_path / "old" / "oct.csv", rows(10))  # old state: 10 × 1.50
    ingest(conn, FocusFiles([str(old_file)], source="s"))
    conn.close()
    old = (10, Decimal("15.00"))
    new_file = _big_parquet(tmp_path / "new" / "oct.parquet", copies=400)  # 400,000 × 2.00
    new = (400_000, Decimal("800000.00"))

    # One uninterrupted run measures how long the load takes, so kills spread over all of it.
    timed = tmp_path / "timed.duckdb"
    shutil.copy(base, timed)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spendscope.cli",
            "--warehouse",
            str(timed),
            "ingest",
            "focus",
            str(new_file),
            "--source",
            "s",
        ],
        check=True,
        capture_output=True,
    )
    duration = time.perf_counter() - started
    assert _state(timed) == new

    rng = random.Random(20261125)
    outcomes = {"old": 0, "new": 0}
    inside = 0
    for trial in range(TRIALS):
        wh = tmp_path / f"trial{trial}.duckdb"
        shutil.copy(base, wh)
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "spendscope.cli",
                "--warehouse",
                str(wh),
                "-v",
                "ingest",
                "focus",
                str(new_file),
                "--source",
                "s",
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        ) as proc:
            assert proc.stderr is not None
            phase = ""
            for line in proc.stderr:
                if "phase=insert" in line:
                    phase = "insert"
                    break
            time.sleep(rng.uniform(0.0, duration))
            if proc.poll() is None:
                inside += 1
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert phase == "insert"
        state = _state(wh)
        assert state in (old, new), f"trial {trial}: half-written state {state}"
        outcomes["old" if state == old else "new"] += 1
    print(f"crash trials: {TRIALS}, killed inside the load: {inside}, outcomes: {outcomes}")
    assert inside >= TRIALS // 3
