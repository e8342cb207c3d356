"""Cost Management exports in Azure Blob storage (or a local copy of the container): stores and runs.

Layouts, as Microsoft documents them ("Tutorial: Create and manage Cost Management exports",
Microsoft Learn, https://learn.microsoft.com/azure/cost-management-billing/costs/tutorial-export-acm-data,
sections "File partitioning for large datasets" and "Manifest file"):

- Partitioned exports (the current experience): ``<directory>/<export name>/<YYYYMMDD-YYYYMMDD>/<run>/``
  holding the part files and a ``manifest.json`` that lists them (``blobs[].blobName``, from the
  container root) with ``runInfo.submittedTime``, ``exportConfig.type`` (ActualCost, AmortizedCost,
  FocusCost, Usage) and ``exportConfig.resourceId`` (the export, under its scope). ``<run>`` is the
  run id, sometimes below a timestamp folder.
- Single-file exports (before partitioning): ``<directory>/<export name>/<YYYYMMDD-YYYYMMDD>/
  <export name>_<guid>.csv``, one new file per daily run; the newest (last-modified) is the run.

Daily exports rewrite the month to date, so the latest run of a billing period replaces the earlier
ones. The date-range folder's start month is the billing period.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from spendscope.collectors.focus import FILE_SUFFIXES
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.stores import Store
from spendscope.collectors.stores import StoredObject as Blob
from spendscope.errors import CollectorError, CredentialsExpired, Throttled

log = logging.getLogger(__name__)

Dataset = Literal["ActualCost", "AmortizedCost", "FocusCost"]
_RANGE = re.compile(r"^(?P<start>\d{8})-(?P<end>\d{8})$")
_DATASET_WORDS = {"actual", "actualcost", "amortized", "amortised", "amortizedcost", "focus", "focuscost"}


def blob_client_options(network: NetworkSettings | None = None) -> dict[str, Any]:
    """Keyword arguments for a ``ContainerClient``: ``network``'s connect/read timeouts (config's defaults
    when None) and the SDK's ExponentialRetry with ``max_attempts - 1`` retries, the n-th after about
    ``retry_backoff_s`` + 2ⁿ s (the SDK's default is 15 + 3ⁿ s). Azure Storage throttles with 503 ServerBusy,
    which the SDK retries; it does not retry a 429 (Storage never sends one): that fails at once as Throttled."""
    from azure.storage.blob import ExponentialRetry

    net = network or NetworkSettings()
    retry = ExponentialRetry(
        initial_backoff=net.retry_backoff_s,  # type: ignore[arg-type]  # annotated int, used as a float
        increment_base=2,
        retry_total=net.max_attempts - 1,
        random_jitter_range=min(3, net.retry_backoff_s),  # type: ignore[arg-type]
    )
    return {
        "connection_timeout": net.connect_timeout_s,
        "read_timeout": net.read_timeout_s,
        "retry_policy": retry,
    }


class BlobStore:
    """One Blob container through azure-storage-blob: paged listing, streamed downloads, the SDK's
    retry policy (timeouts and retries: ``blob_client_options``). ``uri`` never carries a SAS query string."""

    def __init__(self, container: Any) -> None:
        self.container = container
        parts = urlsplit(str(container.url))
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))

    def uri(self, key: str) -> str:
        return f"{self.base}/{key}" if key else self.base

    def list(self, prefix: str) -> list[Blob]:
        with azure_errors("list_blobs", self.uri(prefix)):
            return [
                Blob(
                    b.name,
                    int(b.size),
                    str(b.etag).strip('"'),
                    int(b.last_modified.timestamp() * 1e9),
                )
                for b in self.container.list_blobs(name_starts_with=prefix or None)
            ]

    def read_text(self, key: str) -> str:
        with azure_errors("download_blob", self.uri(key)):
            return bytes(self.container.download_blob(key).readall()).decode("utf-8-sig")

    def download(self, key: str, dest: Path) -> None:
        with azure_errors("download_blob", self.uri(key)), dest.open("wb") as fh:
            self.container.download_blob(key, max_concurrency=2).readinto(fh)


@contextmanager
def azure_errors(call: str, uri: str) -> Iterator[None]:
    """azure-core errors → one-line spendscope errors naming the call and the blob (never a secret:
    the message is the service's first line, the URI has no query string)."""
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
    )

    try:
        yield
    except ClientAuthenticationError as exc:
        code = getattr(exc, "error_code", None) or getattr(exc, "status_code", None) or "auth"
        raise CredentialsExpired(
            f"{call} {uri}: {code}: {_first_line(exc)} (the credential or SAS token is expired or invalid)"
        ) from None
    except ResourceNotFoundError:
        raise CollectorError(f"{call} {uri}: the blob or container does not exist") from None
    except HttpResponseError as exc:
        status = getattr(exc, "status_code", None)
        code = getattr(exc, "error_code", None) or status
        message = f"{call} {uri}: {code}: {_first_line(exc)}"
        if status == 429 or code == "TooManyRequests":  # azure-storage-blob does not retry a 429
            raise Throttled(message + " (the next run tries again)") from None
        if status == 503 or code == "ServerBusy":
            raise Throttled(message + " (retried by the SDK; the next run tries again)") from None
        raise CollectorError(message) from None
    except AzureError as exc:
        raise CollectorError(f"{call} {uri}: {type(exc).__name__}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    text = str(message).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Run:
    """One export run of one billing period: its data files, and what dates and names it."""

    directory: str
    export: str
    period: str
    """YYYY-MM, from the date-range folder."""
    dataset: Dataset
    submitted_ns: int
    run_id: str
    manifest: str | None
    data: tuple[Blob, ...]

    @property
    def scope_key(self) -> tuple[str, str]:
        """Exports whose names differ only by dataset words (``acme-actual``, ``acme-amortized``,
        ``acme-focus``) in one directory describe one scope: one ledger source."""
        return self.directory, export_stem(self.export)


def export_stem(name: str) -> str:
    words = [w for w in re.split(r"[-_. ]+", name) if w]
    kept = [w for w in words if w.lower() not in _DATASET_WORDS]
    return "-".join(kept)


def dataset_from_name(name: str) -> Dataset:
    """For exports without a manifest: the dataset named in the export name, ActualCost by default."""
    words = {w.lower() for w in re.split(r"[-_. ]+", name)}
    if words & {"amortized", "amortised", "amortizedcost"}:
        return "AmortizedCost"
    if words & {"focus", "focuscost"}:
        return "FocusCost"
    return "ActualCost"


def _dataset(value: object, export: str) -> Dataset:
    if value == "AmortizedCost":
        return "AmortizedCost"
    if value == "FocusCost":
        return "FocusCost"
    if value in ("ActualCost", "Usage"):
        return "ActualCost"
    return dataset_from_name(export)


def _split(key: str) -> tuple[str, str, str, list[str]] | None:
    """key → (directory, export name, YYYY-MM, path below the date-range folder)."""
    parts = key.split("/")
    for i in range(1, len(parts) - 1):
        m = _RANGE.match(parts[i])
        if m:
            start = m.group("start")
            return "/".join(parts[: i - 1]), parts[i - 1], f"{start[:4]}-{start[4:6]}", parts[i + 1 :]
    return None


def _timestamp_ns(text: object) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    value = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1e9)
    except ValueError:
        return None


def find_runs(store: Store, prefix: str, *, period: str | None = None) -> list[Run]:
    """Every export run under ``prefix`` (all of them; ``latest_runs`` picks). Raises CollectorError for
    a manifest that is not JSON or names a blob that does not exist."""
    blobs = store.list(prefix.strip("/"))
    by_key = {b.key: b for b in blobs}
    runs: list[Run] = []
    in_manifest_runs: set[str] = set()
    loose: dict[tuple[str, str, str, str], list[Blob]] = {}
    for b in blobs:
        split = _split(b.key)
        if split is None:
            continue
        directory, export, p, rest = split
        if period and p != period:
            continue
        if rest[-1].endswith("manifest.json"):
            runs.append(_manifest_run(store, b, directory, export, p, by_key))
            in_manifest_runs.add(str(PurePosixPath(b.key).parent))
        elif b.key.lower().endswith(FILE_SUFFIXES):
            run_folder = "/".join(rest[:-1]) or rest[-1]  # single-file exports: the file is the run
            loose.setdefault((directory, export, p, run_folder), []).append(b)
    for (directory, export, p, run_folder), data in sorted(loose.items()):
        folder = str(PurePosixPath(data[0].key).parent)
        if folder in in_manifest_runs:
            continue  # the manifest says which of these files belong to its run
        runs.append(
            Run(
                directory,
                export,
                p,
                dataset_from_name(export),
                max(d.mtime_ns for d in data),
                run_folder,
                None,
                tuple(sorted(data, key=lambda d: d.key)),
            )
        )
    if not runs:
        raise CollectorError("no Cost Management export runs found", source=store.uri(prefix.strip("/")))
    return runs


def _manifest_run(
    store: Store, manifest: Blob, directory: str, export: str, period: str, by_key: dict[str, Blob]
) -> Run:
    uri = store.uri(manifest.key)
    try:
        doc = json.loads(store.read_text(manifest.key))
    except json.JSONDecodeError as exc:
        raise CollectorError(f"manifest is not JSON: {exc}", source=uri) from None
    listed = doc.get("blobs") if isinstance(doc, dict) else None
    if not isinstance(listed, list) or not listed:
        raise CollectorError("manifest lists no blobs", source=uri)
    data = []
    for entry in listed:
        name = str(entry.get("blobName", "") if isinstance(entry, dict) else "").strip().lstrip("/")
        if name not in by_key:
            raise CollectorError(f"manifest lists {name}, which does not exist", source=uri)
        data.append(by_key[name])
    config = doc.get("exportConfig") or {}
    run_info = doc.get("runInfo") or {}
    return Run(
        directory,
        export,
        period,
        _dataset(config.get("type"), export),
        _timestamp_ns(run_info.get("submittedTime")) or manifest.mtime_ns,
        str(run_info.get("runId") or PurePosixPath(manifest.key).parent.name),
        manifest.key,
        tuple(data),
    )


def latest_runs(runs: list[Run]) -> dict[str, list[Run]]:
    """For one scope: per billing period, the runs to load — the latest FocusCost run where there is
    one, else the latest ActualCost and the latest AmortizedCost run (either may be missing)."""
    out: dict[str, list[Run]] = {}
    for p in sorted({r.period for r in runs}):
        latest: dict[Dataset, Run] = {}
        for r in runs:
            if r.period == p and (
                r.dataset not in latest
                or (r.submitted_ns, r.run_id) > (latest[r.dataset].submitted_ns, latest[r.dataset].run_id)
            ):
                latest[r.dataset] = r
        if "FocusCost" in latest:
            out[p] = [latest["FocusCost"]]
        else:
            out[p] = [latest[d] for d in ("ActualCost", "AmortizedCost") if d in latest]
    return out
