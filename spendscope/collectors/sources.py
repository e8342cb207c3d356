"""Configured billing sources of the provider kinds (``[[sources]]`` with ``collector = "aws"`` …).

Each is what the matching `spendscope ingest aws|azure|gcp LOCATION` command takes, plus a name and
a schedule for `spendscope serve`; ``spendscope.pipeline.sources_from_config`` builds the collectors.
The FOCUS-file kind (``collector = "focus"``, the default) is ``spendscope.config.FocusSource``.
Credentials never go here: boto3's chain, ``[azure] connection_string`` or DefaultAzureCredential,
and Google's Application Default Credentials supply them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spendscope.service.settings import ScheduleText

__all__ = ["AwsSource", "AzureSource", "GcpSource"]

_PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the source's name in `spendscope ingest sources NAME` and the service's job id")
    period: str | None = Field(
        default=None, pattern=_PERIOD, description="only this billing period, YYYY-MM (default: every one found)"
    )
    schedule: ScheduleText | None = Field(
        default=None, description="'every 1h' or a cron expression (UTC) for `spendscope serve`"
    )


class AwsSource(_Source):
    """AWS CUR 2.0, legacy CUR or FOCUS exports in S3 (or a local copy), as `spendscope ingest aws`."""

    collector: Literal["aws"]
    location: str = Field(description="s3://bucket/prefix, or a local directory or file")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, moto)")


class AzureSource(_Source):
    """Azure Cost Management exports in Blob storage (or a local copy), as `spendscope ingest azure`."""

    collector: Literal["azure"]
    location: str = Field(
        description="az://container/path (with [azure] connection_string), "
        "https://ACCOUNT.blob.core.windows.net/container/path, or a local directory"
    )


class GcpSource(_Source):
    """The Google Cloud Billing export in BigQuery, GCS or local files, as `spendscope ingest gcp`."""

    collector: Literal["gcp"]
    location: str = Field(description="bq://project.dataset[.table], gs://bucket/prefix, or local JSONL/Parquet")
