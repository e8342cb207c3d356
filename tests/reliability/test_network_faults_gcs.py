"""Network faults between the GCP export collector and GCS (fake-gcs-server behind the fault proxy).

Each fault (HTTP 500, 503, 429, a TCP reset, a stall) hits either every GCS call or only the download of the
export file. The calls carry the ``timeout=`` and ``retry=`` that ``gcp_sources`` derives from short
``NetworkSettings`` (what ``[network]`` sets in config): google-cloud-storage's own retry (429, 5xx, resets,
timeouts) retries — the proxy counts more than one faulted request — until its deadline, then the run fails with
one line naming the GCS call and the object, nothing is loaded; the next run, with the network healthy, loads the
month with the totals of tests/gcp/gcp_rows.py (Σ BilledCost 13.45, by hand in its docstring).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from spendscope.collectors.gcp.billing import gcp_sources
from spendscope.collectors.network import NetworkSettings
from spendscope.pipeline import ingest
from tests.gcp.gcp_rows import credit_rows, write_jsonl
from tests.servers.gcs import GcsServer

from .figures import FIGURES, trial
from .network import fault_then_resume

NETWORK = NetworkSettings(connect_timeout_s=2, read_timeout_s=2, retry_backoff_s=0.05, retry_deadline_s=2)
STALL_NETWORK = NetworkSettings(connect_timeout_s=1, read_timeout_s=1, retry_backoff_s=0.05, retry_deadline_s=2)
LOCATION = "gs://billing-copies/exports/"
MESSAGES: dict[str, str] = {}
FIGURE = "network faults GCS (fake-gcs-server): retried, failed cleanly, resumed"

# After a TCP reset, google-cloud-storage's requests transport leaves a closed socket in a reference cycle (even
# with the clients closed): the SDK's transport, not a spendscope leak. Left to the garbage collector, its
# ResourceWarning lands in whichever test runs next, in another module (it failed the AWS executor's test).
# So each test here collects its own garbage on teardown, where exactly that warning is ignored; and a collection
# that happens to run mid-test here reports it as unraisable, ignored for this module alone.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _collect_reset_sockets() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"unclosed <socket\.socket", category=ResourceWarning)
        gc.collect()


def _deliver(gcs: GcsServer, tmp: Path) -> None:
    client = gcs.client()
    try:
        bucket = client.create_bucket("billing-copies")
        bucket.blob("exports/202611/part-0.jsonl").upload_from_filename(
            str(write_jsonl(tmp / "p.jsonl", credit_rows()))
        )
    finally:
        client.close()


def _client(url: str) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(credentials=AnonymousCredentials(), project="test", client_options={"api_endpoint": url})


def _run(wh: duckdb.DuckDBPyConnection, url: str, network: NetworkSettings) -> list[str]:
    client = _client(url)
    try:  # closed, so a connection the proxy reset is not left for the garbage collector (a ResourceWarning)
        return [ingest(wh, s).status for s in gcp_sources(LOCATION, storage_client=client, network=network)]
    finally:
        client.close()


def _billed(wh: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    return wh.execute("SELECT sum(BilledCost) FROM billing").fetchone()


@pytest.mark.parametrize("target", ["", "alt=media"], ids=["every-call", "data-download"])
@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_gcs_fault_retried_then_clean_failure_then_resume(
    fault: str, target: str, wh: duckdb.DuckDBPyConnection, gcs: GcsServer, tmp_path: Path
) -> None:
    with trial(FIGURE):
        _deliver(gcs, tmp_path)
        out = fault_then_resume(
            wh, gcs.url, lambda url: _run(wh, url, NETWORK), fault=fault, target=target, names=LOCATION.rstrip("/")
        )
        MESSAGES.setdefault(fault, out.message)
        assert ("storage.download_to_filename" if target else "storage.list_blobs") in out.message, out.message
        assert out.faulted > 1, out.seen  # google's Retry retried
        assert _billed(wh) == (Decimal("13.45"),)
    FIGURES["network fault errors (GCS)"] = "; ".join(f"{k}: {v}" for k, v in sorted(MESSAGES.items()))


@pytest.mark.parametrize("target", ["", "alt=media"], ids=["every-call", "data-download"])
def test_gcs_stall_times_out_within_bounds_then_resumes(
    target: str, wh: duckdb.DuckDBPyConnection, gcs: GcsServer, tmp_path: Path
) -> None:
    """A stalled endpoint (accepts, never answers): 1 s read timeouts, retried until the 2 s deadline, not
    google-cloud-storage's default 60 s timeout retried for 120 s."""
    with trial(FIGURE):
        _deliver(gcs, tmp_path)
        out = fault_then_resume(
            wh,
            gcs.url,
            lambda url: _run(wh, url, STALL_NETWORK),
            fault="stall",
            target=target,
            names=LOCATION.rstrip("/"),
        )
        assert out.faulted >= 2, out.seen  # the first attempt and a retry
        assert _billed(wh) == (Decimal("13.45"),)
    elapsed = out.seconds
    FIGURES[f"stall to clean failure, GCS {target or 'every call'}"] = f"{elapsed:.1f} s"
