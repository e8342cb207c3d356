"""The ``[cleanup]`` section: what cleanup plans exclude and how much one apply may do.

Kept free of heavy imports: spendscope.config loads it with every command.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CleanupSettings", "TagRule", "parse_tag_rule"]

TagRule = tuple[str, str | None]
"""(lower-cased key, value or None): a tag rule ``key`` matches any value, ``key=value`` that value only."""


def parse_tag_rule(rule: str) -> TagRule:
    """``'do-not-delete'`` → ('do-not-delete', None); ``'Lifecycle=keep'`` → ('lifecycle', 'keep')."""
    key, sep, value = rule.partition("=")
    return key.strip().lower(), (value.strip() if sep else None)


class CleanupSettings(BaseModel):
    """Orphan cleanup plans and the executor's safety gates (section ``[cleanup]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protected_tags: list[str] = Field(
        default_factory=lambda: ["do-not-delete"],
        description="tag rules that protect a resource: 'key' (any value; key matched ignoring case) or 'key=value'",
    )
    protected_accounts: list[str] = Field(
        default_factory=list, description="account / subscription / project ids whose resources are never cleaned"
    )
    grace_days: int = Field(
        default=14, ge=0, description="resources younger than this (or first seen orphaned since) are protected"
    )
    snapshot_max_age_days: int = Field(
        default=90, ge=0, description="orphaned snapshots are proposed for deletion only when at least this old"
    )
    max_actions: int = Field(default=10, ge=0, description="most resources one `cleanup apply` acts on")
    max_monthly_cost: dict[str, Decimal] = Field(
        default_factory=lambda: {"USD": Decimal(1000)},
        description="per currency: most monthly waste one apply removes, e.g. {USD = 500}; "
        "items in a currency not listed are not acted on",
    )
    rate_per_second: float = Field(default=1.0, gt=0, description="most cloud actions per second during an apply")
    plan_max_age_hours: float = Field(
        default=24.0, gt=0, description="a plan older than this is refused by approve and apply: make a new one"
    )
    snapshot_wait_s: float = Field(
        default=900.0, ge=0, description="how long to wait for the snapshot taken before a volume is deleted"
    )

    @field_validator("protected_tags")
    @classmethod
    def _tag_rules(cls, rules: list[str]) -> list[str]:
        for rule in rules:
            if not parse_tag_rule(rule)[0]:
                raise ValueError(f"protected tag rule {rule!r} has no key")
        return rules

    @field_validator("max_monthly_cost")
    @classmethod
    def _caps(cls, caps: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, cap in caps.items():
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                raise ValueError(f"max_monthly_cost key {currency!r} is not an ISO 4217 code such as 'USD'")
            if cap < 0:
                raise ValueError(f"max_monthly_cost {currency} must not be negative")
        return caps

    def tag_rules(self) -> list[TagRule]:
        return [parse_tag_rule(r) for r in self.protected_tags]
