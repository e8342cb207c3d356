"""The BigQuery emulator (PyPI bqemulator, DuckDB-backed) on loopback, one per session.

It lives in its own virtualenv (``.venv-bqemulator``, pins in ``bqemulator-requirements.txt``):
without it the tests skip locally, and fail under CI=true (run ``make test-deps``).
``server.client()`` is a google-cloud-bigquery client with AnonymousCredentials aimed at it.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port

BQEMULATOR = Path(__file__).resolve().parents[2] / ".venv-bqemulator" / "bin" / "bqemulator"
PROJECT = "test-proj"
_datasets = itertools.count(1)


@dataclass(frozen=True)
class BigQueryServer:
    url: str
    project: str = PROJECT

    def client(self, credentials: Any = None) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project,
            credentials=credentials or AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.url),
        )

    def new_dataset(self) -> str:
        """A fresh dataset name (``project.dsN``) so tests sharing the session never collide."""
        return f"{self.project}.ds{next(_datasets)}"


@pytest.fixture(scope="session")
def bigquery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryServer]:
    if not BQEMULATOR.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{BQEMULATOR} is missing: run `make test-deps` to install the BigQuery emulator")
        pytest.skip(f"{BQEMULATOR} is missing (the BigQuery emulator's virtualenv; `make test-deps` installs it)")
    port, grpc = free_port(), free_port()
    log = tmp_path_factory.mktemp("bqemulator") / "bqemulator.log"
    cmd = [
        str(BQEMULATOR), "start", "--rest-host", "127.0.0.1", "--rest-port", str(port),
        "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc), "--ephemeral", "--project", PROJECT,
    ]  # fmt: skip
    with log.open("w") as fh, subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT) as proc:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/bigquery/v2/projects/{PROJECT}/datasets", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"bqemulator did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        try:
            yield BigQueryServer(url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
