"""Debian's prometheus-pushgateway on loopback (session-scoped), for batch-run metrics.

Skipped when the binary is absent (``make test-deps`` installs it), except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.servers import free_port


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus-pushgateway")
    if binary is None:
        reason = "prometheus-pushgateway is not installed: run `make test-deps` (Debian package)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    port = free_port()
    log_path = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            # Debian's build persists to /var/lib/prometheus/pushgateway.data by default, shared by every
            # instance: an empty persistence file keeps this one's metrics in memory only.
            [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file=", "--log.level=warn"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                        if response.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError):
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pushgateway did not become ready: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
