"""bandit runs clean over spendscope/ (findings fixed or justified inline, see [tool.bandit]); the API and the
metrics server listen on loopback unless told otherwise."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from spendscope.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_is_clean(figures: dict[str, str]) -> None:
    bandit = Path(sys.executable).with_name("bandit")
    done = subprocess.run(
        [str(bandit), "-q", "-r", "spendscope", "-c", "pyproject.toml", "-f", "txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = done.stdout.count(">> Issue:")
    ran = done.returncode in (0, 1)
    figures["bandit findings (unjustified)"] = str(found) if ran else f"bandit exit {done.returncode}"
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


@pytest.mark.parametrize("listen", ["metrics", "service"])
def test_servers_bind_to_loopback_by_default(listen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./spendscope.toml
    settings = load_settings(None)
    address = settings.metrics.listen if listen == "metrics" else settings.service.listen
    host, _, port = address.rpartition(":")
    assert port.isdigit()
    assert ipaddress.ip_address(host.strip("[]")).is_loopback, address
