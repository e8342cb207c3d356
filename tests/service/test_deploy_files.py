"""The Dockerfile and the systemd unit agree with the code (the image itself cannot be built here: no
container registry is reachable, so its base image cannot be pulled)."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spendscope.cli import app
from spendscope.config import load_settings
from spendscope.service.app import parse_listen
from spendscope.service.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
UNIT = ROOT / "deploy" / "systemd" / "spendscope.service"
INTERRUPT_GRACE_S = 5  # spendscope.service.scheduler._INTERRUPT_GRACE_S: after the timeout, to roll back


def _final_stage() -> str:
    return DOCKERFILE.read_text(encoding="utf-8").split("\nFROM ")[-1]


def test_the_image_environment_is_valid_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stage = _final_stage()
    env = dict(re.findall(r"(SPENDSCOPE_\w+)=(\S+)", stage))
    assert {"SPENDSCOPE_WAREHOUSE", "SPENDSCOPE_SERVICE__LISTEN"} <= set(env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no ./spendscope.toml
    settings = load_settings()
    assert str(settings.warehouse) == env["SPENDSCOPE_WAREHOUSE"]
    host, port = parse_listen(settings.service.listen)
    assert host == "0.0.0.0" and f"EXPOSE {port}" in stage and f"127.0.0.1:{port}/healthz" in stage
    volume = re.search(r'VOLUME \["([^"]+)"\]', stage)
    assert volume and env["SPENDSCOPE_WAREHOUSE"].startswith(volume.group(1) + "/")
    assert 'CMD ["--config", "/etc/spendscope/spendscope.toml", "serve"]' in stage
    assert "USER spendscope" in stage  # not root
    assert "serve" in {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}


def test_the_systemd_unit_waits_longer_than_the_shutdown() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"].split()[-1] == "serve" and "--config" in service["ExecStart"]
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) > ServiceSettings().shutdown_timeout_s + INTERRUPT_GRACE_S
    assert service["User"] == "spendscope" and service["ReadWritePaths"] == "/var/lib/spendscope"
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run([verify, "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "/opt/spendscope/bin/spendscope" not in line  # not installed on this machine
    ]
    assert complaints == []
