"""Cleanup plans: which orphans to clean up, how, whose they are, and which are protected.

``classify_candidates`` is pure (Polars in, Polars out): it gives each orphan finding an owner, an
action and, when it must not be touched, a protection. ``build_plan`` reads the candidates
(``sql/cleanup/candidates.sql``), classifies them and returns the signed plan (JSON-ready dict,
schema ``cleanup-plan-v1.schema.json``).

Owner, in order: the ``owner`` tag, the ``team`` tag, the allocation rules in force at ``now``
(``account_teams``, then ``resource_rules`` on ResourceId; ResourceName rules need a bill row and
are not used), else none: the ticket group is then the account (``group_key``).
Protection, in order: a protected account, a protected tag, age below ``grace_days`` (age since
creation, or since the orphan was first seen when the creation time is unknown, e.g. Elastic IPs),
and for snapshots age below ``snapshot_max_age_days``.
Items are ordered by currency, monthly waste (largest first), provider, account and resource id:
the order in which an apply considers them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict

from spendscope import __version__, sql
from spendscope.analysis.allocation import AllocationRules
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.cleanup.signing import sign_plan, timestamp
from spendscope.warehouse.cleanup import AuditEvent, record_audit, warehouse_identity

__all__ = [
    "ACTIONS",
    "CANDIDATE_COLUMNS",
    "PLAN_VERSION",
    "Action",
    "PlanItem",
    "build_plan",
    "classify_candidates",
    "decimal_text",
    "protected_now",
    "read_candidates",
]

PLAN_VERSION = 1

Action = Literal["snapshot_then_delete_volume", "release_address", "delete_snapshot", "delete_load_balancer", "none"]
ACTIONS: dict[str, Action] = {
    "unattached_disk": "snapshot_then_delete_volume",
    "unassociated_ip": "release_address",
    "orphaned_snapshot": "delete_snapshot",
    "idle_load_balancer": "delete_load_balancer",
    "stopped_instance": "none",
}
"""Orphan kind → the action a plan proposes (stopped instances: none, the owner decides)."""

_KIND_TEXT = {
    "unattached_disk": "disk attached to nothing",
    "unassociated_ip": "IP address associated with nothing",
    "orphaned_snapshot": "snapshot of a disk that no longer exists",
    "idle_load_balancer": "load balancer without registered targets",
    "stopped_instance": "instance stopped for long, disks still billed",
}
_ACTION_TEXT = {
    "snapshot_then_delete_volume": "snapshot it, then delete it",
    "release_address": "release it",
    "delete_snapshot": "delete it",
    "delete_load_balancer": "delete it",
    "none": "no automated action: review with the owner",
}

CANDIDATE_COLUMNS = [
    "fingerprint",
    "run_id",
    "provider",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "kind",
    "owner_tag",
    "team_tag",
    "state",
    "created_age_days",
    "cost_source",
    "monthly_cost",
    "currency",
    "first_seen",
    "tags_json",
    "tags",
]
"""Columns of ``read_candidates`` (sql/cleanup/candidates.sql); ``tags`` is a list of {key, value}."""

ENTRY_COLUMNS = [
    "id",
    "provider",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "kind",
    "action",
    "state",
    "monthly_waste",
    "currency",
    "cost_source",
    "age_days",
    "age_basis",
    "owner",
    "owner_source",
    "group_key",
    "tags_json",
    "reason",
    "protection",
]
"""Columns of ``classify_candidates``; protection is null for items to clean up."""


class PlanItem(BaseModel):
    """One entry of a plan's ``items`` (or ``protected``, with ``protection``), typed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    provider: str
    account_id: str | None
    region: str | None
    resource_id: str
    resource_type: str | None
    kind: str
    action: Action
    state: str | None
    monthly_waste: Decimal | None
    currency: str | None
    cost_source: str | None
    age_days: int | None
    age_basis: str | None
    owner: str | None
    owner_source: str | None
    group_key: str
    tags: dict[str, str]
    reason: str
    protection: str | None = None


def read_candidates(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The orphan findings with their resources' latest tags (CANDIDATE_COLUMNS)."""
    return conn.execute(sql.load("cleanup/candidates")).pl()


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)


def _owner(allocation: AllocationRules | None, now: datetime) -> tuple[pl.Expr, pl.Expr]:
    """(owner, owner_source) expressions, in the order the module doc gives."""
    sources: list[tuple[pl.Expr, str]] = [
        (_blank_to_null(pl.col("owner_tag")), "tag:owner"),
        (_blank_to_null(pl.col("team_tag")), "tag:team"),
    ]
    today = now.astimezone(UTC).date()
    rule_set = next(
        (
            rs
            for rs in (allocation.rule_sets if allocation else [])
            if rs.valid_from <= today and (rs.valid_to is None or today < rs.valid_to)
        ),
        None,
    )
    if rule_set is not None:
        if rule_set.account_teams:
            accounts = pl.col("account_id").replace_strict(rule_set.account_teams, default=None, return_dtype=pl.String)
            sources.append((accounts, "allocation:account"))
        rules = [r for r in rule_set.resource_rules if r.field == "ResourceId" and r.team]
        if rules:
            by_rule = pl.lit(None, pl.String)
            for rule in reversed(rules):  # the first matching rule wins
                by_rule = (
                    pl.when(pl.col("resource_id").str.contains(rule.pattern)).then(pl.lit(rule.team)).otherwise(by_rule)
                )
            sources.append((by_rule, "allocation:resource_rule"))
    owner = pl.coalesce([expr for expr, _ in sources])
    source = pl.lit(None, pl.String)
    for expr, name in reversed(sources):
        source = pl.when(expr.is_not_null()).then(pl.lit(name)).otherwise(source)
    return owner, source


def _protection(settings: CleanupSettings) -> tuple[pl.Expr, pl.Expr]:
    """(protection, why) expressions: the first protection that applies, or null."""
    rules = settings.tag_rules()
    tag_hit = pl.lit(None, pl.String)
    for key, value in reversed(rules):
        element_key = pl.element().struct.field("key").str.to_lowercase().str.strip_chars()
        cond = element_key == key
        if value is not None:
            cond = cond & (pl.element().struct.field("value") == value)
        label = key if value is None else f"{key}={value}"
        tag_hit = (
            pl.when(pl.col("tags").list.eval(cond).list.any().fill_null(False)).then(pl.lit(label)).otherwise(tag_hit)
        )
    age = pl.col("age_days")
    account = pl.col("account_id").is_in(settings.protected_accounts).fill_null(False)
    grace = (age < settings.grace_days).fill_null(False)
    snapshot = (pl.col("kind") == "orphaned_snapshot") & (age < settings.snapshot_max_age_days).fill_null(True)
    protection = (
        pl.when(account)
        .then(pl.lit("account"))
        .when(tag_hit.is_not_null())
        .then(pl.lit("tag"))
        .when(grace)
        .then(pl.lit("grace_period"))
        .when(snapshot)
        .then(pl.lit("snapshot_age"))
    )
    why = (
        pl.when(account)
        .then(pl.format("account {} is in protected_accounts", pl.col("account_id")))
        .when(tag_hit.is_not_null())
        .then(pl.format("tagged {} (protected_tags)", tag_hit))
        .when(grace)
        .then(pl.format("{} days old, within grace_days = {}", age, pl.lit(settings.grace_days)))
        .when(snapshot)
        .then(
            pl.format(
                "snapshot {} days old, younger than snapshot_max_age_days = {}",
                age.cast(pl.String).fill_null("of unknown age,"),
                pl.lit(settings.snapshot_max_age_days),
            )
        )
    )
    return protection, why


def decimal_text(expr: pl.Expr) -> pl.Expr:
    """A Decimal as plain text without trailing zeros: 3.650000 → '3.65', 100.000 → '100'."""
    return expr.cast(pl.String).str.replace(r"(\.\d*?)0+$", "${1}").str.replace(r"\.$", "")


def classify_candidates(
    candidates: pl.LazyFrame, settings: CleanupSettings, *, now: datetime, allocation: AllocationRules | None = None
) -> pl.LazyFrame:
    """Owner, action and protection of each candidate (CANDIDATE_COLUMNS) → ENTRY_COLUMNS, plan order.

    ``now`` (tz-aware) dates the allocation rules and, for resources of unknown creation time, the
    age since ``first_seen``. One row per fingerprint: a second currency of the same orphan (not
    seen in practice) is dropped, keeping the billed one.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    owner, owner_source = _owner(allocation, now)
    since_seen = ((pl.lit(now.astimezone(UTC)) - pl.col("first_seen")).dt.total_seconds() // 86400).cast(pl.Int64)
    frame = (
        candidates.sort(["fingerprint", pl.col("cost_source") != "bill"])
        .unique("fingerprint", keep="first", maintain_order=True)
        .with_columns(
            age_days=pl.coalesce(pl.col("created_age_days").cast(pl.Int64), since_seen),
            age_basis=pl.when(pl.col("created_age_days").is_not_null())
            .then(pl.lit("created_at"))
            .when(pl.col("first_seen").is_not_null())
            .then(pl.lit("first_seen")),
            owner=owner,
            owner_source=owner_source,
            action=pl.col("kind").replace_strict(ACTIONS, default="none", return_dtype=pl.String),
        )
    )
    protection, why = _protection(settings)
    waste = decimal_text(pl.col("monthly_cost"))
    cost_text = pl.when(pl.col("monthly_cost").is_not_null()).then(
        pl.format("{} {}/month ({})", waste, pl.col("currency"), pl.col("cost_source"))
    )
    described = pl.format(
        "{} (state {}, {} days old by {}), {}; {}",
        pl.col("kind").replace_strict(_KIND_TEXT, default=pl.col("kind"), return_dtype=pl.String),
        pl.col("state").fill_null("unknown"),
        pl.col("age_days").cast(pl.String).fill_null("?"),
        pl.col("age_basis").fill_null("unknown"),
        cost_text.fill_null("cost unknown"),
        pl.col("action").replace_strict(_ACTION_TEXT, return_dtype=pl.String),
    )
    return (
        frame.with_columns(protection=protection, why=why, reason_text=described)
        .select(
            id=pl.col("fingerprint"),
            provider="provider",
            account_id="account_id",
            region="region",
            resource_id="resource_id",
            resource_type="resource_type",
            kind="kind",
            action="action",
            state="state",
            monthly_waste="monthly_cost",
            currency="currency",
            cost_source="cost_source",
            age_days="age_days",
            age_basis="age_basis",
            owner="owner",
            owner_source="owner_source",
            group_key=pl.when(pl.col("owner").is_not_null())
            .then(pl.format("owner:{}", pl.col("owner")))
            .otherwise(pl.format("account:{}:{}", pl.col("provider"), pl.col("account_id").fill_null(""))),
            tags_json=pl.col("tags_json").fill_null("{}"),
            reason=pl.when(pl.col("protection").is_not_null())
            .then(pl.format("protected: {}; {}", pl.col("why"), pl.col("reason_text")))
            .otherwise(pl.col("reason_text")),
            protection="protection",
        )
        .sort(
            ["currency", "monthly_waste", "provider", "account_id", "resource_id"],
            descending=[False, True, False, False, False],
            nulls_last=True,
        )
    )


def protected_now(items: list[PlanItem], settings: CleanupSettings) -> dict[str, str]:
    """Item id → why, for the plan items the current settings protect (by the tags the plan recorded)."""
    if not items:
        return {}
    frame = pl.DataFrame(
        {
            "id": [i.id for i in items],
            "account_id": [i.account_id for i in items],
            "kind": [i.kind for i in items],
            "age_days": [i.age_days for i in items],
            "tags": [[{"key": k, "value": v} for k, v in i.tags.items()] for i in items],
        },
        schema={
            "id": pl.String,
            "account_id": pl.String,
            "kind": pl.String,
            "age_days": pl.Int64,
            "tags": pl.List(pl.Struct({"key": pl.String, "value": pl.String})),
        },
    )
    protection, why = _protection(settings)
    hits = frame.select("id", protection=protection, why=why).filter(pl.col("protection").is_not_null())
    return dict(zip(hits.get_column("id").to_list(), hits.get_column("why").to_list(), strict=True))


def _entries(frame: pl.DataFrame, *, protected: bool) -> list[dict[str, Any]]:
    """Plan entries (JSON-ready) of classified rows: money as decimal text, tags as an object."""
    rows = frame.with_columns(monthly_waste=decimal_text(pl.col("monthly_waste"))).to_dicts()
    out = []
    for row in rows:
        entry = {k: v for k, v in row.items() if k not in ("tags_json", "protection")}
        entry["tags"] = {str(k): str(v) for k, v in json.loads(row["tags_json"]).items()}
        if protected:
            entry["protection"] = row["protection"]
        out.append(entry)
    return out


def _totals(items: pl.DataFrame) -> list[dict[str, Any]]:
    totals = (
        items.group_by("currency")
        .agg(monthly_waste=pl.col("monthly_waste").sum(), items=pl.len())
        .with_columns(
            monthly_waste=pl.when(pl.col("currency").is_not_null()).then(decimal_text(pl.col("monthly_waste")))
        )
        .sort("currency", nulls_last=True)
    )
    return [
        {"currency": r["currency"], "monthly_waste": r["monthly_waste"], "items": r["items"]} for r in totals.to_dicts()
    ]


def build_plan(
    conn: duckdb.DuckDBPyConnection,
    settings: CleanupSettings,
    *,
    now: datetime,
    allocation: AllocationRules | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """A signed cleanup plan from the stored orphan findings (read-only but for the identity and audit).

    The plan is recorded in the audit log (event plan_created) with its id and counts.
    """
    candidates = read_candidates(conn)
    classified = classify_candidates(candidates.lazy(), settings, now=now, allocation=allocation).collect()
    items = classified.filter(pl.col("protection").is_null())
    protected = classified.filter(pl.col("protection").is_not_null())
    identity = warehouse_identity(conn, now=now)
    run_ids = candidates.get_column("run_id").drop_nulls()
    body: dict[str, Any] = {
        "plan_version": PLAN_VERSION,
        "plan_id": str(uuid.uuid4()),
        "created_at": timestamp(now),
        "warehouse_id": identity.warehouse_id,
        "generator": f"spendscope {__version__}",
        "findings_run_id": int(run_ids.max()) if run_ids.len() else None,  # type: ignore[arg-type]
        "rules": {
            "protected_tags": list(settings.protected_tags),
            "protected_accounts": list(settings.protected_accounts),
            "grace_days": settings.grace_days,
            "snapshot_max_age_days": settings.snapshot_max_age_days,
        },
        "items": _entries(items, protected=False),
        "protected": _entries(protected, protected=True),
        "totals": _totals(items),
    }
    plan = sign_plan(body, identity.key)
    record_audit(
        conn,
        AuditEvent(
            event="plan_created",
            decision="created",
            at=now,
            plan_id=body["plan_id"],
            actor=actor,
            reason=f"{items.height} items, {protected.height} protected",
            details={"totals": body["totals"], "findings_run_id": body["findings_run_id"]},
        ),
    )
    return plan
