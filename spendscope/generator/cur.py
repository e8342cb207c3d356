"""The generated AWS bill in AWS's native formats: CUR 2.0 (Data Exports, Parquet) and legacy CUR (CSV.gz).

``write_cur`` reads the generator's AWS FOCUS Parquet one billing period at a time, streamed through
DuckDB in record batches (bounded memory), and writes each period as AWS delivers it to S3:

    cur2/<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/<export>-00001.snappy.parquet   (-00002 … when large)
    cur2/<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json
    legacy/<prefix>/<report>/YYYYMMDD-YYYYMMDD/<assemblyId>/<report>-1.csv.gz          (-2 … when large)
    legacy/<prefix>/<report>/YYYYMMDD-YYYYMMDD/<assemblyId>/<report>-Manifest.json
    legacy/<prefix>/<report>/YYYYMMDD-YYYYMMDD/<report>-Manifest.json                  (the current assembly)

as documented in AWS Data Exports "Understanding export delivery" and CUR "Understanding your report
versions". ``cur2/`` and ``legacy/`` are bucket roots: the manifests' keys are relative to them and
``upload_tree`` uploads either tree with the same keys. FOCUS rows become CUR line items (the reverse of
the FinOps Foundation's CUR→FOCUS conversion; SQL in ``cur_layout.select_sql``):

- plain usage → ``Usage`` (unblended = BilledCost; the 6 % EDP stays in the rate: no EdpDiscount rows);
- RI-covered usage → ``DiscountedUsage`` with unblended 0, as AWS bills it (the RIFee carries the hours),
  the on-demand equivalent in pricing_public_on_demand_cost and reservation_effective_cost = EffectiveCost;
- SP-covered usage → ``SavingsPlanCoveredUsage`` (unblended = the on-demand cost, ContractedCost) plus a
  ``SavingsPlanNegation`` row cancelling it; savings_plan_savings_plan_effective_cost = EffectiveCost;
- a commitment Purchase → ``RIFee`` / ``SavingsPlanRecurringFee``; the period's Unused rows get no line of
  their own but become the fee's reservation_unused_* / total_commitment_to_date − used_commitment;
- Credit → ``Credit``, Tax → ``Tax``, the support fee → ``Fee``.

Hence, per period and usage account, Σ line_item_unblended_cost = Σ BilledCost (the invoice) and the
standard amortized cost = Σ EffectiveCost. ``restate="YYYY-MM"`` adds a later delivery of that period with
one late SLA credit: CUR 2.0 overwrites the partition's files and manifest (a new executionId); legacy CUR
adds a new assembly and repoints the period manifest, leaving the old assembly in place.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from spendscope.errors import ConfigError
from spendscope.generator import cur_layout as L

__all__ = ["CUR2_SCHEMA", "CurResult", "Delivery", "Totals", "upload_tree", "write_cur"]

ROWS_PER_FILE = 1_000_000
"""A delivery rolls over to a new chunk file after this many rows (both formats)."""
BATCH_ROWS = 20_000
"""Rows per Arrow batch from DuckDB (and per Parquet row group): what bounds memory."""
_ARROW = {
    "string": pa.string(),
    "double": pa.float64(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "map<string,string>": pa.map_(pa.string(), pa.string()),
    "map<string,double>": pa.map_(pa.string(), pa.float64()),
}
CUR2_SCHEMA = pa.schema([pa.field(c.name, _ARROW[c.type]) for c in L.COLUMNS])


@dataclass(frozen=True)
class Totals:
    billed: Decimal
    """Σ line_item_unblended_cost: the invoice."""
    amortized: Decimal
    """Σ of the standard amortized cost (the FinOps Foundation's EffectiveCost CASE over CUR)."""
    rows: int
    by_account: Mapping[str, tuple[Decimal, Decimal]]
    """line_item_usage_account_id → (billed, amortized)."""


@dataclass(frozen=True)
class Delivery:
    format: Literal["cur2", "legacy"]
    period: str
    number: int
    """1 = the original delivery, 2 = the restatement."""
    delivery_id: str
    """CUR 2.0 executionId, legacy assemblyId."""
    delivered_at: datetime
    """The data files' modification time; manifests are a minute newer (AWS writes them last)."""
    data_keys: tuple[str, ...]
    manifest_keys: tuple[str, ...]
    """CUR 2.0: the partition's manifest. Legacy: the assembly's, then the period's current one."""
    totals: Totals


@dataclass(frozen=True)
class CurResult:
    cur2_root: Path
    legacy_root: Path
    periods: tuple[str, ...]
    cur2_files: Mapping[str, tuple[Path, ...]]
    """Period → data files (the latest delivery: CUR 2.0 overwrites)."""
    legacy_files: Mapping[str, tuple[Path, ...]]
    """Period → data files of the current (latest) assembly."""
    cur2_manifests: Mapping[str, Path]
    legacy_manifests: Mapping[str, Path]
    """Period → the period's current ``<report>-Manifest.json``."""
    totals: Mapping[str, Totals]
    """Period → totals of its latest delivery."""
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class _Target:
    cur2: Path
    legacy: Path
    prefix: str
    export: str
    report: str
    bucket: str
    rows_per_file: int


@dataclass(frozen=True)
class _Period:
    period: str
    source: str
    start: datetime
    end: datetime
    payer: str
    commitments: dict[str, dict[str, Any]]
    tag_keys: list[str]
    columns: list[str]


def write_cur(
    focus_dir: Path,
    out_dir: Path,
    *,
    export_name: str = "spendscope-cur2",
    report_name: str = "spendscope-legacy",
    restate: str | None = None,
    prefix: str = "exports",
    bucket: str = "spendscope-billing",
    rows_per_file: int = ROWS_PER_FILE,
) -> CurResult:
    """Write every billing period of the AWS FOCUS bill in ``focus_dir`` (the generator's output directory,
    its ``focus/`` or ``focus/aws/``) as CUR 2.0 and legacy CUR deliveries under ``out_dir``. ``bucket``
    only fills the manifests' bucket field. Re-running replaces the periods it writes."""
    aws = _aws_dir(Path(focus_dir))
    parts = {d.name: sorted(d.glob("part-*.parquet")) for d in sorted(aws.iterdir()) if _is_period(d)}
    parts = {p: files for p, files in parts.items() if files}
    if restate is not None and restate not in parts:
        raise ConfigError(f"cannot restate {restate}: the periods are {', '.join(parts)}", source="write_cur")
    out_dir = Path(out_dir)
    t = _Target(out_dir / "cur2", out_dir / "legacy", prefix, export_name, report_name, bucket, rows_per_file)
    deliveries: list[Delivery] = []
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
        terms = _commitment_terms(con, [f for files in parts.values() for f in files])
        for period, files in parts.items():
            info = _prescan(con, period, files, terms)
            shutil.rmtree(t.legacy / prefix / report_name / L.range_folder(info.start, info.end), ignore_errors=True)
            sources = [info.source]
            for number in (1, 2) if period == restate else (1,):
                if number == 2:
                    sources.append(_late_credit(con, info))
                deliveries += _deliver(con, t, info, sources, number)
    finally:
        con.close()
    latest = {(d.format, d.period): d for d in deliveries}
    periods = tuple(parts)
    return CurResult(
        cur2_root=t.cur2,
        legacy_root=t.legacy,
        periods=periods,
        cur2_files={p: tuple(t.cur2 / k for k in latest["cur2", p].data_keys) for p in periods},
        legacy_files={p: tuple(t.legacy / k for k in latest["legacy", p].data_keys) for p in periods},
        cur2_manifests={p: t.cur2 / latest["cur2", p].manifest_keys[0] for p in periods},
        legacy_manifests={p: t.legacy / latest["legacy", p].manifest_keys[1] for p in periods},
        totals={p: latest["cur2", p].totals for p in periods},
        deliveries=tuple(deliveries),
    )


def upload_tree(local_dir: Path, *, bucket: str, s3_client: Any) -> list[str]:
    """Upload every file under ``local_dir`` to ``bucket``, keyed by its path relative to ``local_dir``
    (boto3's managed transfer), creating the bucket if needed. Older files go first: a delivery's data
    before its manifest, a restatement after what it replaces. Returns the keys, sorted."""
    from botocore.exceptions import ClientError

    try:
        s3_client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        region = s3_client.meta.region_name
        where = {} if region in (None, "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3_client.create_bucket(Bucket=bucket, **where)
    local_dir = Path(local_dir)
    files = sorted(
        (p for p in local_dir.rglob("*") if p.is_file()),
        key=lambda p: (p.stat().st_mtime_ns, p.relative_to(local_dir).as_posix()),
    )
    keys = []
    for path in files:
        key = path.relative_to(local_dir).as_posix()
        kind = "application/json" if key.endswith(".json") else "application/octet-stream"
        s3_client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": kind})
        keys.append(key)
    return sorted(keys)


# ------------------------------------------------------------------ reading the FOCUS bill


def _aws_dir(path: Path) -> Path:
    for candidate in (path / "focus" / "aws", path / "aws", path):
        if candidate.is_dir() and any(_is_period(d) and any(d.glob("part-*.parquet")) for d in candidate.iterdir()):
            return candidate
    raise ConfigError("no AWS FOCUS bill here (expected focus/aws/YYYY-MM/part-*.parquet)", source=str(path))


def _is_period(d: Path) -> bool:
    return d.is_dir() and re.fullmatch(r"\d{4}-\d{2}", d.name) is not None


def _reader(files: list[Path]) -> str:
    return f"read_parquet([{', '.join(L.lit(str(f)) for f in files)}])"


def _commitment_terms(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, dict[str, str]]:
    """Per commitment: start (its first billing period: FOCUS has no purchase date), end, term and payment
    option (from its name, ``… 1yr No Upfront``)."""
    rows = con.execute(
        f"SELECT CommitmentDiscountId, any_value(CommitmentDiscountName), min(BillingPeriodStart) "
        f"FROM {_reader(files)} WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    out = {}
    for cid, name, start in rows:
        years = re.search(r"(\d+)\s*(?:yr|year)", name or "")
        option = re.search(r"(No|Partial|All) Upfront", name or "")
        n = int(years.group(1)) if years else 1
        out[str(cid)] = {
            "start": f"{start:%Y-%m-%dT%H:%M:%S}.000Z",
            "end": f"{start.replace(year=start.year + n):%Y-%m-%dT%H:%M:%S}.000Z",
            "term": f"{n}yr",
            "option": option.group(0) if option else "No Upfront",
        }
    return out


def _prescan(con: duckdb.DuckDBPyConnection, period: str, files: list[Path], terms: dict[str, Any]) -> _Period:
    """The few facts the row mapping needs first: the period and payer, each commitment's unused amount, tag keys."""
    src = _reader(files)
    heads = con.execute(
        f"SELECT DISTINCT ProviderName, BillingPeriodStart, BillingPeriodEnd, BillingAccountId FROM {src}"
    )
    found = heads.fetchall()
    if len(found) != 1 or found[0][0] != "AWS":
        raise ConfigError(f"expected one AWS billing period and payer, found {found!r}", source=str(files[0].parent))
    _, start, end, payer = found[0]
    unused = "FILTER (WHERE CommitmentDiscountStatus = 'Unused')"
    rows = con.execute(
        f"SELECT CommitmentDiscountId, any_value(CommitmentDiscountType), coalesce(sum(EffectiveCost) {unused}, 0), "
        f"coalesce(sum(coalesce(CommitmentDiscountQuantity, PricingQuantity)) {unused}, 0), "
        f"count(*) FILTER (WHERE ChargeCategory = 'Purchase') FROM {src} "
        "WHERE CommitmentDiscountId IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    commitments = {}
    for cid, kind, cost, qty, purchases in rows:
        if kind not in ("Reserved Instance", "Savings Plan"):
            raise ConfigError(f"commitment {cid}: type {kind!r} has no CUR line item types", source=period)
        if purchases != 1:
            raise ConfigError(f"commitment {cid}: {purchases} Purchase rows, CUR needs one fee", source=period)
        commitments[str(cid)] = {**terms[str(cid)], "type": kind, "unused": cost, "unused_qty": qty}
    tags = f"SELECT DISTINCT unnest(json_keys(Tags)) FROM {src} WHERE Tags IS NOT NULL ORDER BY 1"
    tag_keys = [str(r[0]) for r in con.execute(tags).fetchall()]
    columns = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    return _Period(period, src, start, end, str(payer), commitments, tag_keys, columns)


_LATE_KEEP = re.compile(
    r"(Billing|Invoice|Provider|Publisher|Service|SubAccount|ChargePeriod)\w*|PricingCurrency|ChargeCategory|"
    r"ChargeFrequency|ChargeDescription|BilledCost|EffectiveCost|ListCost|ContractedCost|PricingCurrencyEffectiveCost"
)


def _late_credit(con: duckdb.DuckDBPyConnection, info: _Period) -> str:
    """A one-row FOCUS relation: an SLA credit AWS books after the first delivery, 1 % (at least a cent)
    of the period's largest on-demand (account, service) usage, on that account and service."""
    top = con.execute(
        f"SELECT SubAccountId, ServiceName, sum(BilledCost) AS b FROM {info.source} WHERE ChargeCategory = 'Usage' "
        "AND CommitmentDiscountStatus IS NULL AND ServiceName NOT LIKE 'AWS Support%' GROUP BY 1, 2 "
        "ORDER BY b DESC, 1, 2 LIMIT 1"
    ).fetchone()
    if top is None:
        raise ConfigError(f"{info.period} has no on-demand usage to credit", source="write_cur")
    account, service, billed = top
    money = L.lit(-max(Decimal("0.01"), (Decimal(billed) / 100).quantize(Decimal("0.01"))))
    description = L.lit(f"AWS Service Level Agreement credit for {service} (booked late, restated)")
    replace = [
        f"'Credit' AS ChargeCategory, 'One-Time' AS ChargeFrequency, {description} AS ChargeDescription",
        *(f"{money} AS {c}" for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")),
        f"{money} AS PricingCurrencyEffectiveCost",
        "BillingPeriodStart AS ChargePeriodStart, BillingPeriodEnd AS ChargePeriodEnd",
        *(f'CASE WHEN false THEN "{c}" END AS "{c}"' for c in info.columns if not _LATE_KEEP.fullmatch(c)),
    ]
    return (
        f"(SELECT * REPLACE ({', '.join(replace)}) FROM {info.source} WHERE SubAccountId = {L.lit(account)} "
        f"AND ServiceName = {L.lit(service)} AND ChargeCategory = 'Usage' AND CommitmentDiscountStatus IS NULL LIMIT 1)"
    )


# ------------------------------------------------------------------ writing


def _deliver(
    con: duckdb.DuckDBPyConnection, t: _Target, info: _Period, sources: list[str], number: int
) -> tuple[Delivery, Delivery]:
    """One delivery of a period in both formats: data files, then manifests, stamped with the delivery time."""
    period, folder = info.period, L.range_folder(info.start, info.end)
    when = info.end + timedelta(days=2 if number == 1 else 9, hours=6)
    execution = L.stable_uuid("cur2", t.export, period, number)
    assembly = L.stable_uuid("legacy", t.report, period, number)
    shutil.rmtree(t.cur2 / t.prefix / t.export / "data" / f"BILLING_PERIOD={period}", ignore_errors=True)  # overwrite
    cur2 = _Chunks(t.cur2, partial(L.cur2_data_key, t.prefix, t.export, period), _parquet, t.rows_per_file)
    legacy = _Chunks(
        t.legacy, partial(L.legacy_data_key, t.prefix, t.report, folder, assembly), _CsvGz, t.rows_per_file
    )
    with cur2, legacy:
        totals = _stream(con, info, sources, cur2, legacy)
    m2 = L.cur2_manifest(
        export=t.export, payer=info.payer, bucket=t.bucket, prefix=t.prefix, execution_id=execution,
        start=info.start, end=info.end, data_keys=cur2.keys,
    )  # fmt: skip
    m1 = L.legacy_manifest(
        report=t.report, payer=info.payer, bucket=t.bucket, prefix=t.prefix, assembly_id=assembly,
        start=info.start, end=info.end, columns=L.legacy_columns(info.tag_keys), data_keys=legacy.keys,
    )  # fmt: skip
    k2 = (L.cur2_manifest_key(t.prefix, t.export, period),)
    k1 = L.legacy_manifest_keys(t.prefix, t.report, folder, assembly)
    _publish(t.cur2, cur2.keys, dict.fromkeys(k2, m2), when)
    _publish(t.legacy, legacy.keys, dict.fromkeys(k1, m1), when)
    return (
        Delivery("cur2", period, number, execution, when, tuple(cur2.keys), k2, totals),
        Delivery("legacy", period, number, assembly, when, tuple(legacy.keys), k1, totals),
    )


class _Chunks:
    """Numbered chunk files of one delivery, rolling over after ``limit`` rows; ``keys``: the chunks so far."""

    def __init__(self, root: Path, name: Callable[[int], str], opener: Callable[[Path, pa.Schema], Any], limit: int):
        self.root, self.name, self.opener, self.limit = root, name, opener, limit
        self.keys: list[str] = []
        self.sink: Any = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        done = 0
        while True:
            if self.sink is not None and self.rows >= self.limit:
                self.__exit__()
            if self.sink is None:
                self.keys.append(self.name(len(self.keys) + 1))
                (self.root / self.keys[-1]).parent.mkdir(parents=True, exist_ok=True)
                self.sink = self.opener(self.root / self.keys[-1], table.schema)
            take = min(table.num_rows - done, self.limit - self.rows)
            self.sink.write_table(table.slice(done, take))
            self.rows, done = self.rows + take, done + take
            if done >= table.num_rows:
                return

    def __enter__(self) -> _Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sink is not None:
            self.sink.close()
        self.sink, self.rows = None, 0


class _CsvGz:
    """A gzip CSV with a reproducible header (no file name or time in it)."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.raw = path.open("wb")
        self.gz = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=6, mtime=0)
        self.csv = pacsv.CSVWriter(self.gz, schema, write_options=pacsv.WriteOptions(quoting_header="none"))

    def write_table(self, table: pa.Table) -> None:
        self.csv.write_table(table)

    def close(self) -> None:
        self.csv.close()
        self.gz.close()
        self.raw.close()


def _parquet(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, schema, compression="snappy")


def _stream(
    con: duckdb.DuckDBPyConnection, info: _Period, sources: list[str], cur2: _Chunks, legacy: _Chunks
) -> Totals:
    """Map the FOCUS rows of ``sources`` batch by batch into both formats; the totals of what was written."""
    legacy_cols = L.legacy_columns(info.tag_keys)
    text = {c.name for c in L.COLUMNS if c.type in ("double", "timestamp")}
    source_of = {c.legacy: f"_s_{c.name}" if c.name in text else c.name for c in L.COLUMNS if c.legacy}
    source_of |= {legacy: f"_p_{k}" for k, legacy in L.PRODUCT_KEYS}
    source_of |= {f"resourceTags/user:{k}": f"_tag_{i}" for i, k in enumerate(info.tag_keys)}
    headers = [h for h, _ in legacy_cols]
    legacy_src = [None if h == "identity/LineItemId" else source_of[h] for h in headers]
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    n = 0
    for source in sources:
        reader = con.execute(L.select_sql(source, info.commitments, info.tag_keys)).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            if not batch.num_rows:
                continue
            ids = pa.array(L.line_item_ids(info.period, n, batch.num_rows), pa.string())
            n += batch.num_rows
            tb = pa.Table.from_batches([batch])
            cols = [ids if f.name == "identity_line_item_id" else tb[f.name] for f in CUR2_SCHEMA]
            cur2.write(pa.Table.from_arrays(cols, names=CUR2_SCHEMA.names).cast(CUR2_SCHEMA))
            cols = [ids if src is None else tb[src].cast(pa.string()) for src in legacy_src]
            legacy.write(pa.Table.from_arrays(cols, names=headers))
            by = tb.group_by("line_item_usage_account_id").aggregate([("_billed", "sum"), ("_amortized", "sum")])
            for acct, billed, amortized in zip(*(by[c].to_pylist() for c in by.column_names), strict=True):
                b, a = sums.get(str(acct), (Decimal(0), Decimal(0)))
                sums[str(acct)] = (b + (billed or 0), a + (amortized or 0))
    if not cur2.keys:  # no AWS rows: still an (empty) file for the manifests to list
        cur2.write(CUR2_SCHEMA.empty_table())
        legacy.write(pa.table({h: pa.array([], pa.string()) for h in headers}))
    by_account = dict(sorted(sums.items()))
    return Totals(
        sum((v[0] for v in by_account.values()), Decimal(0)),
        sum((v[1] for v in by_account.values()), Decimal(0)),
        n,
        by_account,
    )


def _publish(root: Path, data_keys: list[str], manifests: dict[str, dict[str, Any]], when: datetime) -> None:
    """Write the manifests; stamp the delivery's data files ``when`` and its manifests a minute later."""
    for key, body in manifests.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    for keys, at in ((data_keys, when), (list(manifests), when + timedelta(minutes=1))):
        for key in keys:
            os.utime(root / key, (at.timestamp(), at.timestamp()))
