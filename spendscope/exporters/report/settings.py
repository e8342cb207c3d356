"""The monthly report's configuration (section ``[report]``); kept free of heavy imports (config loads it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReportSettings"]


class ReportSettings(BaseModel):
    """How much the monthly report (`spendscope report`) shows; the XLSX workbook always has every row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_series: int = Field(
        default=8, ge=1, le=20, description="series per stacked daily chart; the rest are summed as 'other'"
    )
    table_rows: int = Field(
        default=25, ge=1, description="rows per currency in the HTML spend tables (the XLSX has them all)"
    )
    top_offenders: int = Field(
        default=20, ge=1, description="untagged resources, unallocated accounts and orphans listed"
    )
    label_chars: int = Field(
        default=80, ge=8, description="longest label shown in HTML tables and charts (longer ones end with …)"
    )
