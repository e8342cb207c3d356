"""Loading resource inventories (``collectors.aws.inventory`` and later providers) into ``inventory``.

One observation is the set of rows a collector read at one ``observed_at``. Loading keeps history:
earlier observations stay, so analysis can tell how long a volume has been unattached. Loading the
same (source, observed_at) again replaces that observation in one transaction, so a rerun does not
duplicate rows. An empty table replaces nothing (it carries no observed_at).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from spendscope import sql
from spendscope.errors import WarehouseError
from spendscope.warehouse.db import transaction

_VIEW = "inventory_observation"  # the name the SQL files read
REQUIRED_COLUMNS = (
    "provider",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "state",
    "attached_to",
    "created_at",
    "last_used_at",
    "size",
    "size_unit",
    "tags",
    "details",
    "observed_at",
)
"""Columns the Arrow table must have: the ``inventory`` table's, except ``source``."""


def load_inventory(conn: duckdb.DuckDBPyConnection, table: pa.Table, *, source: str) -> int:
    """Store one observation under ``source``; return the number of rows inserted.

    Idempotent per (source, observed_at). Raises WarehouseError, naming the source, when a column is
    missing or a value breaks the table (NULL resource_id, tags that are not JSON); nothing is stored.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise WarehouseError(f"inventory table lacks columns {', '.join(missing)}", source=source)
    conn.register(_VIEW, table)
    try:
        with transaction(conn):
            conn.execute(sql.load("inventory/replace_observation"), {"source": source})
            row = conn.execute(sql.load("inventory/insert_observation"), {"source": source}).fetchone()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot load inventory: {str(exc).splitlines()[0]}", source=source) from exc
    finally:
        conn.unregister(_VIEW)
    return int(row[0]) if row else 0
