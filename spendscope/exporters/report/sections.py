"""The report's sections after the executive summary, built from ReportData: sentences, charts, tables."""

from __future__ import annotations

import json

import polars as pl

from spendscope.exporters.report import charts, shape
from spendscope.exporters.report.data import ReportData
from spendscope.exporters.report.model import Chart, Column, Section, Table
from spendscope.exporters.report.settings import ReportSettings

__all__ = [
    "DIMENSIONS",
    "anomalies_section",
    "budgets_section",
    "clip_labels",
    "orphans_section",
    "reconciliation_section",
    "spend_section",
    "unit_cost_section",
    "untagged_section",
]

DIMENSIONS = {"team": "team", "service": "service", "account": "account", "environment": "environment"}
"""dimension_totals' dimension → the header shown."""

C = Column
MONEY_CHANGE = (
    C("BilledCost", "billed", "money"),
    C("EffectiveCost", "amortized", "money"),
    C("previous_EffectiveCost", "amortized, previous month", "money"),
    C("change", "change", "signed_money"),
    C("change_pct", "change %", "change_pct"),
)


def clip_labels(frame: pl.DataFrame, columns: list[str], limit: int) -> pl.DataFrame:
    """String ``columns`` cut to ``limit`` characters (… marks the cut), for chart labels."""
    return frame.with_columns(
        pl.when(pl.col(c).str.len_chars() > limit)
        .then(pl.col(c).str.slice(0, limit - 1) + "…")
        .otherwise(pl.col(c))
        .alias(c)
        for c in columns
    )


def _per_currency_head(frame: pl.DataFrame, n: int) -> pl.DataFrame | None:
    head = frame.group_by("currency", maintain_order=True).head(n)
    return head if head.height < frame.height else None


def spend_section(data: ReportData, cfg: ReportSettings) -> Section:
    """Spend by team / service / account / environment: stacked daily chart, table, top movers."""
    totals = shape.with_change(data.dimension_totals)
    movers = shape.dimension_movers(data.dimension_totals, n=5)
    section = Section(
        "spend",
        "Spend by team, service, account and environment",
        "Spend",
        sentences=[
            f"Amortized cost (EffectiveCost, allocated_daily) per day of {data.month.label}, and each value's change "
            f"on {data.month.previous_label}. Accounts are SubAccountIds (else the billing account); ▲ is an increase."
        ],
    )
    for dim, header in DIMENSIONS.items():
        daily = data.dimension_daily.filter(pl.col("dimension") == dim)
        folded = shape.fold_series(
            clip_labels(daily, ["value"], cfg.label_chars), group=["currency"], top_n=cfg.top_series
        )
        svg = charts.stacked_daily(folded, series=header, title=f"Daily amortized cost by {header}")
        if svg:
            section.charts.append(Chart(f"Daily amortized cost by {header}", svg))
        rows = totals.filter(pl.col("dimension") == dim).drop("dimension")
        cols = (C("value", header), C("currency", "currency"), *MONEY_CHANGE)
        section.tables.append(
            Table(
                f"spend_{dim}",
                f"By {header}",
                cols,
                rows,
                shown=_per_currency_head(rows, cfg.table_rows),
                empty="No allocated spend this month (run `spendscope analyze`).",
            )
        )
        top = movers.filter(pl.col("dimension") == dim).drop("dimension")
        section.tables.append(
            Table(f"movers_{dim}", f"Top movers by {header}", cols, top, empty="No change on the previous month.")
        )
    return section


def unit_cost_section(data: ReportData, cfg: ReportSettings) -> Section:
    frame = shape.with_change(data.unit_costs, "cost_per_transaction", "previous_cost_per_transaction")
    daily = clip_labels(data.unit_costs_daily, ["service"], cfg.label_chars)
    svg = charts.unit_cost_trend(daily, title="Daily cost per transaction")
    cols = (
        C("service", "service"),
        C("currency", "currency"),
        C("cost", "cost", "money"),
        C("transactions", "transactions", "number"),
        C("cost_per_transaction", "cost per transaction", "unit_money"),
        C("previous_cost_per_transaction", "previous month", "unit_money"),
        C("change_pct", "change %", "change_pct"),
        C("status", "status"),
    )
    return Section(
        "unit_costs",
        "Cost per transaction",
        "Unit costs",
        sentences=[
            f"Cost per transaction per service (unit_costs): the month window of {data.month.label} against "
            f"{data.month.previous_label}, and the daily trend (windows with status ok)."
        ],
        charts=[Chart("Daily cost per transaction", svg)] if svg else [],
        tables=[
            Table(
                "unit_costs",
                "Month vs previous month",
                cols,
                frame,
                empty="No cost per transaction stored (configure [unit_cost] and load transactions).",
            )
        ],
    )


def untagged_section(data: ReportData, cfg: ReportSettings) -> Section:
    svg = charts.compliance_trend(data.compliance_daily, title="Daily untagged and unallocated share")
    return Section(
        "untagged",
        "Untagged and unallocated spend",
        "Untagged",
        sentences=[
            "Untagged: taggable amortized cost missing the tag policy's keys (untagged) or holding disallowed values "
            "(mistagged); tax, credits and support cannot carry tags and are reported apart. Unallocated: cost no "
            "allocation rule assigned to a team."
        ],
        charts=[Chart("Daily untagged and unallocated share", svg)] if svg else [],
        tables=[
            Table(
                "untagged",
                "Tag compliance",
                (
                    C("currency", "currency"),
                    C("taggable", "taggable", "money"),
                    C("untagged", "untagged", "money"),
                    C("mistagged", "mistagged", "money"),
                    C("noncompliant", "untagged + mistagged", "money"),
                    C("noncompliant_pct", "% of taggable", "percent"),
                    C("previous_noncompliant_pct", "% previous month", "percent"),
                    C("untaggable", "untaggable (apart)", "money"),
                ),
                data.untagged_summary,
                empty="No tag compliance stored for this month (run `spendscope analyze`).",
            ),
            Table(
                "untagged_accounts",
                "Worst accounts and services",
                (
                    C("SubAccountId", "account"),
                    C("ServiceName", "service"),
                    C("currency", "currency"),
                    C("noncompliant", "untagged + mistagged", "money"),
                    C("taggable", "taggable", "money"),
                ),
                data.untagged_accounts,
                empty="No untagged or mistagged spend this month.",
            ),
            Table(
                "untagged_resources",
                "Worst resources",
                (
                    C("rank", "rank", "count"),
                    C("ResourceId", "resource"),
                    C("accounts", "accounts"),
                    C("services", "services"),
                    C("statuses", "status"),
                    C("currency", "currency"),
                    C("noncompliant_cost", "untagged + mistagged", "money"),
                ),
                data.untagged_resources,
                empty="No untagged resources stored for this month.",
            ),
            Table(
                "unallocated",
                "Unallocated spend",
                (
                    C("currency", "currency"),
                    C("EffectiveCost", "amortized", "money"),
                    C("unallocated", "unallocated", "money"),
                    C("unallocated_pct", "% unallocated", "percent"),
                    C("previous_unallocated_pct", "% previous month", "percent"),
                ),
                data.allocation_gaps,
                empty="No allocated spend this month (run `spendscope analyze`).",
            ),
            Table(
                "unallocated_top",
                "Most unallocated accounts and services",
                (
                    C("account", "account"),
                    C("service", "service"),
                    C("currency", "currency"),
                    C("unallocated", "unallocated", "money"),
                ),
                data.unallocated_top,
                empty="No unallocated spend this month.",
            ),
            Table(
                "tag_coverage",
                "Tag coverage by team (share of each team's direct cost with a resolved environment tag)",
                (
                    C("team", "team"),
                    C("currency", "currency"),
                    C("direct", "direct cost", "money"),
                    C("with_environment", "with environment", "money"),
                    C("coverage_pct", "coverage", "percent"),
                ),
                data.tag_coverage,
                empty="No directly allocated team spend this month.",
            ),
        ],
    )


def orphans_section(data: ReportData, cfg: ReportSettings) -> Section:
    svg = charts.orphan_waste(
        clip_labels(data.orphans_by_kind, ["SubAccountId"], cfg.label_chars), title="Monthly waste by kind and account"
    )
    top = data.orphans.head(cfg.top_offenders).rename({"BillingCurrency": "currency", "EffectiveCost": "monthly_cost"})
    count = data.orphans.height
    return Section(
        "orphans",
        "Orphaned resources",
        "Orphans",
        sentences=[
            f"{count} orphaned resource{'s' if count != 1 else ''} in the latest inventory (as of the latest analysis "
            "run, not only this month): unattached disks, unassociated IPs, snapshots of deleted disks, idle load "
            "balancers, long-stopped instances. Waste is the last full month's billed cost, or a list-price estimate "
            "where cost source says so."
        ],
        charts=[Chart("Monthly waste by kind and account", svg)] if svg else [],
        tables=[
            Table(
                "orphans_by_kind",
                "By kind and account",
                (
                    C("kind", "kind"),
                    C("ProviderName", "provider"),
                    C("SubAccountId", "account"),
                    C("currency", "currency"),
                    C("resources", "resources", "count"),
                    C("monthly_waste", "monthly waste", "money"),
                ),
                data.orphans_by_kind,
                empty="No orphaned resources found by the latest analysis.",
            ),
            Table(
                "orphans",
                f"Top {cfg.top_offenders} by monthly waste",
                (
                    C("kind", "kind"),
                    C("ProviderName", "provider"),
                    C("SubAccountId", "account"),
                    C("ResourceId", "resource"),
                    C("ResourceType", "type"),
                    C("age_days", "age (days)", "number"),
                    C("team", "team tag"),
                    C("owner", "owner tag"),
                    C("cost_source", "cost source"),
                    C("currency", "currency"),
                    C("monthly_cost", "monthly waste", "money"),
                ),
                top,
                empty="No orphaned resources found by the latest analysis.",
            ),
        ],
    )


def _dimensions_text(value: str | None) -> str:
    parsed = json.loads(value) if value else {}
    return ", ".join(f"{k}={v}" for k, v in parsed.items())


def _drivers_text(value: str | None) -> str:
    """The top three drivers as ``dimension=value (+delta)`` (delta in the anomaly's currency)."""
    drivers = json.loads(value) if value else []
    return "; ".join(f"{d.get('dimension')}={d.get('value')} ({float(d.get('delta') or 0):+,.2f})" for d in drivers[:3])


def anomalies_section(data: ReportData, cfg: ReportSettings) -> Section:
    frame = data.anomalies
    if data.tickets_stored:
        tickets = data.tickets.select(
            pl.col("fingerprint").alias("id"),
            pl.format("{} {}: {}", "sink", pl.col("external_id").fill_null("?"), "status").alias("ticket"),
        )
        frame = frame.join(tickets, on="id", how="left").with_columns(pl.col("ticket").fill_null("no ticket"))
    else:
        frame = frame.with_columns(ticket=pl.lit("no sink"))
    # A handful of anomalies a month: their JSON is parsed row by row, never billing rows.
    rows = frame.with_columns(
        pl.col("dimensions").map_elements(_dimensions_text, return_dtype=pl.String).alias("series"),
        pl.col("drivers").map_elements(_drivers_text, return_dtype=pl.String),
        pl.col("end").cast(pl.String).fill_null("active").alias("end"),
    )
    count = rows.height
    notes = [] if data.tickets_stored else ["No ticket sink configured: no anomaly has a ticket."]
    return Section(
        "anomalies",
        "Anomalies",
        "Anomalies",
        sentences=[
            f"{count} anomal{'ies' if count != 1 else 'y'} overlapping {data.month.label}, as stored by the latest "
            "anomaly run: expected and actual amortized cost over the anomaly so far, its impact, and the drivers "
            "(dimension=value (change)) that explain most of it."
        ],
        tables=[
            Table(
                "anomalies",
                "Anomalies of the month",
                (
                    C("kind", "kind"),
                    C("series", "series", chars=160),
                    C("start", "start", "date"),
                    C("end", "end"),
                    C("currency", "currency"),
                    C("expected", "expected", "money"),
                    C("actual", "actual", "money"),
                    C("impact", "impact", "signed_money"),
                    C("severity", "severity"),
                    C("drivers", "drivers", chars=240),
                    C("ticket", "ticket"),
                ),
                rows,
                empty="No anomalies this month.",
            )
        ],
        notes=notes,
    )


def budgets_section(data: ReportData, table: pl.DataFrame, paths: pl.DataFrame, cfg: ReportSettings) -> Section:
    section = Section(
        "budgets",
        "Budgets",
        "Budgets",
        sentences=[
            "Cumulative amortized cost against each budget's linear pace (dashed grey) and amount (green), with the "
            "latest stored month-end forecast: its point (dotted) and 80 % band, drawn straight from the forecast's "
            "month-to-date actual to month end."
        ],
    )
    for b in table.iter_rows(named=True):
        path = paths.filter(pl.col("name") == b["name"])
        title = f"{b['name']}: {b['scope']}" + (f" {b['scope_value']}" if b["scope_value"] else "")
        section.charts.append(
            Chart(title, charts.budget_burn(path, title=title[: cfg.label_chars], currency=b["currency"]))
        )
    section.tables.append(
        Table(
            "budgets",
            "Budget status",
            (
                C("name", "budget"),
                C("scope", "scope"),
                C("scope_value", "value"),
                C("currency", "currency"),
                C("amount", "amount", "money"),
                C("actual", "actual", "money"),
                C("used_pct", "used", "percent"),
                C("made_on", "forecast made on", "date"),
                C("point", "forecast", "money"),
                C("lo80", "80 % low", "money"),
                C("hi80", "80 % high", "money"),
                C("status", "status"),
                C("exhaustion_date", "runs out on", "date"),
            ),
            table,
            empty="No budgets configured for this month ([[budgets]] in the config).",
        )
    )
    return section


def reconciliation_section(data: ReportData) -> Section:
    return Section(
        "reconciliation",
        "Reconciliation",
        "Reconciliation",
        sentences=[
            f"Sum of BilledCost per billing account and currency for {data.month.label}, straight from the billing "
            "rows: compare with each invoice."
        ],
        tables=[
            Table(
                "reconciliation",
                "Billed cost per billing account",
                (
                    C("ProviderName", "provider"),
                    C("BillingAccountId", "billing account"),
                    C("BillingAccountName", "name"),
                    C("currency", "currency"),
                    C("BilledCost", "billed", "money"),
                    C("EffectiveCost", "amortized", "money"),
                    C("rows", "rows", "count"),
                    C("invoice_ids", "invoices"),
                ),
                data.reconciliation,
                empty="No billing rows this month.",
            )
        ],
    )
