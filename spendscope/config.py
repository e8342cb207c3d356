"""One typed configuration: ``spendscope.toml`` plus ``SPENDSCOPE_*`` environment variables.

Environment variables win over the file; nested keys use ``__`` (``SPENDSCOPE_DUCKDB__MEMORY_LIMIT``).
Secrets are ``SecretStr``: they print as ``**********`` in ``config show``, logs and errors.
An unknown key is an error naming the file, the section, the key and the valid keys.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from spendscope.analysis.allocation import AllocationRules
from spendscope.analysis.anomalies import AnomalySettings
from spendscope.analysis.budgets import Budget
from spendscope.analysis.fx import CurrencySettings
from spendscope.analysis.unit_cost import UnitCostSettings
from spendscope.analysis.untagged import TagPolicy
from spendscope.collectors.network import NetworkSettings
from spendscope.collectors.sources import AwsSource, AzureSource, GcpSource
from spendscope.errors import ConfigError
from spendscope.exporters.alertmanager import AlertmanagerSettings
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.metrics import MetricsSettings
from spendscope.exporters.report.settings import ReportSettings
from spendscope.exporters.tickets.settings import TicketSettings
from spendscope.service.settings import ScheduleText, ServiceSettings
from spendscope.warehouse.db import WarehouseSettings
from spendscope.warehouse.spark.settings import SparkSettings

DEFAULT_CONFIG_FILE = Path("spendscope.toml")
_config_file: ContextVar[Path | None] = ContextVar("spendscope_config_file", default=None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DuckDBSettings(_Strict):
    """Resource limits for the warehouse's DuckDB. An ingest stages each file in a table committed on its own,
    so its memory stays within ``memory_limit`` whatever the size of the month (15 M CUR rows peak at 1.35 GB RSS
    with the 1 GB default); above the limit DuckDB spills to ``temp_directory``. ``memory_limit = ""`` keeps
    DuckDB's own default (80 % of RAM)."""

    memory_limit: str | None = Field(default="1GB", description="e.g. '1GB', '4GB'; '' for DuckDB's 80 % of RAM")
    threads: int | None = Field(default=None, ge=1)
    temp_directory: str | None = Field(
        default=None, description="where DuckDB spills beyond memory_limit; default: <warehouse>.tmp beside the file"
    )

    def warehouse_settings(self) -> WarehouseSettings:
        """These limits as ``open_warehouse`` takes them."""
        return WarehouseSettings(self.memory_limit, self.threads, self.temp_directory)


class AzureSettings(_Strict):
    """Azure access for `ingest azure`: a storage connection string (or SAS URL) for az:// exports;
    without one, azure-identity's DefaultAzureCredential is used."""

    connection_string: SecretStr | None = Field(default=None, description="Blob storage connection string")


class FocusSource(_Strict):
    """FOCUS CSV/Parquet files from local paths, directories or globs."""

    name: str
    collector: Literal["focus"] = "focus"
    paths: list[str]
    schedule: ScheduleText | None = Field(
        default=None, description="'every 1h' or a cron expression (UTC) for `spendscope serve`"
    )


def _source_kind(value: Any) -> str:
    """The `collector` of a [[sources]] entry; FOCUS files when it is left out."""
    found = value.get("collector", "focus") if isinstance(value, dict) else getattr(value, "collector", "focus")
    return str(found)


SourceConfig = Annotated[
    Annotated[FocusSource, Tag("focus")]
    | Annotated[AwsSource, Tag("aws")]
    | Annotated[AzureSource, Tag("azure")]
    | Annotated[GcpSource, Tag("gcp")],
    Discriminator(
        _source_kind,
        custom_error_type="unknown_collector",
        custom_error_message="collector must be focus (the default), aws, azure or gcp",
    ),
]
"""A [[sources]] entry, by `collector`: focus (default), aws, azure or gcp (pipeline.sources_from_config)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SPENDSCOPE_", env_nested_delimiter="__", extra="forbid")

    warehouse: Path = Field(default=Path("spendscope.duckdb"), description="the DuckDB warehouse file")
    duckdb: DuckDBSettings = DuckDBSettings()
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="spark: aws/azure/gcp [[sources]] are normalized and rolled up in Spark"
    )
    spark: SparkSettings = Field(default_factory=SparkSettings, description="Spark master or Connect URL, location")
    sources: list[SourceConfig] = Field(default_factory=list)
    azure: AzureSettings = AzureSettings()
    network: NetworkSettings = Field(
        default_factory=NetworkSettings, description="timeouts and retries of the S3, Blob and GCS clients"
    )
    allocation: AllocationRules = Field(default_factory=AllocationRules, description="cost allocation rules")
    tag_policy: TagPolicy = Field(
        default_factory=lambda: TagPolicy(required_keys=["team", "env"]), description="tags every charge must carry"
    )
    unit_cost: UnitCostSettings = Field(
        default_factory=UnitCostSettings, description="cost per transaction: service tag keys, transactions sources"
    )
    budgets: list[Budget] = Field(
        default_factory=list, description="monthly budgets per total/team/account/service, in the billed currency"
    )
    currency: CurrencySettings = Field(
        default_factory=CurrencySettings, description="optional reporting currency and its FX rates CSV"
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="the Prometheus metrics exporter")
    alertmanager: AlertmanagerSettings = Field(
        default_factory=AlertmanagerSettings, description="Alertmanager alerts for anomalies and budget breaches"
    )
    anomalies: AnomalySettings = Field(
        default_factory=AnomalySettings, description="spend anomaly detection: money and relative floors, band"
    )
    report: ReportSettings = Field(
        default_factory=ReportSettings, description="the monthly report: series per chart, rows per table"
    )
    service: ServiceSettings = Field(
        default_factory=ServiceSettings, description="`spendscope serve`: listen address, job schedules, shutdown"
    )
    cleanup: CleanupSettings = Field(
        default_factory=CleanupSettings, description="orphan cleanup plans: protections, caps and pace of apply"
    )
    tickets: TicketSettings = Field(
        default_factory=TicketSettings, description="a ticket per owner for orphans: Jira, GitHub, ServiceNow, webhook"
    )
    api_token: SecretStr | None = Field(
        default=None, description="bearer token the HTTP API of `spendscope serve` requires (unset: no auth)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _config_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        valid = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"unknown source {name!r}; configured: {valid}")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``config_file`` (default ./spendscope.toml when it exists) and the environment."""
    path = config_file
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    if path is not None and not path.is_file():
        raise ConfigError("config file not found", source=str(path))
    token = _config_file.set(path)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc), source=str(path) if path else "environment") from None
    except ValueError as exc:  # TOML syntax errors
        raise ConfigError(f"cannot parse: {exc}", source=str(path) if path else "environment") from None
    finally:
        _config_file.reset(token)


def _describe(exc: ValidationError) -> str:
    """One line for the first error: section, key and, for an unknown key, the valid keys."""
    err = exc.errors()[0]
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        section = _section_model(loc[:-1])
        valid = ", ".join(sorted(section.model_fields)) if section else ""
        return f"unknown key {where!r}" + (f"; valid keys here: {valid}" if valid else "")
    return f"{where}: {err['msg']}"


def _section_model(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        if model is None or part.isdigit():
            continue
        if part not in model.model_fields:
            return None
        model = _SECTIONS.get(part)
    return model


_SECTIONS: dict[str, type[BaseModel]] = {
    "sources": FocusSource,
    "duckdb": DuckDBSettings,
    "azure": AzureSettings,
    "network": NetworkSettings,
    "allocation": AllocationRules,
    "tag_policy": TagPolicy,
    "currency": CurrencySettings,
    "budgets": Budget,
    "unit_cost": UnitCostSettings,
    "metrics": MetricsSettings,
    "alertmanager": AlertmanagerSettings,
    "anomalies": AnomalySettings,
    "report": ReportSettings,
    "cleanup": CleanupSettings,
    "tickets": TicketSettings,
    "service": ServiceSettings,
}


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by '**********'."""
    data: dict[str, Any] = settings.model_dump(mode="json")  # SecretStr dumps as '**********'
    return data
