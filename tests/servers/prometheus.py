"""Debian's Prometheus over a TSDB backfilled from OpenMetrics text, on loopback.

``prometheus_tsdb`` (session-scoped) is a factory: give it OpenMetrics text (ending ``# EOF``) and it
runs ``promtool tsdb create-blocks-from openmetrics`` into a fresh data directory, starts
``prometheus`` on it (retention 100y, so old samples stay) on a free port, waits for ``/-/ready`` and
returns the base URL. The same text gives the same server; every server stops at the end of the
session. Samples must be older than about two hours before now (promtool's blocks are then
complete): use past dates such as 2026-10. Skipped when the binaries are absent (``make test-deps``
installs them), except under CI=true where that fails.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import IO

import pytest

from tests.servers import binary_or_skip, free_port, stop, wait_ready

CONFIG = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n"
"""No scrape targets: the backfilled blocks are the only data."""


def _binaries() -> tuple[str, str]:
    return binary_or_skip("promtool", package="prometheus"), binary_or_skip("prometheus", package="prometheus")


@pytest.fixture(scope="session")
def prometheus_tsdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    running: dict[str, str] = {}
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[IO[str]] = []

    def start(openmetrics: str) -> str:
        if openmetrics in running:
            return running[openmetrics]
        promtool, prometheus = _binaries()
        root = tmp_path_factory.mktemp("prometheus")
        source = root / "backfill.om"
        source.write_text(openmetrics)
        tsdb = root / "tsdb"
        backfill = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if backfill.returncode != 0:
            raise RuntimeError(f"promtool backfill failed: {(backfill.stdout + backfill.stderr)[-2000:]}")
        config = root / "prometheus.yml"
        config.write_text(CONFIG)
        port = free_port()
        log_path = root / "prometheus.log"
        log = log_path.open("w")
        logs.append(log)
        command = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/-/ready", proc, log_path, what="prometheus")
        running[openmetrics] = url
        return url

    try:
        yield start
    finally:
        for proc in procs:
            stop(proc)
        for log in logs:
            log.close()


@pytest.fixture(scope="session")
def prometheus_scraper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """A factory: given a target ``HOST:PORT`` serving /metrics, start Prometheus scraping it every second.

    Returns the server's base URL; samples are queryable after the first scrapes (poll, don't sleep).
    """
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[IO[str]] = []

    def start(target: str) -> str:
        _, prometheus = _binaries()
        root = tmp_path_factory.mktemp("prometheus-scraper")
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n  - job_name: spendscope\n    static_configs:\n      - targets: ['{target}']\n"
        )
        port = free_port()
        log_path = root / "prometheus.log"
        log = log_path.open("w")
        logs.append(log)
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/-/ready", proc, log_path, what="prometheus")
        return url

    try:
        yield start
    finally:
        for proc in procs:
            stop(proc)
        for log in logs:
            log.close()
