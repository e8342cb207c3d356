"""`spendscope serve` as a subprocess: jobs in order, /readyz, the single writer, kill -9 and restart
(no skipped and no repeated ingest, from the ledger), and SIGTERM during a long ingest."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.collectors.focus import FocusFiles
from spendscope.generator.azure_exports import upload_tree as upload_to_blob
from spendscope.generator.azure_exports import write_azure_exports
from spendscope.generator.cur import upload_tree as upload_to_s3
from spendscope.generator.cur import write_cur
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from tests.conftest import rows, write_csv, write_parquet
from tests.servers.azurite import Azurite
from tests.servers.moto import MotoServer

from .conftest import Served, cli, wait_for

INTERVAL_S = 5.0
"""The AWS source's schedule: long enough that a restart (about 2 s) lands well inside one interval."""
TOLERANCE_S = 2.0
"""Scheduling slack on a shared 2-core machine: a run may start this much later than due."""


def _ledger(warehouse: Path, job: str) -> list[tuple[datetime, str, int]]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.execute(
            "SELECT started_at, status, pid FROM service_runs WHERE job = $j ORDER BY started_at", {"j": job}
        ).fetchall()
    finally:
        conn.close()


def _log_time(served: Served, msg: str, job: str | None = None) -> float:
    """Unix time of the first log line of ``served`` whose msg starts with ``msg`` (and of ``job``)."""
    for line in served.lines():
        if line["msg"].startswith(msg) and (job is None or line.get("job") == job):
            return datetime.fromisoformat(line["ts"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"no log line {msg!r} job={job} in {served.log}")


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_serve_runs_jobs_in_order_owns_the_warehouse_and_restarts_without_skips_or_repeats(
    serve: Callable[..., Served],
    demo_dir: Path,
    demo_warehouse: Path,
    moto: MotoServer,
    azurite_server: Azurite,
    azurite_container: Any,
    tmp_path: Path,
) -> None:
    # Sources: the demo bill's AWS part as CUR 2.0 deliveries in moto's S3, its Azure part as Cost
    # Management exports in Azurite.
    cur = write_cur(demo_dir / "data" / "focus" / "aws", tmp_path / "cur")
    upload_to_s3(cur.cur2_root, bucket="billing", s3_client=moto.client("s3"))
    exports = write_azure_exports(demo_dir / "data" / "focus" / "azure", tmp_path / "exports")
    upload_to_blob(exports.root, azurite_container)
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f"""warehouse = "{demo_warehouse}"

[[sources]]
name = "aws"
collector = "aws"
location = "s3://billing/exports/"
endpoint_url = "{moto.url}"
schedule = "every {INTERVAL_S:.0f}s"

[[sources]]
name = "azure"
collector = "azure"
location = "az://{azurite_container.container_name}/{exports.directory}"
schedule = "every 30s"

[service]
jitter_s = 0
ready_slack_s = 3
analyze_jobs = ["fx", "allocation"]
report_schedule = "off"
""",
        encoding="utf-8",
    )
    env = _env(SPENDSCOPE_AZURE__CONNECTION_STRING=azurite_server.connection_string)

    first = serve(config, env=env)
    seen = []

    def ready() -> bool:
        answer = first.get("/readyz")
        if answer is not None:
            seen.append(answer.status_code)
        return answer is not None and answer.status_code == 200

    wait_for(ready, timeout_s=60, what="/readyz 200")
    assert seen[0] == 503 and seen[-1] == 200  # /readyz went ready once the ingests succeeded
    wait_for(lambda: first.successes("export") >= 1, timeout_s=30, what="the first export")

    # One owner: a second serve and a concurrent ingest are refused, naming the owner's pid.
    in_use = f"warehouse in use by pid {first.proc.pid}; use the running service's API or stop it"
    second = serve(config, env=env, name="second")
    assert second.proc.wait(timeout=60) == 1
    assert in_use in second.log.read_text()
    extra = write_csv(tmp_path / "extra" / "oct.csv", rows(3))
    refused = cli("--config", str(config), "ingest", "focus", str(extra), "--source", "extra", env=env)
    assert refused.returncode == 1 and in_use in refused.stderr

    # kill -9 right after an AWS ingest, restart at once: the next ingest waits for its due time.
    done = first.successes("ingest:aws")
    wait_for(lambda: first.successes("ingest:aws") > done, timeout_s=INTERVAL_S + 5, what="an AWS ingest")
    first.kill()
    again = serve(config, env=env, name="again")
    wait_for(lambda: again.successes("ingest:aws") >= done + 2, timeout_s=INTERVAL_S + 20, what="ingest after restart")
    again.kill()
    # down for more than two intervals: the restarted service runs the missed ingest once, at once
    time.sleep(2 * INTERVAL_S + 1)
    last = serve(config, env=env, name="last")
    wait_for(lambda: last.successes("ingest:aws") >= done + 4, timeout_s=INTERVAL_S + 20, what="ingests of the last")
    assert last.stop() == 0

    runs = _ledger(demo_warehouse, "ingest:aws")
    assert {status for _, status, _ in runs} == {"succeeded"}
    starts = [started.timestamp() for started, _, _ in runs]
    pids = [pid for _, _, pid in runs]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= INTERVAL_S - 0.5, gaps  # never repeated (nor replayed after the downtime)
    downtime = pids.index(last.proc.pid)
    assert all(g <= INTERVAL_S + TOLERANCE_S for i, g in enumerate(gaps) if i != downtime - 1), gaps  # never skipped
    assert starts[downtime] - _log_time(last, "serving") < TOLERANCE_S  # the missed run ran at once, and once
    # the restart right after a run came up before that run's successor was due, and min(gaps) shows it waited
    restart = pids.index(again.proc.pid)
    assert _log_time(again, "serving") < starts[restart - 1] + INTERVAL_S

    # Jobs in order on the first start: ingest (both sources loaded) → analysis → export.
    conn = duckdb.connect(str(demo_warehouse), read_only=True)
    try:
        order = conn.execute(
            "SELECT job, changed FROM service_runs WHERE pid = $p ORDER BY started_at LIMIT 4", {"p": first.proc.pid}
        ).fetchall()
        counts = conn.execute(
            "SELECT source, count(*) FILTER (status = 'loaded'), count(*) FILTER (status = 'unchanged') "
            "FROM collector_runs WHERE source NOT LIKE 'demo-%' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        replaced = conn.execute("SELECT count(*) FROM ingests WHERE status = 'replaced'").fetchone()
    finally:
        conn.close()
    assert order == [("ingest:aws", True), ("ingest:azure", True), ("analyze", True), ("export", False)]
    # Loaded once each, never again: every later run found the deliveries unchanged (no double ingest).
    azure_runs = len(_ledger(demo_warehouse, "ingest:azure"))
    by_kind = {("aws" if src.startswith("s3://") else "azure"): (n, same) for src, n, same in counts}
    assert by_kind == {"aws": (1, len(runs) - 1), "azure": (1, azure_runs - 1)} and replaced == (0,)
    doctor = cli("--warehouse", str(demo_warehouse), "doctor")
    assert doctor.returncode == 0, doctor.stdout


def _big_parquet(path: Path, copies: int) -> Path:
    block = pq.read_table(write_parquet(path.with_suffix(".block.parquet"), rows(1000, BilledCost="2.00")))
    pq.write_table(pa.concat_tables([block] * copies), path, row_group_size=50_000)
    path.with_suffix(".block.parquet").unlink()
    return path


@pytest.mark.parametrize(
    ("copies", "timeout_s"),
    [(400, 1.0), (60, 60.0)],
    ids=["interrupted-after-timeout", "finishes-within-timeout"],
)
def test_sigterm_during_a_long_ingest(
    serve: Callable[..., Served], tmp_path: Path, copies: int, timeout_s: float
) -> None:
    warehouse = tmp_path / "w.duckdb"
    conn = open_warehouse(warehouse)
    ingest(conn, FocusFiles([str(write_csv(tmp_path / "old" / "oct.csv", rows(10)))], source="big"))  # 10 × 1.50
    conn.close()
    big = _big_parquet(tmp_path / "new" / "oct.parquet", copies)  # copies × 1000 rows × 2.00, same period
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f"""warehouse = "{warehouse}"
[[sources]]
name = "big"
paths = ["{big}"]
schedule = "every 1h"
[service]
jitter_s = 0
shutdown_timeout_s = {timeout_s}
report_schedule = "off"
""",
        encoding="utf-8",
    )
    served = serve(config, env=_env())
    wait_for(lambda: any(line["msg"] == "job started" for line in served.lines()), timeout_s=60, what="the ingest")
    time.sleep(0.5)
    signalled = time.monotonic()
    assert served.stop(timeout_s=120) == 0
    waited = time.monotonic() - signalled

    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        state = conn.execute("SELECT count(*), sum(BilledCost) FROM billing").fetchone()
        status = conn.execute("SELECT status FROM service_runs WHERE job = 'ingest:big'").fetchall()
    finally:
        conn.close()
    old, new = (10, 15), (copies * 1000, copies * 1000 * 2)
    assert state is not None and (int(state[0]), int(state[1])) in (old, new)
    if timeout_s < 10:
        # interrupted at the bound (plus the few seconds it may take to record it), rolled back to the old period
        assert waited < timeout_s + 8
        assert ((int(state[0]), int(state[1])), status) in ((old, [("interrupted",)]), (new, [("succeeded",)]))
    else:
        assert ((int(state[0]), int(state[1])), status) == (new, [("succeeded",)])  # it was let finish
    doctor = cli("--warehouse", str(warehouse), "doctor")
    assert doctor.returncode == 0, doctor.stdout
