"""Azure Cost Management exports (Blob storage or a local copy) as billing sources.

``azure_sources(location)`` finds the export runs under a location (layouts: ``exports_layout``),
groups them by scope and returns one source per scope. A scope is a directory plus the export names
without their dataset words: ``acme-actual``, ``acme-amortized`` and ``acme-focus`` in one directory
are one scope, so the ledger source is ``<storage path>/<export name>`` (``…/acme``), and two
subscription-scoped exports (other directories or other names) never replace each other.

Per billing period a source loads the latest FocusCost run where there is one, else the latest
actual and amortized runs together, combined as Microsoft's "Convert Cost Management data to FOCUS"
does (see ``sql/collectors/azure_cost_to_focus.sql``): one unit (source, period) whichever dataset it
came from, so a FOCUS export appearing later replaces the converted one instead of adding to it.
``list_files()`` identifies the chosen blobs by ETag without downloading them, so an unchanged
export is skipped; ``fetch()`` downloads them (streamed) to a temporary directory that ``close()``
removes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from spendscope.collectors.azure.exports_layout import (
    BlobStore,
    Run,
    azure_errors,
    blob_client_options,
    find_runs,
    latest_runs,
)
from spendscope.collectors.azure.exports_plan import Role, plan_export_file
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.stores import LocalStore, Staging, Store
from spendscope.errors import CollectorError, SchemaMismatch, SpendscopeError
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan, LoadRequest

__all__ = ["AzureExports", "azure_sources"]

log = logging.getLogger(__name__)


class AzureExports:
    """One scope's Cost Management exports (all its periods, or one) as a billing source."""

    collector = "azure"
    provider = "Microsoft"

    def __init__(self, store: Store, runs: list[Run], *, source: str | None = None) -> None:
        if not runs:
            raise CollectorError("no export runs given")
        self.store = store
        self.by_period = latest_runs(runs)
        directory, stem = runs[0].scope_key
        self.source = source or store.uri("/".join(p for p in (directory, stem) if p))
        self._staging = Staging("spendscope-azure-")

    def chosen(self) -> list[tuple[str, Run, Role | None]]:
        """(period, run, role) of every run a load reads: role None for a FOCUS export; the actual run beside an
        amortized one gives only the commitment purchases (the amortized run carries the rest)."""
        out: list[tuple[str, Run, Role | None]] = []
        for period, runs in self.by_period.items():
            datasets = {r.dataset for r in runs}
            for r in runs:
                role: Role | None
                if r.dataset == "FocusCost":
                    role = None
                elif r.dataset == "AmortizedCost":
                    role = "amortized"
                else:
                    role = "actual_purchases" if "AmortizedCost" in datasets else "actual"
                out.append((period, r, role))
        return out

    def list_files(self) -> list[SourceFile]:
        """The blobs a load would read, identified by ETag (nothing downloaded)."""
        return [self._source_file(b.key, b.size, b.mtime_ns, b.etag) for _, r, _ in self.chosen() for b in r.data]

    def _source_file(self, key: str, size: int, mtime_ns: int, etag: str) -> SourceFile:
        return SourceFile(self.store.uri(key), size, mtime_ns, f"etag:{etag}")

    def fetch(self, period: str | None = None, *, describe: Any = None) -> LoadRequest:
        """Download (streamed) and plan every chosen file; ``period`` limits the load to one YYYY-MM."""
        conn = duckdb.connect()
        plans: list[FilePlan] = []
        try:
            conn.execute("SET TimeZone = 'UTC'")
            for p, run, role in self.chosen():
                if period and p != period:
                    continue
                for b in run.data:
                    file = self._source_file(b.key, b.size, b.mtime_ns, b.etag)
                    path = self._staging.fetch(self.store, b.key)
                    plan = plan_export_file(conn, file, path, role=role or "focus")
                    if (
                        role is not None
                        and plan.deviations.get("azure_format") == "FOCUS"
                        and len(self.by_period[p]) > 1
                    ):
                        raise SchemaMismatch(
                            f"FOCUS columns in an export taken as {run.dataset}, beside another dataset of "
                            f"{p}: loading both would count the period twice",
                            source=file.path,
                        )
                    if role == "amortized" and all(r.dataset != "ActualCost" for r in self.by_period[p]):
                        plan.deviations["billed_cost"] = (
                            "no actual export for this period: commitment purchases are missing from BilledCost"
                        )
                    plans.append(_with_run(plan, run))
        except SpendscopeError:
            self.close()
            raise
        finally:
            conn.close()
        if not plans:
            raise CollectorError(f"no export run for period {period}", source=self.source)
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version="1.2")

    def close(self) -> None:
        self._staging.close()


def _with_run(plan: FilePlan, run: Run) -> FilePlan:
    deviations = {**plan.deviations, "export": run.export, "dataset": run.dataset, "run_id": run.run_id}
    return FilePlan(plan.file, plan.select_sql, plan.params, plan.diagnose, deviations, plan.prepare)


def _container_client(account_url: str, container: str, credential: Any, options: dict[str, Any]) -> Any:
    from azure.storage.blob import ContainerClient

    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return ContainerClient(account_url, container, credential=credential, **options)


def azure_sources(
    location: str,
    *,
    period: str | None = None,
    connection_string: str | None = None,
    credential: Any = None,
    client: Any = None,
    network: NetworkSettings | None = None,
) -> list[AzureExports]:
    """Billing sources for a location: one per scope (see module doc).

    ``location`` is ``az://<container>/<path>`` (with ``connection_string``, or ``client``, an
    ``azure.storage.blob.ContainerClient``), ``https://<account>.blob.core.windows.net/<container>/<path>``
    (with ``credential``: a token credential, SAS or key; DefaultAzureCredential when None), or a
    local directory holding a copy of the container. Raises CollectorError (or CredentialsExpired,
    Throttled) naming the call and the blob; never logs a credential. ``network`` gives a client built
    here its timeouts and retries (``blob_client_options``; ignored when ``client`` is given).
    """
    store: Store
    if location.startswith(("az://", "azure://")):
        container, _, prefix = location.split("://", 1)[1].partition("/")
        if client is None:
            if connection_string is None:
                raise CollectorError("an az:// location needs a connection string", source=location)
            from azure.storage.blob import ContainerClient

            with azure_errors("ContainerClient.from_connection_string", f"az://{container}"):
                client = ContainerClient.from_connection_string(
                    connection_string, container, **blob_client_options(network)
                )
        store = BlobStore(client)
    elif location.startswith(("https://", "http://")):
        parts = urlsplit(location)
        container, _, prefix = parts.path.lstrip("/").partition("/")
        if client is None:
            account_url = f"{parts.scheme}://{parts.netloc}" + (f"?{parts.query}" if parts.query else "")
            client = _container_client(account_url, container, credential, blob_client_options(network))
        store = BlobStore(client)
    else:
        path = Path(location).expanduser()
        if not path.exists():
            raise CollectorError("no such file or directory", source=location)
        store = LocalStore(path)
        prefix = ""
    runs = find_runs(store, prefix, period=period)
    by_scope: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_scope.setdefault(r.scope_key, []).append(r)
    log.info("azure exports location=%s runs=%d scopes=%d", store.uri(prefix), len(runs), len(by_scope))
    return [AzureExports(store, scope_runs) for _, scope_runs in sorted(by_scope.items())]
