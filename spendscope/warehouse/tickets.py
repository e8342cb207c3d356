"""The ``tickets`` table: one row per ticket a sink opened, for de-duplication across syncs.

A ticket is identified by (sink, group_key) while its status is ``open``; ``items`` holds what it
listed last (fingerprint → resource, kind, waste, currency) and ``payload_sha256`` their digest, so
a sync can tell whether anything changed. Each write is recorded right after the sink accepted it,
so a failure later in the same sync never loses a ticket already opened (which would duplicate it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from spendscope import sql

__all__ = ["open_tickets", "record_closed", "record_created", "record_updated"]


def open_tickets(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """sink, group_key, external_id, url, items (JSON text), payload_sha256 of every open ticket."""
    return conn.execute(sql.load("tickets/open")).pl()


def _items(items: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {"fingerprints": json.dumps(sorted(items)), "items": json.dumps(items, sort_keys=True, default=str)}


def record_created(
    conn: duckdb.DuckDBPyConnection,
    *,
    sink: str,
    group_key: str,
    external_id: str | None,
    url: str | None,
    items: Mapping[str, Mapping[str, Any]],
    payload_sha256: str,
    now: datetime,
) -> None:
    conn.execute(
        sql.load("tickets/insert"),
        {
            "sink": sink,
            "group_key": group_key,
            "external_id": external_id,
            "url": url,
            "payload_sha256": payload_sha256,
            "now": now,
            **_items(items),
        },
    )


def record_updated(
    conn: duckdb.DuckDBPyConnection,
    *,
    sink: str,
    group_key: str,
    items: Mapping[str, Mapping[str, Any]],
    payload_sha256: str,
    now: datetime,
) -> None:
    conn.execute(
        sql.load("tickets/update"),
        {"sink": sink, "group_key": group_key, "payload_sha256": payload_sha256, "now": now, **_items(items)},
    )


def record_closed(conn: duckdb.DuckDBPyConnection, *, sink: str, group_key: str, now: datetime) -> None:
    conn.execute(sql.load("tickets/close"), {"sink": sink, "group_key": group_key, "now": now})
