"""FOCUS file collector: FOCUS 1.0–1.3 CSV (plain or gzip) and Parquet, from paths, directories or globs.

DuckDB reads every file directly (no whole-file load into Python). For each file the collector
reads the header and a small sample, maps the file's columns to the warehouse's, and writes the
SELECT that the warehouse runs inside its load transaction. It refuses, naming the file and column,
what would corrupt money, time or identity (a missing mandatory column, a non-numeric or
non-finite cost, an unparseable date); it loads what is unambiguous and reports the rest as
deviations (nulls written as the string NULL, timestamps without T/Z, columns without the x_
prefix, allowed values in the wrong case, tags that are not a JSON object).
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Sequence
from pathlib import Path

import duckdb

from spendscope.collectors import COLLECTORS, Describe
from spendscope.errors import BadData, CollectorError, SchemaMismatch, SpendscopeError
from spendscope.fileformats import check_gzip, csv_damage, diagnose_casts, file_format, reader_sql
from spendscope.focus import (
    COLUMNS_BY_NAME,
    DECIMAL_SQL,
    EXTENSION_COLUMNS,
    FocusColumn,
    FocusVersion,
    detect_version,
    version_columns,
)
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan, LoadRequest

log = logging.getLogger(__name__)

FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq", ".gz", ".txt")
MAX_EXTENSION_COLUMNS = 200
"""Extra (non-FOCUS) columns kept per file in x_Extensions; beyond that they are reported, not kept."""
_SAMPLE_ROWS = 1000


def quote_ident(name: str) -> str:
    """A DuckDB identifier for any column name a file may carry (quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def discover(patterns: Sequence[str]) -> list[Path]:
    """Files named by paths, directories (searched recursively) or glob patterns, sorted, unique."""
    found: set[Path] = set()
    for pattern in patterns:
        p = Path(pattern).expanduser()
        if p.is_dir():
            found.update(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(FILE_SUFFIXES))
        elif p.is_file():
            found.add(p)
        else:
            matches = [Path(m) for m in glob.glob(str(p), recursive=True)]
            files = [m for m in matches if m.is_file()]
            if not files:
                raise CollectorError("no such file, directory or matching glob", source=pattern)
            found.update(files)
    return sorted(f.resolve() for f in found)


def _value_expr(col: FocusColumn, ident: str, duck_type: str) -> str:
    """Cast one source column to its warehouse type. Strict casts on money and time: a bad value
    aborts the load and ``diagnose`` names the column."""
    if col.type == "decimal":
        return f"CAST({ident} AS {DECIMAL_SQL})"
    if col.type == "timestamp":
        return f"CAST({ident} AS TIMESTAMPTZ)"
    if col.type == "json":
        if duck_type.startswith(("MAP", "STRUCT")):
            return f"CAST(to_json({ident}) AS JSON)"
        text = f"CAST({ident} AS VARCHAR)"
        return _json_object_or_null(text)
    return f"NULLIF(CAST({ident} AS VARCHAR), '')"


def _json_object_or_null(text: str) -> str:
    """A JSON object, or NULL for anything else (DuckDB's AND does not short-circuit, CASE does)."""
    return f"CASE WHEN json_valid({text}) THEN CASE WHEN json_type({text}) = 'OBJECT' THEN CAST({text} AS JSON) END END"


class FocusFiles:
    """FOCUS files as a billing source. ``source`` defaults to the resolved path(s) given."""

    collector = "focus"
    provider = None

    def __init__(self, paths: Sequence[str], *, source: str | None = None) -> None:
        if not paths:
            raise CollectorError("no FOCUS file given")
        self.paths = list(paths)
        self.source = source or ",".join(sorted(str(Path(p).expanduser().resolve()) for p in paths))

    def fetch(self, period: str | None, *, describe: Describe) -> LoadRequest:
        files = discover(self.paths)
        if not files:
            raise CollectorError("no CSV or Parquet file found", source=",".join(self.paths))
        described = describe(files)
        conn = duckdb.connect()
        try:
            conn.execute("SET TimeZone = 'UTC'")
            plans = [plan_file(conn, f, period=period) for f in described]
        finally:
            conn.close()
        versions = sorted({str(p.deviations.get("focus_version")) for p in plans})
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version=",".join(versions))


COLLECTORS.register("focus")(FocusFiles)


def _describe(conn: duckdb.DuckDBPyConnection, path: str, fmt: str) -> list[tuple[str, str]]:
    try:
        rows = conn.execute(f"DESCRIBE SELECT * FROM {reader_sql(fmt)}", {"path": path}).fetchall()
    except duckdb.Error as exc:
        kind = "Parquet" if fmt == "parquet" else "CSV"
        damage = csv_damage(Path(path)) if fmt == "csv" else None
        raise BadData(damage or f"not a readable {kind} file: {_first_line(exc)}", source=path) from exc
    return [(str(r[0]), str(r[1])) for r in rows]


_FOCUS_LOWER = {name.lower() for name in COLUMNS_BY_NAME}


def _duplicate_of(name: str, columns: list[tuple[str, str]]) -> str | None:
    """The file column that ``name`` repeats when DuckDB renamed a duplicated FOCUS header to ``<name>_<n>``."""
    base, sep, n = name.rpartition("_")
    if not sep or not n.isdigit() or base.lower() not in _FOCUS_LOWER:
        return None
    return next((raw for raw, _ in columns if raw.lstrip("\ufeff").strip().lower() == base.lower()), None)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def plan_file(conn: duckdb.DuckDBPyConnection, file: SourceFile, *, period: str | None = None) -> FilePlan:
    """Map one file's columns to the warehouse and build its SELECT (see module doc)."""
    path = Path(file.path)
    fmt = file_format(path)
    if fmt == "csv":
        check_gzip(path)
    columns = _describe(conn, file.path, fmt)
    if not columns:
        raise SchemaMismatch("file has no columns", source=file.path)
    deviations: dict[str, object] = {"format": fmt}

    # Match file columns to FOCUS names: exact, else case/whitespace/BOM-insensitive (reported).
    lookup = {name.lower(): name for name in COLUMNS_BY_NAME}
    mapped: dict[str, tuple[str, str]] = {}  # FOCUS name -> (file column, duckdb type)
    renamed: dict[str, str] = {}
    extras: list[tuple[str, str]] = []
    for raw_name, duck_type in columns:
        clean = raw_name.lstrip("\ufeff").strip()
        focus_name = clean if clean in COLUMNS_BY_NAME else lookup.get(clean.lower())
        repeated = mapped[focus_name][0] if focus_name in mapped else _duplicate_of(clean, columns)
        if repeated is not None:  # two columns for one FOCUS field: loading either could be the wrong bill
            raise SchemaMismatch(f"column {raw_name!r} repeats {repeated!r}: ambiguous", source=file.path)
        if focus_name:
            mapped[focus_name] = (raw_name, duck_type)
            if raw_name != focus_name:
                renamed[raw_name] = focus_name
        else:
            extras.append((raw_name, duck_type))
    if renamed:
        deviations["columns_renamed"] = renamed

    version: FocusVersion = detect_version(set(mapped))
    deviations["focus_version"] = version
    if version == "1.3":  # 1.3 deprecates ProviderName/PublisherName for ServiceProviderName
        for old in ("ProviderName", "PublisherName"):
            if old not in mapped and "ServiceProviderName" in mapped:
                mapped[old] = mapped["ServiceProviderName"]
    missing = [c.name for c in version_columns(version) if c.mandatory and c.name not in mapped]
    if missing and fmt == "csv":
        _refuse_if_damaged(path)
    if missing:
        raise SchemaMismatch(
            f"missing mandatory FOCUS {version} column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            source=file.path,
        )

    select: list[str] = []
    params: dict[str, object] = {"path": file.path}
    for name, (raw_name, duck_type) in mapped.items():
        col = COLUMNS_BY_NAME[name]
        select.append(f"{_value_expr(col, quote_ident(raw_name), duck_type)} AS {name}")

    # FOCUS < 1.2 has no PricingCurrency: its unit prices are in the billing currency, so the 1.2
    # pricing-currency columns are the billing-currency ones.
    if "PricingCurrency" not in mapped:
        derived = {
            "PricingCurrency": "BillingCurrency",
            "PricingCurrencyEffectiveCost": "EffectiveCost",
            "PricingCurrencyListUnitPrice": "ListUnitPrice",
            "PricingCurrencyContractedUnitPrice": "ContractedUnitPrice",
        }
        for target, origin in derived.items():
            if target not in mapped and origin in mapped:
                col = COLUMNS_BY_NAME[origin]
                raw, duck_type = mapped[origin]
                select.append(f"{_value_expr(col, quote_ident(raw), duck_type)} AS {target}")
        deviations["pricing_currency"] = "derived from BillingCurrency (FOCUS < 1.2 prices in billing currency)"

    ext_pairs: list[str] = []
    unprefixed = []
    for i, (raw_name, _duck_type) in enumerate(extras):
        clean = raw_name.lstrip("\ufeff").strip()
        if clean in EXTENSION_COLUMNS and clean != "x_Extensions":
            target_type = EXTENSION_COLUMNS[clean]
            select.append(f"TRY_CAST({quote_ident(raw_name)} AS {target_type}) AS {clean}")
            continue
        if not clean.startswith("x_"):
            unprefixed.append(clean)
        if len(ext_pairs) < MAX_EXTENSION_COLUMNS:
            params[f"k{i}"] = clean
            ext_pairs.append(f"$k{i}, {quote_ident(raw_name)}")
    if unprefixed:
        deviations["columns_without_x_prefix"] = unprefixed[:20]
    if len(extras) > MAX_EXTENSION_COLUMNS:
        deviations["extension_columns_dropped"] = len(extras) - MAX_EXTENSION_COLUMNS
    for json_col in ("Tags", "SkuPriceDetails"):
        if json_col in mapped and not mapped[json_col][1].startswith(("MAP", "STRUCT")):
            ident = quote_ident(mapped[json_col][0])
            text = f"CAST({ident} AS VARCHAR)"
            params[f"u_{json_col}"] = f"{json_col}_unparsed"
            ext_pairs.append(f"$u_{json_col}, CASE WHEN {_json_object_or_null(text)} IS NULL THEN {text} END")
    if ext_pairs:
        # merge-patching into {} drops the keys whose value is null
        select.append(f"json_merge_patch('{{}}', json_object({', '.join(ext_pairs)})) AS x_Extensions")

    where = ""
    if period:
        params["period"] = period
        billing_start = _value_expr(
            COLUMNS_BY_NAME["BillingPeriodStart"], quote_ident(mapped["BillingPeriodStart"][0]), ""
        )
        where = f" WHERE strftime({billing_start}, '%Y-%m') = $period"
    select_sql = f"SELECT {', '.join(select)} FROM {reader_sql(fmt)}{where}"

    if fmt == "csv":
        deviations.update(_sample_deviations(conn, file.path, mapped))

    def diagnose(wconn: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
        return _diagnose(file.path, fmt, mapped, exc)

    return FilePlan(file, select_sql, params, diagnose, deviations)


def _refuse_if_damaged(path: Path) -> None:
    """Before blaming missing columns: a cut or empty file says so (DuckDB reads an unterminated quote as one
    column named after the whole header), and so does a ``.parquet`` that lost its PAR1 magic."""
    damage = csv_damage(path)
    if damage is None and path.name.lower().endswith((".parquet", ".pq")):
        damage = "not a Parquet file (it does not start with PAR1): truncated or corrupt"
    if damage is not None:
        raise BadData(f"{damage}; nothing was loaded", source=str(path))


def _sample_deviations(
    conn: duckdb.DuckDBPyConnection, path: str, mapped: dict[str, tuple[str, str]]
) -> dict[str, object]:
    """Format habits seen in the first rows of a CSV: NULL written as a string, timestamps without T/Z."""
    out: dict[str, object] = {}
    try:
        rel = conn.execute(
            f"SELECT * FROM read_csv($path, header = true, all_varchar = true) LIMIT {_SAMPLE_ROWS}",
            {"path": path},
        )
        names = [d[0] for d in rel.description]
        rows = rel.fetchall()
    except duckdb.Error:
        return out  # the load itself will report what is wrong with the file
    if any(v == "NULL" for row in rows for v in row):
        out["null_written_as_string"] = "NULL"
    ts_cols = [names.index(raw) for name, (raw, _) in mapped.items() if COLUMNS_BY_NAME[name].type == "timestamp"]
    values = [row[i] for row in rows for i in ts_cols if row[i] not in (None, "NULL")]
    if values and not all("T" in v and (v.endswith("Z") or "+" in v[10:]) for v in values):
        out["timestamps_without_T_Z"] = "read as UTC"
    return out


def _diagnose(path: str, fmt: str, mapped: dict[str, tuple[str, str]], exc: duckdb.Error) -> SpendscopeError:
    """Name the column and a value that made the load fail; fall back to DuckDB's first line."""
    targets = {"decimal": DECIMAL_SQL, "timestamp": "TIMESTAMPTZ"}
    columns = [
        (name, quote_ident(raw), targets[COLUMNS_BY_NAME[name].type])
        for name, (raw, _) in mapped.items()
        if COLUMNS_BY_NAME[name].type in targets
    ]
    return diagnose_casts(path, path, fmt, columns, exc)
