"""[[sources]] of the provider kinds: `spendscope ingest sources` (and the service's ingest jobs) build them
as `spendscope ingest aws|azure|gcp` does; the FOCUS-file kind keeps working without `collector`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from tests.aws.cur_rows import month_lines, write_cur2_parquet
from tests.conftest import rows, write_csv

from .conftest import cli


def test_ingest_sources_with_an_aws_and_a_focus_entry(tmp_path: Path) -> None:
    cur = write_cur2_parquet(tmp_path / "cur" / "cur.parquet", month_lines())  # BilledCost 151.50 by hand
    focus = write_csv(tmp_path / "focus" / "oct.csv", rows(2))  # 2 × 1.50
    warehouse = tmp_path / "w.duckdb"
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f'warehouse = "{warehouse}"\n'
        f'[[sources]]\nname = "files"\npaths = ["{focus}"]\n'
        f'[[sources]]\nname = "cur"\ncollector = "aws"\nlocation = "{cur}"\nperiod = "2026-10"\n',
        encoding="utf-8",
    )
    done = cli("--config", str(config), "ingest", "sources")
    assert done.returncode == 0, done.stderr
    again = cli("--config", str(config), "ingest", "sources", "cur")
    assert again.returncode == 0 and "unchanged" in again.stdout
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = conn.execute(
            "SELECT i.source, sum(b.BilledCost)::DECIMAL(38, 2) FROM billing AS b "
            "JOIN ingests AS i ON i.ingest_id = b.x_IngestId GROUP BY 1 ORDER BY 2"
        ).fetchall()
    finally:
        conn.close()
    assert got == [("files", Decimal("3.00")), (str(cur.resolve()), Decimal("151.50"))]
