"""`spendscope run --push`: a batch run's metrics land in a real Pushgateway under its grouping key."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import duckdb
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import free_port

from ..conftest import rows, write_csv
from ..test_cli import run


def _pushed(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name.startswith("spendscope_run_")
    }


def test_run_pushes_its_outcome_with_job_and_instance(tmp_path: Path, pushgateway: str) -> None:
    good = write_csv(tmp_path / "good" / "bill.csv", rows(3))
    config = tmp_path / "spendscope.toml"
    config.write_text(
        f'warehouse = "{tmp_path / "wh.duckdb"}"\n'
        f'[[sources]]\nname = "good"\npaths = ["{good}"]\n'
        f'[[sources]]\nname = "bad"\npaths = ["{tmp_path / "missing"}/*.csv"]\n'
    )
    first = run("--config", str(config), "run", "--push", pushgateway, "--instance", "ci-1")
    assert first.returncode == 1, first.stderr  # one source failed; the other was loaded and analysed
    got = _pushed(pushgateway)
    group = (("instance", "ci-1"), ("job", "spendscope"))
    assert got[("spendscope_run_rows_loaded", group)] == 3.0
    assert got[("spendscope_run_sources_failed", group)] == 1.0
    assert got[("spendscope_run_success", group)] == 0.0
    assert got[("spendscope_run_source_success", (*group[:1], ("job", "spendscope"), ("source", "bad")))] == 0.0
    assert got[("spendscope_run_source_rows", (*group[:1], ("job", "spendscope"), ("source", "good")))] == 3.0
    assert ("spendscope_run_last_success_timestamp_seconds", group) not in got

    (tmp_path / "missing").mkdir()
    write_csv(tmp_path / "missing" / "more.csv", rows(2, BillingAccountId="999"))
    second = run("--config", str(config), "run", "--push", pushgateway, "--instance", "ci-1")
    assert second.returncode == 0, second.stdout + second.stderr
    got = _pushed(pushgateway)
    assert got[("spendscope_run_success", group)] == 1.0
    assert got[("spendscope_run_rows_loaded", group)] == 2.0  # good is unchanged, bad loads its 2 rows
    assert got[("spendscope_run_last_success_timestamp_seconds", group)] > 0
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM billing").fetchone() == (5,)


def test_unreachable_pushgateway_is_one_line_and_keeps_the_data(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good" / "bill.csv", rows(3))
    config = tmp_path / "spendscope.toml"
    config.write_text(f'warehouse = "{tmp_path / "wh.duckdb"}"\n[[sources]]\nname = "good"\npaths = ["{good}"]\n')
    url = f"http://127.0.0.1:{free_port()}"
    result = run("--config", str(config), "run", "--push", url)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and f"pushgateway {url}" in lines[0], result.stderr
    assert "refused" in lines[0].lower()
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM billing").fetchone() == (3,)
