"""The DuckDB warehouse: FOCUS rows, the ingest ledger, and the tables later stages fill.

Only this package writes to DuckDB. Open it with ``open_warehouse``; load with ``load``.
"""

from spendscope.warehouse.db import LATEST_VERSION, WarehouseSettings, open_warehouse, schema_version
from spendscope.warehouse.load import LoadRequest, LoadResult, load

__all__ = [
    "LATEST_VERSION",
    "LoadRequest",
    "LoadResult",
    "WarehouseSettings",
    "load",
    "open_warehouse",
    "schema_version",
]
