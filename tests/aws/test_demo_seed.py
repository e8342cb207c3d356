"""`spendscope generate --formats cur --aws-endpoint-url URL` seeds moto; ingest and inventory read it back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.servers.moto import MotoServer


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spendscope.cli", *args], capture_output=True, text=True, timeout=600)


def test_seeded_moto_round_trip(moto: MotoServer, tmp_path: Path) -> None:
    gen = _run(
        "generate",
        "--out",
        str(tmp_path / "bill"),
        "--rows",
        "8000",
        "--formats",
        "cur",
        "--aws-endpoint-url",
        moto.url,
    )
    assert gen.returncode == 0, gen.stderr
    wh = tmp_path / "w.duckdb"
    ing = _run("--warehouse", str(wh), "ingest", "aws", "s3://spendscope-billing/", "--endpoint-url", moto.url)
    assert ing.returncode == 0, ing.stderr
    inv = _run("--warehouse", str(wh), "inventory", "aws", "--regions", "us-east-1", "--endpoint-url", moto.url)
    assert inv.returncode == 0, inv.stderr
    # The AWS FOCUS files the generator wrote are the independent route for the totals.
    files = [str(p) for p in sorted((tmp_path / "bill" / "focus" / "aws").rglob("*.parquet"))]
    expected = (
        duckdb.connect()
        .execute(
            "SELECT sum(BilledCost)::DECIMAL(38, 4), sum(EffectiveCost)::DECIMAL(38, 4) FROM read_parquet($f)",
            {"f": files},
        )
        .fetchone()
    )
    conn = duckdb.connect(str(wh), read_only=True)
    sources = conn.execute("SELECT DISTINCT source FROM ingests WHERE status = 'loaded' ORDER BY 1").fetchall()
    # Two reports of one payer (CUR 2.0 and legacy) are two sources: each holds the whole bill.
    assert len(sources) == 2
    per_source = conn.execute(
        "SELECT i.source, sum(b.BilledCost)::DECIMAL(38, 4), sum(b.EffectiveCost)::DECIMAL(38, 4) FROM billing b "
        "JOIN ingests i ON i.ingest_id = b.x_IngestId AND i.billing_period_start = b.BillingPeriodStart "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    orphans = conn.execute(
        "SELECT resource_type, count(*) FROM inventory WHERE (resource_type = 'ebs_volume' AND state = 'available') "
        "OR (resource_type = 'elastic_ip' AND state = 'unassociated') OR (resource_type = 'ec2_instance' "
        "AND state = 'stopped') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    conn.close()
    for _, billed, effective in per_source:
        assert (billed, effective) == expected
    assert orphans == [("ebs_volume", 2), ("ec2_instance", 1), ("elastic_ip", 1)]
    # and doctor warns: the same billing account and period arrive from two sources
    doc = _run("--warehouse", str(wh), "doctor")
    assert doc.returncode == 0 and "likely double counted" in doc.stdout
    # analyze finds the seeded orphans; the bill has no rows for them, so their cost is an estimate:
    # 100 GiB × 0.08 = 8.00 and 500 GiB × 0.08 = 40.00 per month; an Elastic IP 0.005/h × 730 h = 3.65.
    # (The snapshot and the stopped instance are younger than the 7-day / 30-day thresholds.)
    assert _run("--warehouse", str(wh), "analyze").returncode == 0
    listed = _run("--warehouse", str(wh), "orphans", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    got = sorted((o["kind"], o["cost_source"], o["EffectiveCost"], o["team"]) for o in json.loads(listed.stdout))
    assert got == [
        ("unassociated_ip", "list_price_estimate", 3.65, None),
        ("unattached_disk", "list_price_estimate", 8.0, "data"),
        ("unattached_disk", "list_price_estimate", 40.0, "data"),
    ]
