"""The network settings every cloud store client takes (``[network]`` in config): timeouts and retry bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NetworkSettings(BaseModel):
    """Timeouts and retries of the S3, Blob and GCS clients, instead of each SDK's defaults (botocore and
    azure-storage-blob wait 60 s to read, GCS 120 s of retries). Every retry is the SDK's own: botocore's
    standard mode (``max_attempts``; its backoff is its own), azure-storage-blob's ExponentialRetry
    (``max_attempts`` - 1 retries, the n-th after ``retry_backoff_s`` + 2ⁿ s) and google-cloud-storage's Retry
    (waits from ``retry_backoff_s``, doubling, none started after ``retry_deadline_s``: Google's retries are
    bounded by time, not counted). A stalled S3 or Blob endpoint fails a call after about max_attempts ×
    read_timeout_s plus the waits."""

    model_config = ConfigDict(extra="forbid")

    connect_timeout_s: float = Field(default=10, gt=0, description="seconds to open a connection")
    read_timeout_s: float = Field(default=60, gt=0, description="seconds to wait for the next bytes of an answer")
    max_attempts: int = Field(default=5, ge=1, description="attempts per S3 or Blob call, the first included")
    retry_backoff_s: float = Field(default=1, gt=0, description="first wait before a Blob or GCS retry")
    retry_deadline_s: float = Field(default=120, gt=0, description="GCS: no retry starts after this many seconds")
