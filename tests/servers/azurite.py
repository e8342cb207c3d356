"""Azurite (Azure Blob storage emulator, npm azurite 3.35.0) on loopback, one per test session.

Started from ``tests/servers/node/node_modules/.bin/azurite-blob`` (``make test-deps`` installs it)
with ``--skipApiVersionCheck`` (the current azure-storage-blob SDK sends an API version Azurite does
not know yet). Clients use the well-known development account ``devstoreaccount1``: its key is
public, documented by Microsoft for the emulator, and not a secret. ``azurite_container`` gives each
test a fresh, empty container.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port

AZURITE_BIN = Path(__file__).resolve().parent / "node" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class Azurite:
    port: int

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def service_client(self, **kwargs: Any) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string, **kwargs)


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not AZURITE_BIN.exists():
        pytest.fail(f"{AZURITE_BIN} is missing: run `make test-deps` (installs Azurite 3.35.0 from npm)")
    port = free_port()
    data = tmp_path_factory.mktemp("azurite")
    log = data / "azurite.log"
    command = [
        str(AZURITE_BIN),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--location", str(data / "store"),
        "--silent",
        "--skipApiVersionCheck",
        "--disableTelemetry",
    ]  # fmt: skip
    with log.open("w") as fh, subprocess.Popen(command, stdout=fh, stderr=subprocess.STDOUT) as proc:
        server = Azurite(port)
        deadline = time.monotonic() + 30
        while True:
            try:  # any HTTP answer (even 400 for this bare request) means it listens
                urllib.request.urlopen(f"{server.blob_endpoint}?comp=list", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"azurite-blob did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        try:
            yield server
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def azurite_container(azurite_server: Azurite) -> Iterator[Any]:
    """A new, empty container (a ContainerClient) on the session's Azurite, deleted after the test."""
    service = azurite_server.service_client()
    container = service.create_container(f"test-{uuid.uuid4().hex[:12]}")
    try:
        yield container
    finally:
        container.delete_container()
        service.close()
