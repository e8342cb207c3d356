"""Google Cloud Billing export as billing sources: BigQuery tables, GCS copies, local copies.

``gcp_sources(location)`` takes ``bq://project.dataset.table`` (or ``bq://project.dataset``: the
dataset's detailed ``gcp_billing_export_resource_v1_*`` table is preferred to the standard
``gcp_billing_export_v1_*`` one; only one is read, as both hold the same costs), ``gs://bucket/prefix``
(Parquet or newline-delimited JSON copies) or a local file or directory of such copies.

BigQuery is incremental by ``export_time``. The billing period is ``invoice.month``, and each month is
one load unit: a run asks which invoice months have rows exported after the watermark minus a safety
window (default 3 days), re-reads those WHOLE months (page by page into a temporary Parquet file,
partition-pruned where the table is partitioned) and loads them, so late rows replace their month
and nothing is counted twice. The watermark (max ``export_time`` loaded) and the identity of the
loaded months travel in ``LoadRequest.state`` and commit with the data; pass them back through
``cursor`` (e.g. ``cursor=lambda s: collector_state(conn, s)``). A month's identity is its row count,
max(export_time) and exact NUMERIC sums of cost and credits: when every changed month still matches
what was loaded, ``list_files()`` returns the last load's files and the run is a no-op.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from spendscope.collectors.gcp.billing_plan import plan_export_file
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.stores import Staging
from spendscope.collectors.stores import StoredObject as Obj
from spendscope.errors import CollectorError, CredentialsExpired, SchemaMismatch, SpendscopeError, Throttled
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan, LoadRequest

__all__ = ["BigQueryExport", "ExportFiles", "gcp_sources"]

log = logging.getLogger(__name__)

Cursor = Callable[[str], Mapping[str, str]]
"""The cursors last committed for a source name (``warehouse.load.collector_state``)."""
SUFFIXES = (".parquet", ".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
STANDARD_PREFIX = "gcp_billing_export_v1_"
DETAILED_PREFIX = "gcp_billing_export_resource_v1_"
WATERMARK = "export_time_watermark"
LOADED = "loaded_months"


@contextmanager
def google_errors(call: str, target: str) -> Iterator[None]:
    """google-api-core / google-auth / requests errors → one-line spendscope errors naming the call and table."""
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    try:
        yield
    except auth_exc.RefreshError as exc:
        raise CredentialsExpired(
            f"{call} {target}: the Google credentials are expired or revoked; sign in again "
            f"(gcloud auth application-default login) or renew the service account key"
        ) from exc
    except auth_exc.DefaultCredentialsError as exc:
        raise CredentialsExpired(f"{call} {target}: no Google credentials found") from exc
    except gexc.Forbidden as exc:
        raise CollectorError(f"{call} {target}: 403 permission denied: {_first(exc.message)}") from exc
    except gexc.Unauthorized as exc:
        raise CredentialsExpired(f"{call} {target}: 401 unauthenticated: {_first(exc.message)}") from exc
    except (gexc.TooManyRequests, gexc.ServiceUnavailable) as exc:
        raise Throttled(f"{call} {target}: {exc.code} (retried by the client; the next run tries again)") from exc
    except gexc.NotFound as exc:
        raise CollectorError(f"{call} {target}: not found") from exc
    except gexc.GoogleAPICallError as exc:
        raise CollectorError(f"{call} {target}: {exc.code}: {_first(exc.message)}") from exc
    except gexc.RetryError as exc:  # the Retry's deadline passed: name the last error it retried
        last = exc.cause
        # an API call's last error is a GoogleAPICallError; a download's, resumable-media's InvalidResponse
        status = getattr(last, "code", None) or getattr(getattr(last, "response", None), "status_code", None)
        if status in (429, 503):
            raise Throttled(f"{call} {target}: {status} (retried by the client; the next run tries again)") from exc
        what = f"{status}: {_first(last.message)}" if isinstance(last, gexc.GoogleAPICallError) else _failure(last)
        raise CollectorError(f"{call} {target}: still failing when the retries ran out: {what}") from exc
    except requests.RequestException as exc:  # a connection error or timeout the Retry did not retry
        raise CollectorError(f"{call} {target}: {_failure(exc)}") from exc


def _failure(exc: BaseException | None) -> str:
    """A transport error in a few words: its type and first line (a timeout says 'timed out')."""
    if exc is None:
        return "unknown error"
    return f"{type(exc).__name__}: {_first(exc)}"


def gcs_call_options(network: NetworkSettings | None = None) -> dict[str, Any]:
    """``timeout=`` and ``retry=`` for one google-cloud-storage call: ``network``'s connect/read timeouts
    (config's defaults when None) and storage's own DEFAULT_RETRY (429, 5xx, resets, timeouts), its waits
    starting at ``retry_backoff_s`` and doubling, bounded by ``retry_deadline_s``."""
    from google.cloud.storage.retry import DEFAULT_RETRY

    net = network or NetworkSettings()
    retry = DEFAULT_RETRY.with_delay(initial=net.retry_backoff_s, multiplier=2.0).with_timeout(net.retry_deadline_s)
    return {"timeout": (net.connect_timeout_s, net.read_timeout_s), "retry": retry}


def _first(message: object) -> str:
    return (str(message).strip().splitlines() or [""])[0][:200]


@dataclass(frozen=True, slots=True)
class Month:
    """One invoice month's identity in the table (exact sums, so a re-read month compares equal)."""

    month: str
    rows: int
    max_export_time: datetime
    cost: str
    credits: str

    def file(self, table: str) -> SourceFile:
        ident = f"bq:{self.month}:{self.rows}:{self.max_export_time.isoformat()}:{self.cost}:{self.credits}"
        return SourceFile(
            f"bq://{table}#invoice.month={self.month}", self.rows, int(self.max_export_time.timestamp() * 1e9), ident
        )


class BigQueryExport:
    """One billing export table, read incrementally by export_time (see module doc)."""

    collector = "gcp"
    provider = "Google Cloud"

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        period: str | None = None,
        cursor: Cursor | None = None,
        safety_window: timedelta = timedelta(days=3),
        note: str | None = None,
    ) -> None:
        self.client = client
        self.table = table
        self.source = f"bq://{table}"
        self.period = period
        self.safety_window = safety_window
        self.note = note
        state = dict(cursor(self.source)) if cursor is not None else {}
        self.watermark = datetime.fromisoformat(state[WATERMARK]) if WATERMARK in state else None
        self.loaded = [SourceFile(**f) for f in json.loads(state.get(LOADED, "[]"))]
        self._months: list[Month] | None = None
        self._partition: str | None = None
        self._staging = Staging("spendscope-gcp-")

    def _describe_table(self) -> None:
        with google_errors("bigquery.get_table", self.table):
            table = self.client.get_table(self.table)
        names = {f.name for f in table.schema}
        missing = [c for c in ("credits", "cost", "currency", "invoice", "export_time") if c not in names]
        if missing:
            raise SchemaMismatch(
                f"not a Cloud Billing export table: missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}",
                source=self.source,
            )
        tp = table.time_partitioning
        if tp is not None:
            self._partition = tp.field or "_PARTITIONTIME"

    def months(self) -> list[Month]:
        """Identity of every invoice month with rows exported after watermark − safety window."""
        if self._months is not None:
            return self._months
        from google.cloud import bigquery

        self._describe_table()
        since = self.watermark - self.safety_window if self.watermark else None
        query = (
            f"WITH changed AS (SELECT DISTINCT invoice.month AS m FROM `{self.table}` "
            "WHERE (@since IS NULL OR export_time > @since) AND (@period IS NULL OR invoice.month = @period)) "
            "SELECT invoice.month AS month, COUNT(*) AS n, MAX(export_time) AS max_export, "
            "CAST(SUM(CAST(cost AS NUMERIC)) AS STRING) AS cost, "
            "CAST(SUM((SELECT SUM(CAST(c.amount AS NUMERIC)) FROM UNNEST(credits) c)) AS STRING) AS credits "
            f"FROM `{self.table}` WHERE invoice.month IN (SELECT m FROM changed) GROUP BY 1 ORDER BY 1"
        )
        params = [
            bigquery.ScalarQueryParameter("since", "TIMESTAMP", since),
            bigquery.ScalarQueryParameter("period", "STRING", self.period.replace("-", "") if self.period else None),
        ]
        with google_errors("bigquery.query", self.table):
            rows = self.client.query(query, job_config=bigquery.QueryJobConfig(query_parameters=params)).result()
            self._months = [
                Month(str(r["month"]), int(r["n"]), r["max_export"], str(r["cost"]), str(r["credits"] or "0"))
                for r in rows
            ]
        return self._months

    def list_files(self) -> list[SourceFile]:
        """The month identities a load would read; the last load's files when none of them changed."""
        current = [m.file(self.table) for m in self.months()]
        loaded = {f.path: f for f in self.loaded}
        if self.loaded and all(loaded.get(f.path) == f for f in current):
            return list(self.loaded)
        return current

    def fetch(self, period: str | None = None, *, describe: Any = None) -> LoadRequest:
        """Read each changed invoice month whole into a temporary Parquet file and plan its load."""
        if period is not None and period.replace("-", "") != (self.period or "").replace("-", ""):
            self.period, self._months = period, None
        months = self.months()
        if not months:
            raise CollectorError("no rows in the export table for this window", source=self.source)
        conn = duckdb.connect()
        plans: list[FilePlan] = []
        try:
            for m in months:
                path = self._staging.path(f"{m.month}.parquet")
                self._read_month(m.month, path)
                plan = plan_export_file(conn, m.file(self.table), str(path))
                if self.note:
                    plan.deviations["table"] = self.note
                plans.append(plan)
        except SpendscopeError:
            self.close()
            raise
        finally:
            conn.close()
        watermark = max(m.max_export_time for m in months)
        if self.watermark and self.watermark > watermark:
            watermark = self.watermark
        state = {
            WATERMARK: watermark.astimezone(UTC).isoformat(),
            LOADED: json.dumps([p.file.as_json() for p in plans]),
        }
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version="1.2", state=state)

    def _read_month(self, month: str, path: Path) -> None:
        """One invoice month, page by page (bounded memory), into ``path``."""
        import pyarrow.parquet as pq
        from google.cloud import bigquery

        where = "invoice.month = @month"
        params = [bigquery.ScalarQueryParameter("month", "STRING", month)]
        if self._partition in ("_PARTITIONTIME", "usage_start_time", "export_time"):
            # rows of an invoice month start at most a few days before it (usage exported late)
            where += f" AND {self._partition} >= TIMESTAMP_SUB(@month_start, INTERVAL 35 DAY)"
            start = datetime.strptime(month + "01", "%Y%m%d").replace(tzinfo=UTC)
            params.append(bigquery.ScalarQueryParameter("month_start", "TIMESTAMP", start))
        query = f"SELECT * FROM `{self.table}` WHERE {where}"
        writer: pq.ParquetWriter | None = None
        with google_errors("bigquery.query", self.table):
            job = self.client.query(query, job_config=bigquery.QueryJobConfig(query_parameters=params))
            try:
                for batch in job.result(page_size=50_000).to_arrow_iterable():
                    if writer is None:
                        writer = pq.ParquetWriter(path, batch.schema)
                    writer.write_batch(batch)
            finally:
                if writer is not None:
                    writer.close()
        if writer is None:
            raise CollectorError(f"invoice month {month} has no rows any more", source=self.source)

    def close(self) -> None:
        self._staging.close()


class ExportFiles:
    """Export copies (Parquet / NDJSON) in a GCS prefix or a local directory: every file, loaded together.

    Units are the invoice months the files carry; a changed file set reloads them all (as the S3
    collector does), an unchanged one (same generations) is a no-op.
    """

    collector = "gcp"
    provider = "Google Cloud"

    def __init__(
        self,
        location: str,
        objs: list[Obj],
        *,
        bucket: Any = None,
        root: Path | None = None,
        network: NetworkSettings | None = None,
    ) -> None:
        self.source = location.rstrip("/")
        self.objs = objs
        self.bucket = bucket
        self.root = root
        self.network = network
        self._staging = Staging("spendscope-gcp-")

    def _uri(self, key: str) -> str:
        return f"gs://{self.bucket.name}/{key}" if self.bucket is not None else key

    def list_files(self) -> list[SourceFile]:
        return [SourceFile(self._uri(o.key), o.size, o.mtime_ns, f"etag:{o.etag}") for o in self.objs]

    def fetch(self, period: str | None = None, *, describe: Any = None) -> LoadRequest:
        conn = duckdb.connect()
        plans = []
        try:
            for f, o in zip(self.list_files(), self.objs, strict=True):
                if self.bucket is None:
                    path = o.key
                else:
                    path = str(self._staging.path(o.key))
                    with google_errors("storage.download_to_filename", f.path):
                        self.bucket.blob(o.key).download_to_filename(path, **gcs_call_options(self.network))
                plans.append(plan_export_file(conn, f, path))
        except SpendscopeError:
            self.close()
            raise
        finally:
            conn.close()
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version="1.2")

    def close(self) -> None:
        self._staging.close()


def _pick_table(client: Any, dataset: str) -> tuple[str, str | None]:
    with google_errors("bigquery.list_tables", dataset):
        names = sorted(t.table_id for t in client.list_tables(dataset))
    detailed = [n for n in names if n.startswith(DETAILED_PREFIX)]
    standard = [n for n in names if n.startswith(STANDARD_PREFIX)]
    if len(detailed) > 1 or (not detailed and len(standard) > 1):
        raise CollectorError(
            f"several billing export tables ({', '.join(detailed or standard)}): name one", source=f"bq://{dataset}"
        )
    if detailed:
        note = None
        if standard:
            note = f"read {detailed[0]} (detailed) and not {standard[0]}: both hold the same costs"
            log.warning("gcp dataset=%s %s", dataset, note)
        return f"{dataset}.{detailed[0]}", note
    if standard:
        return f"{dataset}.{standard[0]}", None
    raise CollectorError("no gcp_billing_export_(resource_)v1_* table in the dataset", source=f"bq://{dataset}")


def gcp_sources(
    location: str,
    *,
    period: str | None = None,
    cursor: Cursor | None = None,
    bigquery_client: Any = None,
    storage_client: Any = None,
    safety_window: timedelta = timedelta(days=3),
    network: NetworkSettings | None = None,
) -> list[BigQueryExport | ExportFiles]:
    """Billing sources for a location (see module doc): one per table or prefix.

    Clients default to google-cloud's Application Default Credentials. ``period`` (YYYY-MM) limits a
    BigQuery read to one invoice month. Raises CollectorError (CredentialsExpired, Throttled) naming
    the call and the table or object; never logs a credential. ``network`` sets the timeouts and retries
    of the GCS calls (``gcs_call_options``).
    """
    if location.startswith("bq://"):
        parts = location[5:].strip("/").split(".")
        if len(parts) not in (2, 3) or not all(parts):
            raise CollectorError("expected bq://project.dataset[.table]", source=location)
        if bigquery_client is None:
            from google.cloud import bigquery

            with google_errors("bigquery.Client", location):
                bigquery_client = bigquery.Client(project=parts[0])
        note = None
        table = ".".join(parts)
        if len(parts) == 2:
            table, note = _pick_table(bigquery_client, table)
        return [
            BigQueryExport(bigquery_client, table, period=period, cursor=cursor, safety_window=safety_window, note=note)
        ]
    if location.startswith("gs://"):
        bucket_name, _, prefix = location[5:].partition("/")
        if storage_client is None:
            from google.cloud import storage  # type: ignore[attr-defined]

            with google_errors("storage.Client", location):
                storage_client = storage.Client()
        bucket = storage_client.bucket(bucket_name)
        with google_errors("storage.list_blobs", location):
            blobs = list(storage_client.list_blobs(bucket_name, prefix=prefix or None, **gcs_call_options(network)))
        objs = [
            Obj(b.name, int(b.size or 0), f"{b.generation}-{b.etag}", int(b.updated.timestamp() * 1e9))
            for b in blobs
            if b.name.lower().endswith(SUFFIXES)
        ]
        if not objs:
            raise CollectorError("no Parquet or JSON export files found", source=location)
        return [ExportFiles(location, sorted(objs, key=lambda o: o.key), bucket=bucket, network=network)]
    path = Path(location).expanduser()
    if not path.exists():
        raise CollectorError("no such file or directory", source=location)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    local = [
        Obj(str(p.resolve()), p.stat().st_size, f"{p.stat().st_size}-{p.stat().st_mtime_ns}", p.stat().st_mtime_ns)
        for p in files
        if p.name.lower().endswith(SUFFIXES)
    ]
    if not local:
        raise CollectorError("no Parquet or JSON export files found", source=location)
    return [ExportFiles(str(path.resolve()), local, root=path)]
