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
from pathlib import Path
from typing import IO

import pytest

from tests.servers import binary_or_skip, free_port, stop, wait_ready

CONFIG = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n"
"""No scrape targets: the backfilled blocks are the only data."""


def _binaries() -> tuple[str, str]:
    return binary_or_skip("promtool", package="prometheus"), binary_or_skip("prometheus", package="prometheus")


class _Servers:
    """Prometheus processes started in one test session, stopped (and their logs closed) at its end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[str]] = []

    def start(self, root: Path, config: str, tsdb: Path, *extra: str) -> str:
        """Run Prometheus with ``config`` on ``tsdb`` on a free loopback port; its base URL once ready."""
        _, prometheus = _binaries()
        config_file = root / "prometheus.yml"
        config_file.write_text(config)
        port = free_port()
        log_path = root / "prometheus.log"
        log = log_path.open("w")
        self.logs.append(log)
        command = [
            prometheus,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tsdb}",
            *extra,
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/-/ready", proc, log_path, what="prometheus")
        return url

    def stop_all(self) -> None:
        for proc in self.procs:
            stop(proc)
        for log in self.logs:
            log.close()


@pytest.fixture(scope="session")
def _prometheus_servers() -> Iterator[_Servers]:
    servers = _Servers()
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture(scope="session")
def prometheus_tsdb(tmp_path_factory: pytest.TempPathFactory, _prometheus_servers: _Servers) -> Callable[[str], str]:
    running: dict[str, str] = {}

    def start(openmetrics: str) -> str:
        if openmetrics in running:
            return running[openmetrics]
        promtool, _ = _binaries()
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
        running[openmetrics] = _prometheus_servers.start(root, CONFIG, tsdb, "--storage.tsdb.retention.time=100y")
        return running[openmetrics]

    return start


@pytest.fixture(scope="session")
def prometheus_scraper(tmp_path_factory: pytest.TempPathFactory, _prometheus_servers: _Servers) -> Callable[[str], str]:
    """A factory: given a target ``HOST:PORT`` serving /metrics, start Prometheus scraping it every second.

    Returns the server's base URL; samples are queryable after the first scrapes (poll, don't sleep).
    """

    def start(target: str) -> str:
        root = tmp_path_factory.mktemp("prometheus-scraper")
        config = (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n  - job_name: spendscope\n    static_configs:\n      - targets: ['{target}']\n"
        )
        return _prometheus_servers.start(root, config, root / "tsdb")

    return start
