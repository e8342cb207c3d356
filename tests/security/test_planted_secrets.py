"""Secrets planted in the config file and the environment never appear in any output.

One small bill goes through ingest, analyze, report, metrics, `tickets sync --dry-run`, `alerts push` to a dead
URL, `config show` and `doctor`, every command with -v. Then every place a secret could leak is scanned: the
commands' stdout/stderr, every log record, every file written (XLSX and Parquet opened, not just grepped), the
metrics exposition, and every text column of every warehouse table.
"""

from __future__ import annotations

import json
import logging
import socket
import zipfile
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from typer.testing import CliRunner

from spendscope.cli import app
from spendscope.config import load_settings
from spendscope.exporters.metrics import CostMetricsCollector
from spendscope.warehouse.db import open_warehouse

from ..conftest import rows, write_csv

runner = CliRunner()

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTED0001"
AZURE_KEY = "PLANTEDazureAccountKey0002abcdefABCDEF0123456789+/=="
AZURE_CONNECTION = (
    f"DefaultEndpointsProtocol=https;AccountName=planted;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net"
)
SECRETS = {
    "AWS_SECRET_ACCESS_KEY (env)": AWS_SECRET,
    "Azure AccountKey (env connection string)": AZURE_KEY,
    "Alertmanager bearer (env)": "am-bearer-PLANTED-0003",
    "GitHub token (config)": "ghp_PLANTEDgithubToken0005xxxxxxxxxxxxxxx",
    "API token (env)": "api-bearer-PLANTED-0006",
    "Prometheus token (config)": "prom-bearer-PLANTED-0007",
}


def _dead_url() -> str:
    with socket.socket() as s:  # a port nobody listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _texts_in_file(path: Path) -> list[str]:
    data = path.read_bytes()
    texts = [data.decode("utf-8", "replace")]
    if zipfile.is_zipfile(path):  # XLSX: the XML parts are compressed
        with zipfile.ZipFile(path) as z:
            texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    if data[:4] == b"PAR1":
        texts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return texts


def _warehouse_texts(path: Path) -> list[str]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        cols = conn.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND "
            "(data_type LIKE 'VARCHAR%' OR data_type = 'JSON' OR data_type LIKE '%[]' OR data_type LIKE 'STRUCT%' "
            "OR data_type LIKE 'MAP%')"
        ).fetchall()
        out = []
        for table, column in cols:
            got = conn.execute(f'SELECT string_agg(CAST("{column}" AS VARCHAR), chr(10)) FROM "{table}"').fetchone()
            out.append(f"{table}.{column}: {got[0] if got else ''}")
        return out
    finally:
        conn.close()


def test_planted_secrets_never_leak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, figures: dict[str, str]
) -> None:
    caplog.set_level(logging.DEBUG)
    dead = _dead_url()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPLANTED000000008")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("SPENDSCOPE_AZURE__CONNECTION_STRING", AZURE_CONNECTION)
    monkeypatch.setenv("SPENDSCOPE_ALERTMANAGER__TOKEN", SECRETS["Alertmanager bearer (env)"])
    monkeypatch.setenv("SPENDSCOPE_API_TOKEN", SECRETS["API token (env)"])
    bill = write_csv(
        tmp_path / "bill" / "oct.csv",
        rows(
            6, BilledCost=lambda i: f"{i + 1}.00", EffectiveCost=lambda i: f"{i + 1}.00", ResourceId=lambda i: f"i-{i}"
        ),
    )
    cfg = tmp_path / "spendscope.toml"
    cfg.write_text(
        f'warehouse = "{tmp_path / "wh.duckdb"}"\n'
        f'[alertmanager]\nurl = "{dead}"\nretries = 0\ntimeout_s = 2\n'
        f'[tickets.github]\nrepo = "acme/finops"\napi_url = "{dead}"\ntoken = "{SECRETS["GitHub token (config)"]}"\n'
        f'[unit_cost.prometheus]\nurl = "{dead}"\nquery = "sum(up)"\n'
        f'token = "{SECRETS["Prometheus token (config)"]}"\n',
        encoding="utf-8",
    )
    base = ["--config", str(cfg), "-v"]
    report_dir = tmp_path / "report"
    commands = [
        (["ingest", "focus", str(bill), "--source", "s"], 0),
        (["analyze"], 0),
        (["report", "--period", "2026-10", "--out", str(report_dir)], 0),
        (["costs", "--by", "ServiceName", "--format", "csv", "--out", str(tmp_path / "costs.csv")], 0),
        (["metrics", "check"], 0),
        (["tickets", "sync", "--dry-run"], 0),
        (["alerts", "push"], 1),  # Alertmanager is dead: one error line, exit 1
        (["ingest", "prometheus"], 1),  # Prometheus is dead too
        (["config", "show"], 0),
        (["doctor"], 0),
    ]
    outputs: list[str] = []
    for args, code in commands:
        result = runner.invoke(app, [*base, *args])
        outputs.append(f"$ {' '.join(args)}\n{result.output}")
        assert result.exit_code == code, (args, result.output, result.exception)
        assert "Traceback" not in result.output

    settings = load_settings(cfg)
    registry = CollectorRegistry()
    registry.register(
        CostMetricsCollector(
            connect=lambda: open_warehouse(settings.warehouse, read_only=True), settings=settings.metrics
        )
    )
    exposition = generate_latest(registry).decode()
    assert "spendscope_" in exposition
    assert "phase=insert" in caplog.text  # the -v logs were captured, so scanning them means something

    places: dict[str, list[str]] = {
        "command output": outputs,
        "logs": [caplog.text],
        "metrics": [exposition],
        "files": [
            t
            for p in tmp_path.rglob("*")
            if p.is_file() and p.suffix not in (".toml", ".duckdb", ".wal")
            for t in _texts_in_file(p)
        ],
        "warehouse": _warehouse_texts(settings.warehouse),
    }
    assert places["files"] and any("report.xlsx" in str(p) for p in tmp_path.rglob("*"))
    leaks = [
        f"{name} in {where}"
        for name, secret in SECRETS.items()
        for where, texts in places.items()
        if any(secret in t for t in texts)
    ]
    scanned = sum(len(t) for texts in places.values() for t in texts)
    figures["secrets planted / leaked"] = (
        f"{len(SECRETS)} / {len(leaks)} ({scanned:,} characters scanned in {len(places)} kinds of output)"
    )
    assert leaks == []
    # The scan itself can fail: the settings did hold every secret.
    assert (
        settings.alertmanager.token is not None
        and settings.alertmanager.token.get_secret_value() == SECRETS["Alertmanager bearer (env)"]
    )
    assert (
        settings.azure.connection_string is not None
        and AZURE_KEY in settings.azure.connection_string.get_secret_value()
    )
