"""Real servers for the tests, started on 127.0.0.1 on free ports (see ../shared/COMPONENTS.md)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def binary_or_skip(*names: str, package: str) -> str:
    """The first of ``names`` on PATH; else skip (``make test-deps`` installs it), or fail under CI=true."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    reason = f"{names[0]} is not installed: run `make test-deps` (Debian package {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, *, what: str, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; raise with the server's log when it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not become ready: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
