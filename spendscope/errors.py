"""spendscope's exception tree. Every error carries ``source``: the file URI or SDK call it concerns.

    SpendscopeError
    ├── ConfigError            bad or unknown configuration (names the file, section and key)
    ├── CollectorError         a source could not be read
    │   ├── CredentialsExpired     stop the run and alert; retrying will not help
    │   └── Throttled              transient: the next scheduled run retries
    ├── SchemaMismatch         a file's columns or types cannot be mapped to FOCUS: stop and alert
    ├── BadData                a value would corrupt money, time or identity (non-numeric cost, bad date)
    ├── UnknownCurrency        a BillingCurrency that is not an ISO 4217 code
    ├── WarehouseError         the DuckDB warehouse cannot be opened, migrated or written
    │   └── WarehouseInUse         another process holds the warehouse file
    ├── ExporterError          an exporter could not publish
    └── RemediationError       a cleanup action on a cloud resource failed
        └── PlanRefused            a cleanup plan is tampered with, stale, from another warehouse or invalid

The CLI prints ``str(error)`` as one line on stderr and exits 1; messages never contain secrets.
"""

from __future__ import annotations


class SpendscopeError(Exception):
    """Base class. ``source`` names the file, URI or API call the error is about."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(f"{source}: {message}" if source else message)


class ConfigError(SpendscopeError):
    pass


class CollectorError(SpendscopeError):
    pass


class CredentialsExpired(CollectorError):
    pass


class Throttled(CollectorError):
    pass


class SchemaMismatch(SpendscopeError):
    pass


class BadData(SpendscopeError):
    pass


class UnknownCurrency(BadData):
    pass


class WarehouseError(SpendscopeError):
    pass


class WarehouseInUse(WarehouseError):
    pass


class ExporterError(SpendscopeError):
    pass


class RemediationError(SpendscopeError):
    pass


class PlanRefused(RemediationError):
    pass
