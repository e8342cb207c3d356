"""Network faults between the AWS collector and S3 (moto behind a fault-injecting loopback proxy).

Each fault (HTTP 500, 503, 429, a TCP reset, a stall) hits either every S3 call or only the download of the
data file. Expected: botocore retries (the proxy counts more than one faulted request), then the run fails with
one line naming the S3 call, nothing is loaded; the next run, with the network healthy, loads the month
(BilledCost 151.50, by hand in tests/aws/cur_rows.month_lines).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from spendscope.collectors.aws.s3 import aws_sources
from spendscope.errors import SpendscopeError, Throttled
from spendscope.pipeline import ingest
from tests.aws.cur_rows import month_lines, write_cur2_parquet
from tests.servers.moto import MotoServer

from .faultproxy import FaultProxy

TALLY = {"tried": 0, "recovered": 0}
MESSAGES: dict[str, str] = {}
LOCATION = "s3://billing/exports/"


def _deliver(moto: MotoServer, tmp: Path) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="billing")
    key = "exports/cur-a/data/BILLING_PERIOD=2026-10/cur-a-00001.snappy.parquet"
    s3.upload_file(str(write_cur2_parquet(tmp / "cur.parquet", month_lines())), "billing", key)
    manifest = f'{{"dataFiles": ["s3://billing/{key}"], "billingPeriod": {{"start": "2026-10-01"}}}}'
    s3.put_object(
        Bucket="billing", Key="exports/cur-a/metadata/BILLING_PERIOD=2026-10/cur-a-Manifest.json", Body=manifest
    )


def _run(wh: duckdb.DuckDBPyConnection, url: str, client: object = None) -> list[str]:
    return [ingest(wh, s).status for s in aws_sources(LOCATION, endpoint_url=url, client=client)]


@pytest.mark.parametrize("target", ["", "/data/"], ids=["every-call", "data-download"])
@pytest.mark.parametrize("fault", ["500", "503", "429", "reset"])
def test_s3_fault_retried_then_clean_failure_then_resume(
    fault: str, target: str, wh: duckdb.DuckDBPyConnection, moto: MotoServer, tmp_path: Path, figures: dict[str, str]
) -> None:
    TALLY["tried"] += 1
    _deliver(moto, tmp_path)
    with FaultProxy(moto.url) as proxy:
        proxy.set(fault, target)
        with pytest.raises(SpendscopeError) as info:
            _run(wh, proxy.url)
        message = str(info.value)
        MESSAGES.setdefault(fault, message)
        if fault in ("503", "429"):  # throttling: the next scheduled run retries
            assert isinstance(info.value, Throttled), message
        assert "\n" not in message and "s3" in message.lower(), message
        assert proxy.state.faulted > 1, proxy.state.seen  # botocore retried
        assert wh.execute("SELECT count(*) FROM billing").fetchone() == (0,)
        assert wh.execute("SELECT count(*) FROM ingests WHERE status = 'loaded'").fetchone() == (0,)
        proxy.set(None)
        assert _run(wh, proxy.url) == ["loaded"]
    assert wh.execute("SELECT sum(BilledCost) FROM billing").fetchone() == (Decimal("151.5"),)
    TALLY["recovered"] += 1
    figures["network faults retried, failed cleanly, resumed / tried"] = f"{TALLY['recovered']} / {TALLY['tried']}"
    figures["network fault errors"] = "; ".join(f"{k}: {v}" for k, v in sorted(MESSAGES.items()))


def test_s3_stall_times_out_cleanly_then_resumes(
    wh: duckdb.DuckDBPyConnection, moto: MotoServer, tmp_path: Path, figures: dict[str, str]
) -> None:
    """A stalled endpoint: with botocore's default 60 s read timeout this takes minutes, so the client here has 1 s
    (and 2 attempts); what is tested is that the timeout becomes one clean line and the next run resumes."""
    import boto3
    from botocore.config import Config

    TALLY["tried"] += 1
    _deliver(moto, tmp_path)
    with FaultProxy(moto.url) as proxy:
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            config=Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2}),
        )
        proxy.set("stall", "/data/")
        with pytest.raises(SpendscopeError) as info:
            _run(wh, proxy.url, client)
        assert "\n" not in str(info.value) and "timeout" in str(info.value).lower(), str(info.value)
        assert proxy.state.faulted >= 2, proxy.state.seen  # the first attempt and a retry
        assert wh.execute("SELECT count(*) FROM billing").fetchone() == (0,)
        proxy.set(None)
        assert _run(wh, proxy.url, client) == ["loaded"]
    assert wh.execute("SELECT sum(BilledCost) FROM billing").fetchone() == (Decimal("151.5"),)
    TALLY["recovered"] += 1
    figures["network faults retried, failed cleanly, resumed / tried"] = f"{TALLY['recovered']} / {TALLY['tried']}"
