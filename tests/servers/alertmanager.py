"""Debian's Prometheus Alertmanager on loopback, with a webhook receiver that records its notifications.

``alertmanager`` (session-scoped) starts ``prometheus-alertmanager`` on a free port with a temporary
storage path and no cluster listener, routing every alert to its own group (``group_by: ['...']``,
group_wait 0 s, group_interval 1 s) and on to a webhook on loopback with ``send_resolved``: the
webhook's payloads show an alert firing and then ``resolved``. Tests share the server: give each
test's alerts a label of its own (``extra_labels``). Skipped when the binary is absent (``make
test-deps`` installs it), except under CI=true where that fails.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.servers import binary_or_skip, free_port, stop, wait_ready

CONFIG = """\
route:
  receiver: webhook
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: webhook
    webhook_configs:
      - url: http://127.0.0.1:{webhook_port}/hook
        send_resolved: true
"""


@dataclass
class Alertmanager:
    url: str
    notifications: list[dict[str, Any]] = field(default_factory=list)
    """Webhook payloads received (version 4: status, alerts[{status, labels, ...}]), oldest first."""

    def notified(self, status: str, **labels: str) -> list[dict[str, Any]]:
        """Alerts of the received notifications with this status whose labels include ``labels``."""
        return [
            alert
            for payload in list(self.notifications)
            for alert in payload.get("alerts", [])
            if alert.get("status") == status and labels.items() <= alert.get("labels", {}).items()
        ]


def _binary() -> str:
    return binary_or_skip("prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager")


def _webhook(received: list[dict[str, Any]]) -> ThreadingHTTPServer:
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", free_port()), Hook)


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    binary = _binary()
    root = tmp_path_factory.mktemp("alertmanager")
    received: list[dict[str, Any]] = []
    hook = _webhook(received)
    hook_thread = threading.Thread(target=hook.serve_forever, daemon=True)
    hook_thread.start()
    config = root / "alertmanager.yml"
    config.write_text(CONFIG.format(webhook_port=hook.server_address[1]))
    port = free_port()
    log_path = root / "alertmanager.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(f"{url}/-/ready", proc, log_path, what="alertmanager", timeout=30)
            yield Alertmanager(url, received)
        finally:
            stop(proc)
            hook.shutdown()
            hook.server_close()
