"""AWS billing deliveries in S3 (or a local copy of the same tree): discovery, manifests, downloads.

Layouts, as AWS documents them:
- CUR 2.0 / Data Exports: ``<root>/data/BILLING_PERIOD=YYYY-MM/…`` with the period's manifest at
  ``<root>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` (``dataFiles``).
- Legacy CUR: ``<root>/YYYYMMDD-YYYYMMDD/<assemblyId>/…`` with the period's current manifest at
  ``<root>/YYYYMMDD-YYYYMMDD/<report>-Manifest.json`` (``reportKeys``); older assemblies stay beside it.
The manifest names the latest delivery of its period, so only its files are read. Without manifests,
every data file under the path is one delivery. The ledger source is ``<store>/<root>``: two reports of
one payer never replace each other.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from spendscope.collectors.aws.cur import plan_cur_file
from spendscope.collectors.focus import FILE_SUFFIXES
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.stores import LocalStore, Staging, Store
from spendscope.collectors.stores import StoredObject as Obj
from spendscope.errors import CollectorError, CredentialsExpired, SpendscopeError, Throttled
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import LoadRequest

log = logging.getLogger(__name__)

_CUR2_MANIFEST = re.compile(r"^(?P<root>.*)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/[^/]+-Manifest\.json$")
_LEGACY_MANIFEST = re.compile(r"^(?P<root>.*)/(?P<start>\d{6})\d{2}-\d{8}/[^/]+-Manifest\.json$")


class S3Store:
    """S3 through boto3: paginated listing, managed (streamed) downloads, botocore's retry modes, with the
    connect/read timeouts and attempts of ``network`` (``[network]`` in config; its defaults when None)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        client: Any = None,
        retry_mode: Literal["standard", "adaptive"] = "standard",
        network: NetworkSettings | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        net = network or NetworkSettings()
        self.bucket = bucket
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=net.connect_timeout_s,
                read_timeout=net.read_timeout_s,
                retries={"mode": retry_mode, "max_attempts": net.max_attempts},
            ),
        )

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list(self, prefix: str) -> list[Obj]:
        with _s3_errors("s3.list_objects_v2", self.uri(prefix)):
            out = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for o in page.get("Contents", []):
                    out.append(
                        Obj(
                            o["Key"],
                            int(o["Size"]),
                            str(o["ETag"]).strip('"'),
                            int(o["LastModified"].timestamp() * 1e9),
                        )
                    )
            return out

    def read_text(self, key: str) -> str:
        with _s3_errors("s3.get_object", self.uri(key)):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return str(body.read().decode("utf-8"))

    def download(self, key: str, dest: Path) -> None:
        with _s3_errors("s3.download_file", self.uri(key)):
            self.client.download_file(self.bucket, key, str(dest))


@contextmanager
def _s3_errors(call: str, uri: str) -> Iterator[None]:
    """botocore errors → one-line spendscope errors naming the call and the object."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "")) or str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        message = f"{call} {uri}: {code}: {err.get('Message', '')}".rstrip(": ")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidToken"):
            raise CredentialsExpired(message + " (refresh the AWS credentials)") from None
        if code in (
            "SlowDown",
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequests",
            "503",
            "429",
        ):
            raise Throttled(message + " (retried by botocore; the next run tries again)") from None
        if code in ("NoSuchKey", "404", "NotFound"):
            raise CollectorError(f"{call} {uri}: the object does not exist") from None
        raise CollectorError(message) from None
    except NoCredentialsError:
        raise CredentialsExpired(f"{call} {uri}: no AWS credentials found") from None
    except BotoCoreError as exc:
        raise CollectorError(f"{call} {uri}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Delivery:
    root: str
    period: str | None
    manifest: str | None
    data: tuple[Obj, ...]


def find_deliveries(store: Store, prefix: str, *, period: str | None = None) -> list[Delivery]:
    """The latest delivery per (report root, billing period) under ``prefix``."""
    objs = store.list(prefix.strip("/"))
    by_key = {o.key: o for o in objs}
    deliveries: list[Delivery] = []
    for o in objs:
        cur2, legacy = _CUR2_MANIFEST.match(o.key), _LEGACY_MANIFEST.match(o.key)
        if not (cur2 or legacy):
            continue
        m = cur2 or legacy
        assert m is not None
        p = m.group("period") if cur2 else f"{m.group('start')[:4]}-{m.group('start')[4:6]}"
        if period and p != period:
            continue
        try:
            manifest = json.loads(store.read_text(o.key))
        except json.JSONDecodeError as exc:
            raise CollectorError(f"manifest is not JSON: {exc}", source=store.uri(o.key)) from None
        keys = manifest.get("dataFiles") if cur2 else manifest.get("reportKeys")
        if not isinstance(keys, list) or not keys:
            raise CollectorError("manifest lists no data files", source=store.uri(o.key))
        data = []
        for k in keys:
            key = re.sub(r"^s3://[^/]+/", "", str(k))
            if key not in by_key:
                raise CollectorError(f"manifest lists {key}, which does not exist", source=store.uri(o.key))
            data.append(by_key[key])
        deliveries.append(Delivery(m.group("root"), p, o.key, tuple(data)))
    if deliveries:
        return deliveries
    loose = tuple(o for o in objs if o.key.lower().endswith(FILE_SUFFIXES))
    if not loose:
        raise CollectorError("no CUR manifests or data files found", source=store.uri(prefix))
    return [Delivery(prefix.strip("/"), period, None, loose)]


class CurDeliveries:
    """One report's deliveries (all its periods, or one) as a billing source for the ledger."""

    collector = "aws"
    provider = "AWS"

    def __init__(self, store: Store, deliveries: list[Delivery], *, source: str | None = None) -> None:
        self.store = store
        self.deliveries = deliveries
        self.source = source or store.uri(deliveries[0].root)
        self._staging = Staging("spendscope-s3-")

    def list_files(self) -> list[SourceFile]:
        """The files a load would read, identified by ETag (nothing downloaded)."""
        return [
            SourceFile(self.store.uri(o.key), o.size, o.mtime_ns, f"etag:{o.etag}")
            for d in self.deliveries
            for o in d.data
        ]

    def fetch(self, period: str | None, *, describe: Any = None) -> LoadRequest:
        files = self.list_files()
        conn = duckdb.connect()
        plans = []
        try:
            conn.execute("SET TimeZone = 'UTC'")
            for f, o in zip(files, (o for d in self.deliveries for o in d.data), strict=True):
                plans.append(plan_cur_file(conn, f, self._staging.fetch(self.store, o.key)))
        except SpendscopeError:
            self.close()
            raise
        finally:
            conn.close()
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version="1.2")

    def close(self) -> None:
        self._staging.close()


def aws_sources(
    location: str,
    *,
    endpoint_url: str | None = None,
    period: str | None = None,
    client: Any = None,
    network: NetworkSettings | None = None,
) -> list[CurDeliveries]:
    """Billing sources for ``s3://bucket/prefix`` or a local directory/file: one per report root.
    ``network`` gives the S3 client its timeouts and attempts (ignored when ``client`` is given)."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        store: Store = S3Store(bucket, endpoint_url=endpoint_url, client=client, network=network)
    else:
        path = Path(location).expanduser()
        if not path.exists():
            raise CollectorError("no such file or directory", source=location)
        store = LocalStore(path.parent if path.is_file() else path)
        prefix = path.name if path.is_file() else ""
    deliveries = find_deliveries(store, prefix, period=period)
    by_root: dict[str, list[Delivery]] = {}
    for d in deliveries:
        by_root.setdefault(d.root, []).append(d)
    return [CurDeliveries(store, ds) for _, ds in sorted(by_root.items())]
