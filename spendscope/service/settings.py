"""Configuration of `spendscope serve` (section ``[service]``) and the schedule type sources use.

Kept free of heavy imports: spendscope.config loads it for every command. The bearer token of the
HTTP API is ``Settings.api_token`` (``SPENDSCOPE_API_TOKEN``), not part of this section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = ["ScheduleText", "ServiceSettings"]


def _valid_schedule(text: str) -> str:
    from spendscope.service.schedule import parse_schedule

    return parse_schedule(text).text


ScheduleText = Annotated[str, AfterValidator(_valid_schedule)]
"""``every 15m`` (s, m, h, d) or a 5-field cron expression in UTC with named weekdays."""


def _off(value: object) -> object:
    return None if isinstance(value, str) and value.strip().lower() in ("", "off", "none") else value


OptionalSchedule = Annotated[ScheduleText | None, BeforeValidator(_off)]
"""A schedule, or "off" (TOML has no null) for none."""


class ServiceSettings(BaseModel):
    """`spendscope serve`: where it listens, when its jobs run, when it reports ready, how it stops."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(
        default="127.0.0.1:8484",
        description="HOST:PORT of the API, /healthz, /readyz and /metrics (loopback by default; "
        "set api_token before listening elsewhere)",
    )
    ingest_schedule: ScheduleText = Field(
        default="every 1h", description="schedule of each [[sources]] entry without its own schedule"
    )
    analyze_schedule: OptionalSchedule = Field(
        default=None,
        description="extra analysis runs (default 'off'); the analysis always runs after an ingest that loaded "
        "new data",
    )
    analyze_jobs: list[str] | None = Field(
        default=None, description="analysis jobs the service runs (default: all, see `spendscope analyze`)"
    )
    alerts_schedule: ScheduleText = Field(
        default="every 15m",
        description="Alertmanager re-sends (with [alertmanager] url; also after every analysis); keep it "
        "shorter than [alertmanager] resend_minutes",
    )
    report_schedule: OptionalSchedule = Field(
        default="0 6 3 * *", description="the monthly report (default 06:00 UTC on the 3rd); 'off': none"
    )
    report_dir: Path = Field(
        default=Path("reports"), description="reports are written to REPORT_DIR/YYYY-MM/ (replaced on a rerun)"
    )
    jitter_s: float = Field(
        default=30.0, ge=0, description="random delay of up to this many seconds added to each scheduled run"
    )
    ready_slack_s: float = Field(
        default=600.0,
        ge=0,
        description="/readyz stays ready this long past a job's due time (on top of jitter) before the "
        "job counts as late",
    )
    shutdown_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="on SIGTERM, how long a running job may take to finish before it is interrupted "
        "(its transaction rolls back)",
    )
    max_range_days: int = Field(default=400, ge=1, description="longest from/to range an API request may ask for")
    max_rows: int = Field(default=100_000, ge=1, description="most rows one API response returns")

    @field_validator("analyze_jobs")
    @classmethod
    def _known_jobs(cls, jobs: list[str] | None) -> list[str] | None:
        from spendscope.analysis.run import JOBS

        unknown = [j for j in jobs or [] if j not in JOBS]
        if unknown:
            raise ValueError(f"unknown analysis job(s) {', '.join(unknown)}; valid: {', '.join(JOBS)}")
        return jobs
