"""Network faults between the AWS collector and S3 (moto behind a fault-injecting loopback proxy).

Each fault (HTTP 500, 503, 429, a TCP reset, a stall) hits either every S3 call or only the download of the
data file. The client is the one ``aws_sources`` builds from short ``NetworkSettings`` (what ``[network]`` sets in
config). Expected: botocore retries (the proxy counts more than one faulted request), then the run fails with
one line naming the S3 call, nothing is loaded; the next run, with the network healthy, loads the month
(BilledCost 151.50, by hand in tests/aws/cur_rows.month_lines). Azure Blob and GCS: the ``_azure`` and
``_gcs`` modules beside this one.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.aws.s3 import aws_sources
from spendscope.collectors.network import NetworkSettings
from spendscope.errors import SpendscopeError
from spendscope.pipeline import ingest
from tests.aws.cur_rows import month_lines, write_cur2_parquet
from tests.servers.moto import MotoServer

from .faultproxy import FaultProxy
from .figures import FIGURES, trial
from .network import fault_then_resume

NETWORK = NetworkSettings(connect_timeout_s=2, read_timeout_s=2, max_attempts=3)
STALL_NETWORK = NetworkSettings(connect_timeout_s=1, read_timeout_s=1, max_attempts=2)
MESSAGES: dict[str, str] = {}
LOCATION = "s3://billing/exports/"
FIGURE = "network faults S3 (moto): retried, failed cleanly, resumed"


def _deliver(moto: MotoServer, tmp: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="billing")
    key = "exports/cur-a/data/BILLING_PERIOD=2026-10/cur-a-00001.snappy.parquet"
    s3.upload_file(str(write_cur2_parquet(tmp / "cur.parquet", month_lines())), "billing", key)
    manifest = f'{{"dataFiles": ["s3://billing/{key}"], "billingPeriod": {{"start": "2026-10-01"}}}}'
    s3.put_object(
        Bucket="billing", Key="exports/cur-a/metadata/BILLING_PERIOD=2026-10/cur-a-Manifest.json", Body=manifest
    )


def _run(wh: duckdb.DuckDBPyConnection, url: str, network: NetworkSettings) -> list[str]:
    return [ingest(wh, s).status for s in aws_sources(LOCATION, endpoint_url=url, network=network)]


@pytest.mark.parametrize("target", ["", "/data/"], ids=["every-call", "data-download"])
@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_s3_fault_retried_then_clean_failure_then_resume(
    fault: str, target: str, wh: duckdb.DuckDBPyConnection, moto: MotoServer, tmp_path: Path
) -> None:
    with trial(FIGURE):
        _deliver(moto, tmp_path)
        out = fault_then_resume(
            wh, moto.url, lambda url: _run(wh, url, NETWORK), fault=fault, target=target, names="s3://billing/exports"
        )
        MESSAGES.setdefault(fault, out.message)
        assert ("s3.download_file" if target else "s3.list_objects_v2") in out.message, out.message
        assert out.faulted > 1, out.seen  # botocore retried
        assert wh.execute("SELECT sum(BilledCost) FROM billing").fetchone() == (Decimal("151.5"),)
    FIGURES["network fault errors (S3)"] = "; ".join(f"{k}: {v}" for k, v in sorted(MESSAGES.items()))


@pytest.mark.parametrize("target", ["", "/data/"], ids=["every-call", "data-download"])
def test_s3_stall_times_out_within_bounds_then_resumes(
    target: str, wh: duckdb.DuckDBPyConnection, moto: MotoServer, tmp_path: Path
) -> None:
    """A stalled endpoint (accepts, never answers): the client's 1 s read timeout × 2 attempts, not botocore's
    default 60 s read timeout × 5 attempts (minutes)."""
    with trial(FIGURE):
        _deliver(moto, tmp_path)
        out = fault_then_resume(
            wh,
            moto.url,
            lambda url: _run(wh, url, STALL_NETWORK),
            fault="stall",
            target=target,
            names="s3://billing/exports",
        )
        assert out.faulted >= 2, out.seen  # the first attempt and a retry
        assert wh.execute("SELECT sum(BilledCost) FROM billing").fetchone() == (Decimal("151.5"),)
    elapsed = out.seconds
    FIGURES[f"stall to clean failure, S3 {target or 'every call'}"] = f"{elapsed:.1f} s"


def test_config_network_section_reaches_the_s3_client(
    wh: duckdb.DuckDBPyConnection, moto: MotoServer, tmp_path: Path
) -> None:
    """``[network]`` in spendscope.toml → ``sources_from_config`` → the S3 client: a stalled data download fails
    after the configured 1 s read timeout × 2 attempts (botocore's defaults would take minutes)."""
    from spendscope.config import load_settings
    from spendscope.pipeline import sources_from_config

    _deliver(moto, tmp_path)
    with FaultProxy(moto.url) as proxy:
        toml = tmp_path / "spendscope.toml"
        toml.write_text(
            "[network]\nconnect_timeout_s = 1\nread_timeout_s = 1\nmax_attempts = 2\n\n"
            f'[[sources]]\nname = "cur"\ncollector = "aws"\nlocation = "{LOCATION}"\nendpoint_url = "{proxy.url}"\n',
            encoding="utf-8",
        )
        settings = load_settings(toml)
        assert settings.network == STALL_NETWORK
        proxy.set("stall", "/data/")
        started = time.monotonic()
        with pytest.raises(SpendscopeError, match="timeout"):
            for source in sources_from_config(wh, settings.sources[0], network=settings.network):
                ingest(wh, source)
        assert time.monotonic() - started < 30
        assert proxy.state.faulted >= 2, proxy.state.seen  # the first attempt and a retry
