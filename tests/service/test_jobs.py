"""The service's pure rules, checked against hand-computed times: schedules, the first run after a start
(missed runs once, due runs not early), readiness, the jobs the config declares, JSON logs; and the
provider kinds of [[sources]]."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spendscope.config import Settings, load_settings
from spendscope.errors import ConfigError
from spendscope.service.jobs import JobSpec, LedgerView, first_run, job_specs, readiness
from spendscope.service.logs import configure_json_logging, run_context
from spendscope.service.schedule import parse_schedule

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
EVERY_MINUTE = parse_schedule("every 60s")


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "interval_s", "cron"),
    [
        ("every 90s", 90.0, None),
        ("every 1.5h", 5400.0, None),  # 1.5 × 3600
        ("Every  15m", 900.0, None),
        ("every 2d", 172800.0, None),
        ("0 6 3 * *", None, "0 6 3 * *"),
        ("*/5 * * * mon-fri", None, "*/5 * * * mon-fri"),
    ],
)
def test_schedules_parse(text: str, interval_s: float | None, cron: str | None) -> None:
    schedule = parse_schedule(text)
    assert (schedule.interval_s, schedule.cron) == (interval_s, cron)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every 0s", "shortest interval is 1s"),
        ("hourly", "use 'every 15m'"),
        ("0 0 * * 1", "name the weekdays"),  # crontab's Monday, apscheduler 3's Tuesday
        ("61 * * * *", "61"),
        ("every 5 weeks", "use 'every 15m'"),
    ],
)
def test_bad_schedules_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_schedule(text)


def test_next_due_times() -> None:
    assert EVERY_MINUTE.next_after(NOW) == _at(60)
    monthly = parse_schedule("0 6 3 * *")
    assert monthly.next_after(datetime(2026, 11, 3, 6, 0, tzinfo=UTC)) == datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
    assert monthly.next_after(datetime(2026, 11, 3, 5, 59, tzinfo=UTC)) == datetime(2026, 11, 3, 6, 0, tzinfo=UTC)
    assert monthly.period_s(datetime(2026, 11, 3, 7, 0, tzinfo=UTC)) == 31 * 86400  # Dec 3 → Jan 3


INGEST = JobSpec("ingest:aws", "ingest", EVERY_MINUTE)
ANALYZE = JobSpec("analyze", "analyze", None, after="ingest", rank=1)
REPORT = JobSpec("report", "report", parse_schedule("0 6 3 * *"), run_if_never=False, rank=3)


@pytest.mark.parametrize(
    ("spec", "seen", "expected"),
    [
        (INGEST, LedgerView(), NOW),  # never ran: run now
        (INGEST, LedgerView(last_success_started=_at(-10)), _at(50)),  # ran 10 s ago: due at +50 s, not now
        (INGEST, LedgerView(last_success_started=_at(-200)), NOW),  # three runs missed: one run, now
        (REPORT, LedgerView(), datetime(2026, 12, 3, 6, 0, tzinfo=UTC)),  # never ran: waits for its first time
        (REPORT, LedgerView(last_success_started=datetime(2026, 10, 3, 6, 0, tzinfo=UTC)), NOW),  # Nov 3 missed
        (ANALYZE, LedgerView(), None),  # nothing upstream: only when asked
        (ANALYZE, LedgerView(upstream_changed=_at(-5)), NOW),  # data loaded, never analysed
        (ANALYZE, LedgerView(last_success_started=_at(-3), upstream_changed=_at(-5)), None),  # already analysed
        (ANALYZE, LedgerView(last_success_started=_at(-9), upstream_changed=_at(-5)), NOW),  # loaded since
    ],
)
def test_first_run_after_a_start(spec: JobSpec, seen: LedgerView, expected: datetime | None) -> None:
    assert first_run(spec, seen, now=NOW) == expected


@pytest.mark.parametrize(
    ("spec", "seen", "ok", "detail"),
    [
        (INGEST, LedgerView(last_success_started=_at(-70)), True, "last success"),  # due at -10 s, slack 30 s
        (INGEST, LedgerView(last_success_started=_at(-95)), False, "late"),  # due at -35 s: past the slack
        (INGEST, LedgerView(), False, "no successful run yet"),
        (REPORT, LedgerView(), True, "nothing due yet"),  # its first time (Dec 3) has not come
        (ANALYZE, LedgerView(upstream_changed=_at(-20)), True, "nothing due yet"),  # within the slack
        (ANALYZE, LedgerView(last_success_started=_at(-90), upstream_changed=_at(-40)), False, "behind"),
        (ANALYZE, LedgerView(last_success_started=_at(-30), upstream_changed=_at(-40)), True, "last success"),
    ],
)
def test_readiness(spec: JobSpec, seen: LedgerView, ok: bool, detail: str) -> None:
    check = readiness(spec, seen, now=NOW, service_started=_at(-600), jitter_s=0, slack_s=30)
    assert (check.name, check.ok) == (spec.id, ok) and check.detail.startswith(detail)


def test_report_not_ready_once_its_first_time_passed_without_a_success() -> None:
    started = datetime(2026, 11, 1, tzinfo=UTC)
    check = readiness(REPORT, LedgerView(), now=NOW, service_started=started, jitter_s=0, slack_s=30)
    assert not check.ok  # due Nov 3 06:00, never succeeded


def test_jobs_declared_by_the_config(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text(
        '[[sources]]\nname = "files"\npaths = ["x"]\n'
        '[[sources]]\nname = "cur"\ncollector = "aws"\nlocation = "s3://b/p"\nschedule = "15 * * * *"\n'
        '[service]\ningest_schedule = "every 2h"\nreport_schedule = "off"\n'
        '[alertmanager]\nurl = "http://127.0.0.1:9093"\n',
        encoding="utf-8",
    )
    specs = {s.id: s for s in job_specs(load_settings(config))}
    assert list(specs) == ["ingest:files", "ingest:cur", "analyze", "export"]
    assert specs["ingest:files"].schedule == parse_schedule("every 2h")  # the service's default
    assert specs["ingest:cur"].schedule == parse_schedule("15 * * * *")
    assert specs["analyze"].schedule is None and specs["analyze"].after == "ingest"
    assert specs["export"].schedule == parse_schedule("every 15m")  # alerts re-sent with a url set
    assert [s.id for s in job_specs(Settings())] == ["analyze", "export", "report"]


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ('[[sources]]\nname = "a"\ncollector = "aws"\nlocation = "s3://b"\nfoo = 1\n', "unknown key"),
        ('[[sources]]\nname = "a"\ncollector = "ftp"\nlocation = "x"\n', "collector must be focus"),
        ('[[sources]]\nname = "a"\ncollector = "gcp"\nlocation = "bq://p.d"\nperiod = "2026-13"\n', "period"),
        ('[[sources]]\nname = "a"\npaths = ["x"]\nschedule = "0 0 * * 1"\n', "name the weekdays"),
        ('[service]\nlisten = "0.0.0.0:80"\njitter_s = -1\n', "service.jitter_s"),
        ('[service]\nanalyze_jobs = ["allocation", "magic"]\n', "unknown analysis job.s. magic"),
    ],
)
def test_source_and_service_config_errors(tmp_path: Path, toml: str, error: str) -> None:
    config = tmp_path / "s.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_settings(config)


def test_json_logs_carry_the_job_and_run_id() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_json_logging(stream=stream)
        log = logging.getLogger("spendscope.test")
        log.info("before")
        with run_context("ingest:aws", "abc123"):
            log.info("loaded rows=%d", 3)
        log.warning("after")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["msg"], x.get("job"), x.get("run_id"), x["level"]) for x in lines] == [
        ("before", None, None, "info"),
        ("loaded rows=3", "ingest:aws", "abc123", "info"),
        ("after", None, None, "warning"),
    ]
    assert lines[0]["ts"].endswith("Z") and lines[0]["logger"] == "spendscope.test"
