"""Crash consistency: SIGKILL an ingest subprocess at seeded random points; the warehouse keeps the old or new state.

Each trial copies a warehouse holding the old October (10 rows), starts ``spendscope -v ingest focus`` on a
generated October (50,000 rows, one Parquet file), and kills it either a random time after start (anywhere: imports,
planning, inside the transaction, after it) or a random short delay after a chosen ``phase=`` log line (insert and
checks, on the staging table; publish and commit, inside the write transaction that replaces the unit). Where the
kill landed is read back from the log lines the process wrote before it died. After each kill the warehouse must
open, pass ``run_doctor`` (ledger vs rows, totals vs ledger, schema version) and hold exactly the old or the new
state; the next run then loads the new state. SPENDSCOPE_CRASH_TRIALS raises the count (CI runs the default 30).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.doctor import run_doctor

from ..conftest import rows, write_csv, write_parquet

TRIALS = int(os.environ.get("SPENDSCOPE_CRASH_TRIALS", "30"))
SEED = 20261125
COPIES = 50  # blocks of 1,000 rows
PHASES = ("insert", "checks", "publish", "commit")
IN_TRANSACTION = ("publish", "commit")


def _block_cost(i: int) -> str:
    return f"{i % 7 + 1}.{i % 100:02d}"  # 1.00 … 7.99: one block sums to a hand-checkable figure


def _month(path: Path) -> tuple[int, Decimal]:
    """A generated October: 1,000 rows spread over its 31 days, repeated COPIES times; returns (rows, BilledCost)."""
    data = rows(
        1000,
        BilledCost=_block_cost,
        EffectiveCost=_block_cost,
        ChargePeriodStart=lambda i: f"2026-10-{i % 31 + 1:02d}T00:00:00Z",
        ChargePeriodEnd=lambda i: f"2026-10-{i % 31 + 1:02d}T01:00:00Z",
        ResourceId=lambda i: f"i-{i:05d}",
    )
    block = pq.read_table(write_parquet(path.with_suffix(".block.parquet"), data))
    pq.write_table(pa.concat_tables([block] * COPIES), path, row_group_size=10_000)
    per_block = sum((Decimal(_block_cost(i)) for i in range(1000)), Decimal(0))
    return 1000 * COPIES, per_block * COPIES


def _state(path: Path) -> tuple[int, Decimal]:
    conn = open_warehouse(path)
    try:
        errors = [f for f in run_doctor(conn) if f.level == "error"]
        assert errors == [], errors
        row = conn.execute("SELECT count(*), coalesce(sum(BilledCost), 0) FROM billing").fetchone()
        assert row is not None
        return int(row[0]), Decimal(row[1])
    finally:
        conn.close()


def _command(wh: Path, new_file: Path) -> list[str]:
    return [sys.executable, "-m", "spendscope.cli", "--warehouse", str(wh), "-v", "ingest", "focus", str(new_file)]


def _landing(lines: list[str], finished: bool) -> str:
    """Where the kill landed, from the log lines written before it: before/<phase>/after the transaction."""
    if finished or any("loaded source=" in line for line in lines):
        return "after"
    seen = [p for line in lines for p in PHASES if f"phase={p} " in line]
    return f"in-{seen[-1]}" if seen else "before"


def _trial(wh: Path, new_file: Path, rng: random.Random, span_s: float, load_s: float) -> str:
    lines: list[str] = []
    phase_seen = {p: threading.Event() for p in PHASES}
    with subprocess.Popen(
        [*_command(wh, new_file), "--source", "s"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        stream = proc.stderr

        def read() -> None:
            for line in stream:
                lines.append(line)
                for p in PHASES:
                    if f"phase={p} " in line:
                        phase_seen[p].set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        mode = rng.random()
        if mode < 0.2:  # anywhere in the run, imports and planning included
            time.sleep(rng.uniform(0.0, span_s))
        elif mode < 0.6:  # anywhere in the load: a random delay after the transaction began
            phase_seen["insert"].wait(timeout=60)
            time.sleep(rng.uniform(0.0, load_s))
        else:  # a chosen phase of the load, then a short random delay; the write transaction twice as often
            phase_seen[rng.choice([*PHASES, *IN_TRANSACTION])].wait(timeout=60)
            time.sleep(rng.uniform(0.0, 0.02))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(timeout=10)
    return _landing(lines, finished and proc.returncode == 0)


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_old_or_new_state(tmp_path: Path, figures: dict[str, str]) -> None:
    base = tmp_path / "base.duckdb"
    conn = open_warehouse(base)
    ingest(conn, FocusFiles([str(write_csv(tmp_path / "old" / "oct.csv", rows(10)))], source="s"))
    conn.close()
    old = (10, Decimal("15.00"))  # 10 × 1.50
    new_file = tmp_path / "new" / "oct.parquet"
    new = _month(new_file)

    # One uninterrupted run: it must load the new state, and its duration bounds the random kill times.
    timed = tmp_path / "timed.duckdb"
    shutil.copy(base, timed)
    started = time.perf_counter()
    insert_at = span_s = 0.0
    with subprocess.Popen(
        [*_command(timed, new_file), "--source", "s"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "phase=insert " in line:
                insert_at = time.perf_counter() - started
    span_s = time.perf_counter() - started
    load_s = span_s - insert_at
    assert proc.returncode == 0 and insert_at > 0
    assert _state(timed) == new

    rng = random.Random(SEED)
    landed: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    for trial in range(TRIALS):
        wh = tmp_path / f"trial{trial}.duckdb"
        shutil.copy(base, wh)
        where = _trial(wh, new_file, rng, span_s, load_s)
        landed[where] += 1
        try:
            state = _state(wh)
            assert state in (old, new), f"half-written state {state}"
            outcomes["old" if state == old else "new"] += 1
            if where in ("before", "in-insert", "in-checks"):  # billing untouched until publish
                assert state == old, f"killed {where} but the new state is visible"
            if trial % 5 == 0:  # the next run resumes: it loads the new state over whatever the kill left
                conn = open_warehouse(wh)
                ingest(conn, FocusFiles([str(new_file)], source="s"))
                conn.close()
                assert _state(wh) == new
        except AssertionError as exc:
            failures.append(f"trial {trial} ({where}): {exc}")
        wh.unlink()
        wh.with_suffix(".duckdb.wal").unlink(missing_ok=True)

    inside = sum(n for where, n in landed.items() if where.removeprefix("in-") in IN_TRANSACTION)
    figures["crash trials survived / total"] = f"{TRIALS - len(failures)} / {TRIALS}"
    figures["crash kills landed"] = ", ".join(f"{k}={v}" for k, v in sorted(landed.items())) + (
        f" (inside the write transaction: {inside}); outcomes {dict(outcomes)};"
        f" uninterrupted run {span_s:.2f} s, of which load {load_s:.2f} s"
    )
    assert failures == []
    assert inside >= TRIALS / 3, landed
