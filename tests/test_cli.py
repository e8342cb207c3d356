"""The command-line contract: exact forms, output columns, exit codes (0 ok, 1 bad input, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from spendscope.cli import app

from .conftest import rows, write_csv

runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess: exit codes and stderr as a user sees them."""
    return subprocess.run([sys.executable, "-m", "spendscope.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    wh = tmp_path / "wh.duckdb"
    data = (
        rows(2)
        + rows(
            3,
            ServiceName="Amazon S3",
            ServiceCategory="Storage",
            BilledCost="0.10",
            EffectiveCost="0.10",
            Tags=lambda i: '{"team": "search"}' if i else None,
        )
        + rows(
            1,
            BillingCurrency="EUR",
            PricingCurrency="EUR",
            BilledCost="7",
            EffectiveCost="6",
            ProviderName="Microsoft",
            PublisherName="Microsoft",
            ServiceName="Virtual Machines",
        )
    )
    f = write_csv(tmp_path / "oct.csv", data)
    result = run("--warehouse", str(wh), "ingest", "focus", str(f), "--source", "s")
    assert result.returncode == 0, result.stderr
    return wh


def test_costs_json_contract(warehouse: Path) -> None:
    result = run(
        "--warehouse",
        str(warehouse),
        "costs",
        "--by",
        "ServiceName,tag:team",
        "--period",
        "2026-10",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert all(list(r) == ["ServiceName", "tag:team", "BillingCurrency", "BilledCost", "EffectiveCost"] for r in data)
    got = {(r["ServiceName"], r["tag:team"], r["BillingCurrency"]): (r["BilledCost"], r["EffectiveCost"]) for r in data}
    assert got == {
        ("Amazon EC2", "payments", "USD"): (3.0, 3.0),  # 2 × 1.50
        ("Amazon S3", "search", "USD"): (0.2, 0.2),  # rows 1 and 2: 2 × 0.10
        ("Amazon S3", None, "USD"): (0.1, 0.1),  # row 0: untagged
        ("Virtual Machines", "payments", "EUR"): (7.0, 6.0),  # EUR never summed with USD
    }


def test_costs_csv_and_parquet(warehouse: Path, tmp_path: Path) -> None:
    result = run("--warehouse", str(warehouse), "costs", "--by", "ProviderName", "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "ProviderName,BillingCurrency,BilledCost,EffectiveCost"
    assert sorted(lines[1:]) == ["AWS,USD,3.3,3.3", "Microsoft,EUR,7.0,6.0"]  # 3.00 + 3 × 0.10
    out = tmp_path / "c.parquet"
    result = run(
        "--warehouse", str(warehouse), "costs", "--by", "ProviderName", "--format", "parquet", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    frame = pl.read_parquet(out).sort("ProviderName")
    assert frame["BilledCost"].to_list() == [Decimal("3.3"), Decimal("7")]


def test_exit_codes(warehouse: Path, tmp_path: Path) -> None:
    bad = run("--warehouse", str(warehouse), "costs", "--by", "Nope")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Nope" in bad.stderr
    usage = run("--warehouse", str(warehouse), "costs", "--no-such-option")
    assert usage.returncode == 2
    missing = run("--warehouse", str(warehouse), "ingest", "focus", str(tmp_path / "nothing-here.csv"))
    assert missing.returncode == 1 and "nothing-here.csv" in missing.stderr
    assert "Traceback" not in bad.stderr + missing.stderr


def test_doctor_exit_codes(warehouse: Path) -> None:
    ok = run("--warehouse", str(warehouse), "doctor")
    assert ok.returncode == 0, ok.stdout
    import duckdb

    conn = duckdb.connect(str(warehouse))
    conn.execute("DELETE FROM billing WHERE ServiceName = 'Amazon S3'")
    conn.close()
    broken = run("--warehouse", str(warehouse), "doctor")
    assert broken.returncode == 1
    assert "FAIL rows_vs_ledger" in broken.stdout


def test_export_focus_writes_every_focus_column(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    result = run("--warehouse", str(warehouse), "export", "focus", "--period", "2026-10", "--out", str(out))
    assert result.returncode == 0, result.stderr
    frame = pl.read_parquet(out)
    spec = [line.split(",")[0] for line in _spec_columns()]
    assert frame.columns[: len(spec)] == spec
    assert frame.height == 6
    none = run("--warehouse", str(warehouse), "export", "focus", "--period", "2020-01", "--out", str(out))
    assert none.returncode == 1 and "no billing rows" in none.stderr


def _spec_columns() -> list[str]:
    from .conftest import shared_path

    return shared_path("data", "focus-spec", "focus_columns_v1.2.csv").read_text().splitlines()[1:]


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text('warehouse = "x.duckdb"\napi_token = "s3cr3t-token-value"\n')
    result = runner.invoke(app, ["--config", str(cfg), "config", "show"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t-token-value" not in result.output
    assert "**********" in result.output


def test_unknown_config_key_names_file_section_and_valid_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text('[duckdb]\nmemory_limt = "1GB"\n')
    result = run("--config", str(cfg), "config", "show")
    assert result.returncode == 1
    assert str(cfg) in result.stderr and "duckdb.memory_limt" in result.stderr and "memory_limit" in result.stderr


def test_env_overrides_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text('warehouse = "from-file.duckdb"\n[duckdb]\nmemory_limit = "1GB"\n')
    monkeypatch.setenv("SPENDSCOPE_WAREHOUSE", "from-env.duckdb")
    result = runner.invoke(app, ["--config", str(cfg), "config", "show"])
    shown = json.loads(result.output)
    assert shown["warehouse"] == "from-env.duckdb" and shown["duckdb"]["memory_limit"] == "1GB"


def test_ingest_configured_sources(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "bill" / "oct.csv", rows(2))
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text(f'warehouse = "{tmp_path / "wh.duckdb"}"\n[[sources]]\nname = "aws-focus"\npaths = ["{f.parent}"]\n')
    first = run("--config", str(cfg), "ingest", "sources")
    assert first.returncode == 0, first.stderr
    again = run("--config", str(cfg), "ingest", "sources", "aws-focus")
    assert again.returncode == 0 and "unchanged" in again.stdout
    unknown = run("--config", str(cfg), "ingest", "sources", "nope")
    assert unknown.returncode == 1 and "aws-focus" in unknown.stderr


def test_every_command_has_help_with_an_example() -> None:
    for args in (["generate"], ["ingest", "focus"], ["export", "focus"], ["costs"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "spendscope " in result.output, args


def test_analyze_then_costs_by_team(warehouse: Path) -> None:
    before = run("--warehouse", str(warehouse), "costs", "--by", "team")
    assert before.returncode == 1 and "spendscope analyze" in before.stderr
    analyzed = run("--warehouse", str(warehouse), "analyze", "--period", "2026-10")
    assert analyzed.returncode == 0, analyzed.stderr
    result = run("--warehouse", str(warehouse), "costs", "--by", "team,ServiceName", "--format", "json")
    assert result.returncode == 0, result.stderr
    got = {(r["team"], r["ServiceName"], r["BillingCurrency"]): r["BilledCost"] for r in json.loads(result.stdout)}
    # By hand: EC2 rows tagged payments (2 × 1.50); S3 rows tagged search (2 × 0.10) and one untagged;
    # the EUR row tagged payments (7).
    assert got == {
        ("payments", "Amazon EC2", "USD"): 3.0,
        ("search", "Amazon S3", "USD"): 0.2,
        ("unallocated", "Amazon S3", "USD"): 0.1,
        ("payments", "Virtual Machines", "EUR"): 7.0,
    }
    mixed = run("--warehouse", str(warehouse), "costs", "--by", "team,SkuId")
    assert mixed.returncode == 1 and "SkuId" in mixed.stderr


def test_untagged_summary(warehouse: Path) -> None:
    result = run("--warehouse", str(warehouse), "untagged", "--period", "2026-10", "--format", "json")
    assert result.returncode == 0, result.stderr
    got = {r["currency"]: r for r in json.loads(result.stdout)}
    # USD taggable EffectiveCost: EC2 2 × 1.50 (team+env) + S3 3 × 0.10 = 3.30; S3 rows 1–2 carry team but
    # no env (mis-tagged, 0.20), S3 row 0 carries nothing (untagged, 0.10): 0.30 / 3.30 = 9.09 %.
    assert (got["USD"]["EffectiveCost"], got["USD"]["untagged_cost"], got["USD"]["mistagged_cost"]) == (3.3, 0.1, 0.2)
    assert round(got["USD"]["noncompliant_pct"], 2) == 9.09
    # EUR: the one row carries team and env: fully compliant.
    assert (got["EUR"]["EffectiveCost"], got["EUR"]["noncompliant_pct"]) == (6.0, 0.0)
