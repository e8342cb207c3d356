"""Debian's prometheus-pushgateway on loopback (session-scoped), for batch-run metrics.

Skipped when the binary is absent (``make test-deps`` installs it), except under CI=true.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.servers import binary_or_skip, free_port, stop, wait_ready


@pytest.fixture(scope="session")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = binary_or_skip("prometheus-pushgateway", package="prometheus-pushgateway")
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
            wait_ready(f"{url}/-/ready", proc, log_path, what="pushgateway", timeout=30)
            yield url
        finally:
            stop(proc)
