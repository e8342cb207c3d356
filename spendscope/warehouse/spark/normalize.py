"""Native billing files → FOCUS Parquet, in Spark: the collectors' SQL mappings run as Spark SQL.

The files are read in place (a Spark temp view over them); the mapping is the DuckDB collector's SQL
(``sql/collectors/*_to_focus.sql``) through ``dialect.spark_sql``, fed the same ``{cur}`` / ``{cost}`` /
``{export}`` subquery the DuckDB collector builds from the file's columns. The FOCUS rows are written to
``<location>/focus/billing_period=YYYY-MM/provider=aws|azure|gcp/source=<id>/`` as Parquet with the
warehouse's types (DECIMAL(38, 12) money, UTC timestamps, JSON as text), by dynamic partition overwrite:
a re-run or a restated month replaces that (period, provider, source) partition and nothing else. The
``source`` level keeps two reports of one provider (two payers' CURs) from replacing each other.

Which files make a period is decided by the DuckDB collectors' own discovery (manifests, latest
delivery or export run): ``sources.py`` turns a ``[[sources]]`` location into ``NativeSource`` units.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from spendscope import sql
from spendscope.errors import BadData, SchemaMismatch
from spendscope.focus import EXTENSION_COLUMNS, FOCUS_COLUMNS
from spendscope.warehouse.spark.dialect import spark_sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType

log = logging.getLogger(__name__)

Kind = Literal["aws_cur", "azure_cost", "gcp_export"]
Role = Literal["amortized", "actual_purchases", "actual", "focus"]
PROVIDER_SLUG: Final[dict[Kind, str]] = {"aws_cur": "aws", "azure_cost": "azure", "gcp_export": "gcp"}
_SPARK_TYPES: Final = {"decimal": "DECIMAL(38, 12)", "timestamp": "TIMESTAMP", "string": "STRING", "json": "STRING"}
_EXT_SPARK_TYPES: Final = {"VARCHAR": "STRING", "BOOLEAN": "BOOLEAN", "JSON": "STRING"}
OUTPUT_TYPES: Final[dict[str, str]] = {
    **{c.name: _SPARK_TYPES[c.type] for c in FOCUS_COLUMNS},
    **{name: _EXT_SPARK_TYPES[t] for name, t in EXTENSION_COLUMNS.items()},
}
"""Every column a FOCUS Parquet file may carry, with its Spark type (the warehouse's, JSON as text)."""


@dataclass(frozen=True, slots=True)
class NativeFile:
    uri: str
    """What Spark reads: a local path or a URL its Hadoop filesystems know (s3a://, abfss://, gs://)."""
    name: str
    """How the file is named to the user and in the ledger (s3://…, a local path)."""
    identity: str
    """Size and ETag/generation (or size-mtime): a change means the file changed."""
    role: Role | None = None
    """Azure: which Cost Management dataset the file is and how it is combined."""


@dataclass(frozen=True, slots=True)
class NativeUnit:
    period: str | None
    """YYYY-MM when discovery knows the file set's billing period, else None (GCP copies: whatever they carry)."""
    files: tuple[NativeFile, ...]

    @property
    def fingerprint(self) -> str:
        """Identity of the unit's inputs: an unchanged fingerprint means Spark has nothing new to do."""
        ids = sorted(f"{f.name}|{f.identity}|{f.role}" for f in self.files)
        return hashlib.sha256("\n".join(ids).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NativeSource:
    source: str
    """The ledger source: the same name the DuckDB collector uses, so switching engines replaces, never adds."""
    kind: Kind
    provider: str
    units: tuple[NativeUnit, ...]

    @property
    def source_id(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


def focus_root(location: str) -> str:
    return location.rstrip("/") + "/focus"


def normalize(spark: SparkSession, native: NativeSource, units: list[NativeUnit], *, location: str) -> list[str]:
    """Map the units' files to FOCUS and overwrite their partitions under ``<location>/focus``, in one job.

    A unit with a known period contributes only that period's rows. Returns the billing periods (YYYY-MM)
    written. Raises SchemaMismatch / BadData naming the file.
    """
    from pyspark.sql import functions as F

    files = [f for u in units for f in u.files]
    names = ", ".join(f.name for f in files[:3]) + (" …" if len(files) > 3 else "")
    try:
        focus = focus_frame(spark, native, units)
        (  # no repartition: every input task writes its own file, so a month is written in parallel
            focus.write.mode("overwrite")
            .partitionBy("billing_period", "provider", "source")
            .parquet(focus_root(location))
        )
        if all(u.period is not None for u in units):
            periods = sorted({str(u.period) for u in units})
        else:  # what the files carried (partition values only: no data is read)
            written = (
                spark.read.parquet(focus_root(location))
                .where((F.col("provider") == PROVIDER_SLUG[native.kind]) & (F.col("source") == native.source_id))
                .select("billing_period")
                .distinct()
                .collect()
            )
            periods = sorted(str(r[0]) for r in written)
    except spark_errors() as exc:
        raise BadData(f"Spark could not normalize the files: {first_line(exc)}", source=names) from exc
    log.info("spark normalize source=%s kind=%s periods=%s", native.source, native.kind, ",".join(periods))
    return periods


def focus_frame(spark: SparkSession, native: NativeSource, units: list[NativeUnit]) -> DataFrame:
    """The units' files mapped to FOCUS (lazy), with the partition columns billing_period, provider, source."""
    from pyspark.sql import functions as F

    _register_categories(spark, native.kind)
    frames: list[DataFrame] = []
    for unit in units:
        for group in _groups(unit.files):
            frame = _map_files(spark, native.kind, group, len(frames))
            period = F.date_format("BillingPeriodStart", "yyyy-MM")
            frames.append(frame if unit.period is None else frame.where(period == unit.period))
    focus = frames[0]
    for frame in frames[1:]:
        focus = focus.unionByName(frame, allowMissingColumns=True)
    return (
        focus.withColumn("billing_period", F.date_format("BillingPeriodStart", "yyyy-MM"))
        .withColumn("provider", F.lit(PROVIDER_SLUG[native.kind]))
        .withColumn("source", F.lit(native.source_id))
    )


def spark_errors() -> tuple[type[Exception], ...]:
    """What a failed Spark call raises: PySpark's own errors, and py4j's for JVM errors it does not convert."""
    from pyspark.errors import PySparkException

    try:
        from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
    except ImportError:  # a Spark Connect client has no py4j
        return (PySparkException,)
    return (PySparkException, Py4JJavaError)


_ERROR_CLASS = re.compile(r"\[[A-Z_.]+\].*")


def first_line(exc: BaseException) -> str:
    """One line from a Spark error: the line with Spark's error class ([FAILED_READ_FILE…] …) when there is one."""
    text = str(exc).strip()
    found = _ERROR_CLASS.search(text)
    line = found.group(0) if found else (text.splitlines()[0] if text else type(exc).__name__)
    return line.split(" SQLSTATE:")[0][:300]


def _register_categories(spark: SparkSession, kind: Kind) -> None:
    """The reference CSV the mapping joins, as temp view ``categories`` (built on the driver: a cluster's
    executors cannot read the driver's package files)."""
    file = {"aws_cur": "aws_service_categories.csv", "azure_cost": "azure_service_categories.csv"}.get(
        kind, "gcp_service_categories.csv"
    )
    from pyspark.sql.types import StringType, StructField, StructType

    with open(sql.reference_path(file), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], [tuple(None if v == "" else v for v in r) for r in rows[1:] if r]
    schema = StructType([StructField(h, StringType(), True) for h in header])
    # A few hundred rows. Cached and counted, the view has size statistics, so Spark broadcasts it to the
    # join instead of shuffling the whole bill by product code (a local DataFrame alone has none).
    categories = spark.createDataFrame(body, schema).cache()
    categories.count()
    categories.createOrReplaceTempView("categories")


def _duck_type(t: DataType) -> str:
    """A Spark column type named as DuckDB's DESCRIBE would name it (the planners test the prefix)."""
    from pyspark.sql.types import ArrayType, MapType, StructType

    if isinstance(t, MapType):
        return "MAP(VARCHAR, VARCHAR)"
    if isinstance(t, StructType):
        return "STRUCT(...)"
    if isinstance(t, ArrayType):
        return "LIST"
    return t.simpleString().upper()


def _is_parquet(f: NativeFile) -> bool:
    if "://" in f.uri:  # a remote object: its format from the name, as the collectors list them
        return f.uri.lower().endswith((".parquet", ".pq"))
    try:  # a local file: from its first bytes (PAR1), as fileformats.file_format does
        with open(f.uri, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError as exc:
        raise BadData(f"not a readable file: {exc}", source=f.name) from exc


def _groups(files: tuple[NativeFile, ...]) -> list[list[NativeFile]]:
    """The Parquet files of one role read together (one scan and one mapping over all of them, split by Spark
    across tasks); CSV and JSON files one by one (their headers and dialects are per file)."""
    parquet: dict[Role | None, list[NativeFile]] = {}
    out: list[list[NativeFile]] = []
    for f in files:
        if _is_parquet(f):
            parquet.setdefault(f.role, []).append(f)
        else:
            out.append([f])
    return [*parquet.values(), *out]


def _map_files(spark: SparkSession, kind: Kind, files: list[NativeFile], i: int) -> DataFrame:
    """One group of files of the same kind and role (see ``_groups``) mapped to FOCUS."""
    f = files[0]
    view = f"native_{i}"
    raw_df = _read(spark, kind, files)
    raw_df.createOrReplaceTempView(view)
    raw = {field.name: _duck_type(field.dataType) for field in raw_df.schema.fields}
    if _is_focus(raw):  # AWS's or Azure's FOCUS exports
        return _focus_passthrough(raw_df, f)
    if f.role == "focus":
        raise SchemaMismatch("a FocusCost export without FOCUS columns", source=f.name)
    if kind == "aws_cur":
        from spendscope.collectors.aws.cur import cur_subquery

        params: dict[str, object] = {}  # legacy CUR's tag keys, bound as parameters
        cur, _, _ = cur_subquery(raw, view, params, source=f.name)
        return _typed(spark.sql(spark_sql("collectors/aws_cur_to_focus", cur=cur), args=params or None))
    if kind == "azure_cost":
        from spendscope.collectors.azure.exports_plan import cost_subquery, detect_agreement

        agreement = detect_agreement(list(raw), source=f.name)
        cost, _ = cost_subquery(raw, view, agreement)
        text = spark_sql("collectors/azure_cost_to_focus", cost=cost)
        return _typed(spark.sql(text, args={"role": f.role or "actual", "agreement": agreement}))
    from spendscope.collectors.gcp.billing_plan import REQUIRED, export_subquery

    shape = {field.name: _sub_fields(field.dataType) for field in raw_df.schema.fields}
    missing = [c for c in REQUIRED if c not in shape]
    if missing:
        raise SchemaMismatch(f"not a Cloud Billing export: missing column(s) {', '.join(missing)}", source=f.name)
    export = export_subquery(shape, view)
    return _typed(spark.sql(spark_sql("collectors/gcp_billing_to_focus", export=export)))


def _read(spark: SparkSession, kind: Kind, files: list[NativeFile]) -> DataFrame:
    f = files[0]
    unreadable: tuple[type[Exception], ...] = (OSError, *spark_errors())
    try:
        if _is_parquet(f):  # a delivery's files may differ by a column: merged schemas, missing ones NULL
            return spark.read.option("mergeSchema", "true").parquet(*[g.uri for g in files])
        if kind == "gcp_export":
            from spendscope.collectors.gcp.billing_plan import EXPORT_COLUMNS

            ddl = ", ".join(f"`{k}` {_ddl(v)}" for k, v in EXPORT_COLUMNS.items())
            return spark.read.schema(ddl).json(f.uri)
        # Cost Management / CUR CSV: comma, double quotes doubled inside quotes, header row; every column text.
        return spark.read.options(header=True, quote='"', escape='"', multiLine=True, mode="FAILFAST").csv(f.uri)
    except unreadable as exc:
        names = ", ".join(g.name for g in files[:3]) + (" …" if len(files) > 3 else "")
        raise BadData(f"not a readable file: {first_line(exc)}", source=names) from exc


def _ddl(duck: str) -> str:
    """An EXPORT_COLUMNS DuckDB type as Spark DDL (the documented export schema)."""
    from spendscope.warehouse.spark.dialect import translate

    cast = translate(f"SELECT CAST(NULL AS {duck})")
    return cast.split(" AS ", 1)[1].rsplit(")", 1)[0]


def _sub_fields(t: DataType) -> set[str] | None:
    from pyspark.sql.types import ArrayType, StructType

    if isinstance(t, ArrayType):
        t = t.elementType
    if isinstance(t, StructType):
        return set(t.fieldNames())
    return None


def _is_focus(raw: dict[str, str]) -> bool:
    return {"BilledCost", "ChargeCategory", "BillingPeriodStart"} <= {n.lstrip("\ufeff").strip() for n in raw}


def _typed(df: DataFrame) -> DataFrame:
    """The mapping's columns with the warehouse's types (a NULL literal becomes a typed null)."""
    from pyspark.sql import functions as F

    return df.select(*[F.col(c).cast(OUTPUT_TYPES[c]).alias(c) for c in df.columns if c in OUTPUT_TYPES])


def _focus_passthrough(df: DataFrame, f: NativeFile) -> DataFrame:
    """A FOCUS file (AWS or Azure FOCUS export): its FOCUS columns by name (case-insensitive), typed;
    FOCUS < 1.2 gets PricingCurrency / PricingCurrencyEffectiveCost from the billing ones, as the FOCUS
    collector does. Tags kept when they are a JSON object (a MAP/STRUCT is written as JSON)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType, StructType

    lookup = {c.lower(): c for c in OUTPUT_TYPES}
    cols = {}
    for field in df.schema.fields:
        target = lookup.get(field.name.lstrip("\ufeff").strip().lower())
        if target is None or target in cols:
            continue
        ref = F.col(f"`{field.name}`")
        if target in ("Tags", "SkuPriceDetails"):
            if isinstance(field.dataType, (MapType, StructType)):
                cols[target] = F.to_json(ref)
            else:
                text = ref.cast("string")
                is_object = F.expr(f"schema_of_variant(try_parse_json(`{field.name}`))").startswith("OBJECT")
                cols[target] = F.when(is_object, text)
        else:
            cols[target] = ref.cast(OUTPUT_TYPES[target])
    missing = [c.name for c in FOCUS_COLUMNS if c.mandatory and c.introduced == "1.0" and c.name not in cols]
    if missing:
        raise SchemaMismatch(f"missing mandatory FOCUS column(s) {', '.join(missing)}", source=f.name)
    cols.setdefault("PricingCurrency", cols["BillingCurrency"])
    cols.setdefault("PricingCurrencyEffectiveCost", cols["EffectiveCost"])
    return df.select(*[c.alias(name) for name, c in cols.items()])
