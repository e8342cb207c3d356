"""Opening the DuckDB warehouse: settings, the single-writer lock, and schema migrations.

Only the warehouse package writes to DuckDB. ``open_warehouse`` returns a connection with the
schema at the version this spendscope knows, migrating an older file in place (one transaction
per migration) and refusing a newer one. The session time zone is UTC, so TIMESTAMPTZ values and
naive timestamps read from files are UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pycountry

from spendscope import sql
from spendscope.errors import WarehouseError, WarehouseInUse
from spendscope.focus import ALLOWED_VALUES

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^migrations/(\d{4})_(\w+)$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    name: str


def migrations() -> list[Migration]:
    """The migrations shipped in ``spendscope/sql/migrations``, in order."""
    found = []
    for name in sql.names("migrations"):
        m = _MIGRATION_NAME.match(name)
        if not m:
            raise WarehouseError(f"migration file name {name!r} is not NNNN_description.sql")
        found.append(Migration(int(m.group(1)), m.group(2).replace("_", " "), name))
    return found


LATEST_VERSION = migrations()[-1].version


@dataclass(frozen=True, slots=True)
class WarehouseSettings:
    """DuckDB resource settings; None keeps DuckDB's default."""

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None


def open_warehouse(
    path: Path | str, *, settings: WarehouseSettings | None = None, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) and migrate the warehouse file; ':memory:' works for tests.

    Raises WarehouseInUse when another process holds the file, WarehouseError when the file is
    newer than this spendscope or is not a DuckDB database.
    """
    target = str(path)
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    # Row order of a table is never relied on (every reader orders what it shows); not preserving it lets
    # DuckDB stream large inserts instead of buffering them, so memory_limit bounds an ingest's memory.
    config: dict[str, str | int | bool] = {"preserve_insertion_order": False}
    settings = settings or WarehouseSettings()
    if settings.memory_limit:
        config["memory_limit"] = settings.memory_limit
    if settings.threads:
        config["threads"] = settings.threads
    if settings.temp_directory:
        config["temp_directory"] = settings.temp_directory
    try:
        conn = duckdb.connect(target, read_only=read_only, config=config)  # type: ignore[arg-type]
    except duckdb.IOException as exc:
        text = str(exc)
        holder = re.search(r"PID (\d+)", text)
        if "lock" in text.lower():
            pid = f" by pid {holder.group(1)}" if holder else ""
            raise WarehouseInUse(
                f"warehouse in use{pid}; use the running service's API or stop it", source=target
            ) from exc
        raise WarehouseError(f"cannot open warehouse: {text.splitlines()[0]}", source=target) from exc
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open warehouse: {str(exc).splitlines()[0]}", source=target) from exc
    conn.execute("SET TimeZone = 'UTC'")
    _macros(conn)
    try:
        migrate(conn, source=target, read_only=read_only)
    except BaseException:
        conn.close()
        raise
    return conn


def cursor(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new connection to the same open database, set up as ``open_warehouse`` sets up its own (UTC, macros).

    One per thread: a long-running process that owns the file (`spendscope serve`) gives each job and each
    request its own cursor, since DuckDB lets no other process open the file meanwhile. Close it when done.
    """
    cur = conn.cursor()
    cur.execute("SET TimeZone = 'UTC'")
    _macros(cur)
    return cur


def _macros(conn: duckdb.DuckDBPyConnection) -> None:
    """Per-connection helpers the SQL files use. Day and hour of a TIMESTAMPTZ in UTC by integer
    arithmetic on its epoch: the same values as ``CAST(timezone('UTC', ts) AS DATE)`` and
    ``date_trunc('hour', ts)``, an order of magnitude faster (no calendar library per row)."""
    conn.execute(
        "CREATE OR REPLACE TEMP MACRO utc_day(ts) AS DATE '1970-01-01' + CAST(epoch_us(ts) // 86400000000 AS INTEGER)"
    )
    conn.execute(
        "CREATE OR REPLACE TEMP MACRO utc_hour(ts) AS make_timestamptz(epoch_us(ts) // 3600000000 * 3600000000)"
    )


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    """The applied schema version; 0 for an empty database."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _applied(conn: duckdb.DuckDBPyConnection) -> set[int]:
    if not schema_version(conn):
        return set()
    return {int(v) for (v,) in conn.execute("SELECT version FROM schema_version").fetchall()}


def migrate(conn: duckdb.DuckDBPyConnection, *, source: str, read_only: bool = False) -> int:
    """Apply pending migrations, one transaction each, in version order; return the resulting version.

    Pending = every shipped migration not recorded in schema_version (not only those above the
    highest applied one), so a migration merged with a lower number than one already applied on a
    development warehouse still runs.
    """
    current = schema_version(conn)
    if current > LATEST_VERSION:
        raise WarehouseError(
            f"warehouse schema version {current} is newer than this spendscope supports "
            f"({LATEST_VERSION}); upgrade spendscope",
            source=source,
        )
    applied = _applied(conn)
    pending = [m for m in migrations() if m.version not in applied]
    if pending and read_only:
        raise WarehouseError(
            f"warehouse schema version {current} needs migration to {LATEST_VERSION}; open it writable once",
            source=source,
        )
    for m in pending:
        log.info("migrating warehouse version=%d name=%s", m.version, m.name)
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(sql.load(m.name))
            conn.execute(
                "INSERT INTO schema_version (version, description) VALUES ($v, $d)",
                {"v": m.version, "d": m.description},
            )
            if m.version == 1:
                _fill_reference_tables(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def _fill_reference_tables(conn: duckdb.DuckDBPyConnection) -> None:
    codes = [(c.alpha_3, c.name) for c in pycountry.currencies]
    conn.executemany("INSERT INTO currencies VALUES (?, ?)", codes)
    values = [(col, v) for col, allowed in ALLOWED_VALUES.items() for v in allowed]
    conn.executemany("INSERT INTO focus_allowed_values VALUES (?, ?)", values)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, rolling back on any exception (including KeyboardInterrupt)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
