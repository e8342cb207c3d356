"""Tag keys, tag values and service names from bills or config never reach SQL unescaped.

Hostile keys (``'; DROP TABLE billing; --`` and friends) go through `costs --by tag:KEY`, the allocation's
tag keys, the tag policy's required keys and unit cost's service tag keys; every result is compared with
totals computed by hand, and the warehouse's tables and row counts are the same afterwards.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from spendscope.cli import app
from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse

from ..conftest import rows, write_csv

runner = CliRunner()

HOSTILE_KEYS = [
    "'; DROP TABLE billing; --",
    '"); DROP TABLE billing; --',
    'team" OR 1=1 --',
    "x')) UNION SELECT * FROM ingests --",
    "$tag0",
    "a/b~c",  # JSON pointer metacharacters
    "{dimensions}",  # the SQL template's own placeholder
]
HOSTILE_VALUE = "'); DELETE FROM billing; --"
TRIED = {"keys": 0}


def _warehouse(tmp_path: Path, key: str) -> Path:
    """Two rows tagged {key: HOSTILE_VALUE} at 1.50, one row tagged only team=y at 2.00."""
    data = rows(3, Tags=lambda i: json.dumps({key: HOSTILE_VALUE}) if i < 2 else '{"team": "y"}')
    data[2]["BilledCost"] = data[2]["EffectiveCost"] = "2.00"
    path = tmp_path / "wh.duckdb"
    conn = open_warehouse(path)
    ingest(conn, FocusFiles([str(write_csv(tmp_path / "oct.csv", data))], source="s"))
    conn.close()
    return path


def _tables(path: Path) -> dict[str, int]:
    conn = open_warehouse(path)
    try:
        names = [r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        counts = {}
        for name in names:
            got = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            assert got is not None
            counts[name] = int(got[0])
        return counts
    finally:
        conn.close()


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_costs_by_hostile_tag_key(tmp_path: Path, key: str) -> None:
    TRIED["keys"] += 1
    wh = _warehouse(tmp_path, key)
    before = _tables(wh)
    result = runner.invoke(app, ["--warehouse", str(wh), "costs", "--by", f"tag:{key}", "--format", "json"])
    assert result.exit_code == 0, result.output
    got = {(r[f"tag:{key}"], r["BillingCurrency"]): Decimal(str(r["BilledCost"])) for r in json.loads(result.stdout)}
    assert got == {(HOSTILE_VALUE, "USD"): Decimal("3.00"), (None, "USD"): Decimal("2.00")}  # 2 × 1.50; 2.00
    assert _tables(wh) == before


def _config(tmp_path: Path, key: str) -> Path:
    tx = tmp_path / "tx.csv"
    tx.write_text(f"service,timestamp,count\n{json.dumps(HOSTILE_VALUE)},2026-10-05T00:00:00Z,3\n", encoding="utf-8")
    k = json.dumps(key)  # a JSON string is a TOML basic string
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text(
        "[[allocation.rule_sets]]\nvalid_from = 2026-01-01\n"
        f"[allocation.rule_sets.team]\ntag_keys = [{k}]\n"
        f"[tag_policy]\nrequired_keys = [{k}]\n"
        f"[unit_cost.service]\ntag_keys = [{k}]\n"
        f'[[unit_cost.transactions_files]]\npath = {json.dumps(str(tx))}\nsource = "requests"\n',
        encoding="utf-8",
    )
    return cfg


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_allocation_policy_and_unit_cost_with_hostile_keys(tmp_path: Path, key: str) -> None:
    wh = _warehouse(tmp_path, key)
    cfg = _config(tmp_path, key)
    base = ["--warehouse", str(wh), "--config", str(cfg)]
    loaded = runner.invoke(app, [*base, "ingest", "transactions", str(tmp_path / "tx.csv"), "--source", "requests"])
    assert loaded.exit_code == 0, loaded.output
    before = _tables(wh)
    result = runner.invoke(app, [*base, "analyze", "--jobs", "allocation,untagged,unit_cost"])
    assert result.exit_code == 0, result.output
    after = _tables(wh)
    assert {t: n for t, n in after.items() if t in ("billing", "ingests", "transactions")} == {
        t: n for t, n in before.items() if t in ("billing", "ingests", "transactions")
    }
    conn = duckdb.connect(str(wh), read_only=True)
    try:
        teams = conn.execute("SELECT team, sum(BilledCost) FROM allocated_daily GROUP BY 1 ORDER BY 2").fetchall()
        assert teams == [
            ("unallocated", Decimal("2.00")),
            (HOSTILE_VALUE.lower(), Decimal("3.00")),
        ]  # values fold to lower case
        untagged = conn.execute(
            "SELECT status, sum(EffectiveCost) FROM untagged_daily GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert dict(untagged).get("untagged") == Decimal("2.00")  # the team=y row lacks the required key
        unit = conn.execute("SELECT DISTINCT service FROM unit_costs WHERE cost IS NOT NULL AND cost > 0").fetchall()
        assert unit == [(HOSTILE_VALUE.lower(),)]
    finally:
        conn.close()
