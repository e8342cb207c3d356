"""Integrity check of a warehouse: schema version, ledger vs rows, totals vs ledger, double loads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb

from spendscope import sql
from spendscope.warehouse.db import LATEST_VERSION, schema_version


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    level: Literal["error", "warning"]
    problem: str


def run_doctor(conn: duckdb.DuckDBPyConnection) -> list[Finding]:
    """All problems found; an empty list means the warehouse is consistent."""
    found: list[Finding] = []
    version = schema_version(conn)
    if version != LATEST_VERSION:
        found.append(Finding("schema_version", "error", f"schema version {version}, expected {LATEST_VERSION}"))
    for name in sql.names("doctor"):
        check = name.split("/", 1)[1].split("_", 1)[1]
        for level, problem in conn.execute(sql.load(name)).fetchall():
            found.append(Finding(check, level, problem))
    return found


def checks() -> list[str]:
    return ["schema_version"] + [n.split("/", 1)[1].split("_", 1)[1] for n in sql.names("doctor")]
