"""Network faults between the Azure exports collector and Blob storage (Azurite behind the fault proxy).

Each fault (HTTP 500, 503, 429, a TCP reset, a stall) hits either every Blob call or only the download of the
export's part files. The client comes from ``azure_sources`` with short ``NetworkSettings`` (what ``[network]``
sets in config), so what is tested is the production client: azure-storage-blob's ExponentialRetry retries
(the proxy counts more than one faulted request), then the run fails with one line naming the Blob call and the
blob, nothing is loaded; the next run, with the network healthy, loads the month with the totals of
tests/azure/azure_rows.py (Σ BilledCost 58.91, Σ EffectiveCost 36.81, by hand in its docstring).

429: azure-storage-blob does not retry it (its policy retries 408 and 5xx; Azure Storage throttles with
503 ServerBusy and never sends 429), so the proxy sees exactly one 429 and the run stops at once as Throttled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from spendscope.collectors.azure.exports import azure_sources
from spendscope.collectors.network import NetworkSettings
from spendscope.generator.azure_exports import upload_tree
from spendscope.pipeline import ingest
from tests.azure.azure_rows import BILLED_TOTAL, EFFECTIVE_TOTAL, month_rows, write_run
from tests.servers.azurite import ACCOUNT, ACCOUNT_KEY

from .figures import FIGURES, trial
from .network import fault_then_resume

NETWORK = NetworkSettings(
    connect_timeout_s=2, read_timeout_s=2, max_attempts=2, retry_backoff_s=0.05
)  # one retry, after 2.05 s
STALL_NETWORK = NetworkSettings(connect_timeout_s=1, read_timeout_s=1, max_attempts=2, retry_backoff_s=0.05)
DIRECTORY = "billingAccounts/86412957"
MESSAGES: dict[str, str] = {}
FIGURE = "network faults Blob (Azurite): retried, failed cleanly, resumed"


def _deliver(container: Any, tmp: Path) -> None:
    """The hand-written month as an actual and an amortized partitioned run (2 part files each)."""
    for dataset, export, kind in (
        ("actual", "acme-actual", "ActualCost"),
        ("amortized", "acme-amortized", "AmortizedCost"),
    ):
        write_run(tmp, directory=DIRECTORY, export=export, dataset=kind, rows=month_rows(dataset), parts=2)
    upload_tree(tmp, container)


def _connection_string(url: str) -> str:
    """The emulator's well-known development account (public, not a secret), its Blob endpoint at ``url``."""
    return f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={url}/{ACCOUNT};"


def _run(wh: duckdb.DuckDBPyConnection, location: str, url: str, network: NetworkSettings) -> list[str]:
    sources = azure_sources(location, connection_string=_connection_string(url), network=network)
    return [ingest(wh, s).status for s in sources]


def _totals(wh: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
    return wh.execute("SELECT sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone()


@pytest.mark.parametrize("target", ["", "/part_"], ids=["every-call", "data-download"])
@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_blob_fault_retried_then_clean_failure_then_resume(
    fault: str, target: str, wh: duckdb.DuckDBPyConnection, azurite_container: Any, tmp_path: Path
) -> None:
    with trial(FIGURE):
        _deliver(azurite_container, tmp_path / "exports")
        location = f"az://{azurite_container.container_name}/{DIRECTORY}"
        out = fault_then_resume(
            wh,
            f"http://127.0.0.1:{_port(azurite_container)}",
            lambda url: _run(wh, location, url, NETWORK),
            fault=fault,
            target=target,
            names=azurite_container.container_name,
        )
        MESSAGES.setdefault(fault, out.message)
        assert ("download_blob" if target else "list_blobs") in out.message, out.message
        if fault == "429":
            assert out.faulted == 1, out.seen  # not retried: see the module docstring
        else:
            assert out.faulted > 1, out.seen  # the SDK retried
        assert _totals(wh) == (BILLED_TOTAL, EFFECTIVE_TOTAL)
    FIGURES["network fault errors (Blob)"] = "; ".join(f"{k}: {v}" for k, v in sorted(MESSAGES.items()))


@pytest.mark.parametrize("target", ["", "/part_"], ids=["every-call", "data-download"])
def test_blob_stall_times_out_within_bounds_then_resumes(
    target: str, wh: duckdb.DuckDBPyConnection, azurite_container: Any, tmp_path: Path
) -> None:
    """A stalled endpoint (accepts, never answers): the client's 1 s read timeout × 2 attempts, not the SDK's
    default 60 s read timeout and 3 retries from 15 s apart."""
    with trial(FIGURE):
        _deliver(azurite_container, tmp_path / "exports")
        location = f"az://{azurite_container.container_name}/{DIRECTORY}"
        out = fault_then_resume(
            wh,
            f"http://127.0.0.1:{_port(azurite_container)}",
            lambda url: _run(wh, location, url, STALL_NETWORK),
            fault="stall",
            target=target,
            names=azurite_container.container_name,
        )
        assert out.faulted == 2, out.seen  # the first attempt and one retry
        assert _totals(wh) == (BILLED_TOTAL, EFFECTIVE_TOTAL)
    elapsed = out.seconds
    FIGURES[f"stall to clean failure, Blob {target or 'every call'}"] = f"{elapsed:.1f} s"


def _port(container: Any) -> int:
    """Azurite's port, from the container client the fixture made (uploads go straight to it, not via the proxy)."""
    return int(container.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
