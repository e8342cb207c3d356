"""Fixtures of the service tests: the demo warehouse (built once), and `spendscope serve` as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`spendscope demo` once per session (three generated months, ingested and analysed)."""
    root = tmp_path_factory.mktemp("demo") / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "GOOGLE_", "SPENDSCOPE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "spendscope.cli", "demo", "--dir", str(root), "--rows", "8000"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return root


@pytest.fixture
def demo_warehouse(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo warehouse."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_dir / "warehouse.duckdb", target)
    return target


def wait_for(check: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Served:
    """A `spendscope serve` process: its HTTP base URL and its JSON-lines log."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    launched: float = field(default_factory=time.time)

    def get(self, path: str, **kwargs: Any) -> httpx.Response | None:
        """GET, or None while the server does not answer yet."""
        try:
            return httpx.get(self.url + path, timeout=5, **kwargs)
        except httpx.TransportError:
            return None

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def successes(self, job: str) -> int:
        """The job's successful runs in the ledger, as the service's API reports them (0 until it answers)."""
        answer = self.get("/api/v1/jobs")
        if answer is None or answer.status_code != 200:
            return 0
        return next((j["successes"] for j in answer.json()["jobs"] if j["id"] == job), 0)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `spendscope --config CONFIG serve` on a free port; every process is killed at teardown."""
    started: list[Served] = []

    def start(config: Path, *, env: dict[str, str] | None = None, name: str = "serve") -> Served:
        port = free_port()
        log = tmp_path / f"{name}-{len(started)}.log"
        command = [sys.executable, "-m", "spendscope.cli", "--config", str(config), "serve"]
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [*command, "--listen", f"127.0.0.1:{port}"], stdout=fh, stderr=subprocess.STDOUT, env=env
            )
        served = Served(proc, f"http://127.0.0.1:{port}", log)
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.kill()


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spendscope.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
