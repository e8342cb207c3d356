"""The executive summary: the month's totals per currency in plain sentences, and the tables they come from.

Every sentence is built from frames the other sections show (month totals from billing, budgets,
stored forecasts, movers from allocated_daily); nothing here reads the warehouse.
"""

from __future__ import annotations

import polars as pl

from spendscope.exporters.report import fmt, shape
from spendscope.exporters.report.data import ReportData
from spendscope.exporters.report.model import Column, Section, Table
from spendscope.exporters.report.settings import ReportSettings

__all__ = ["summary_section"]

C = Column


def _totals_sentences(data: ReportData) -> list[str]:
    out = []
    for r in shape.with_change(data.month_totals).iter_rows(named=True):
        cur = r["currency"]
        text = (
            f"{cur}: billed {fmt.money(r['BilledCost'], cur)}, amortized {fmt.money(r['EffectiveCost'], cur)} in "
            f"{data.month.label}"
        )
        if r["change_pct"] is not None:
            way = "up" if r["change"] > 0 else "down" if r["change"] < 0 else "unchanged"
            text += (
                f", amortized {way} {fmt.percent(abs(r['change_pct']))} ({fmt.signed_money(r['change'], cur)}) on "
                f"{data.month.previous_label}."
            )
        else:
            text += f"; nothing was billed in {cur} in {data.month.previous_label}."
        out.append(text)
    if not data.month.complete:
        out.append(f"{data.month.label} is not complete yet: figures are month to date.")
    return out


def _budget_sentences(budgets: pl.DataFrame) -> list[str]:
    out = []
    for b in budgets.filter(pl.col("scope") == "total").iter_rows(named=True):
        cur = b["currency"]
        out.append(
            f"Budget {b['name']}: {fmt.money(b['actual'], cur)} of {fmt.money(b['amount'], cur)} "
            f"({fmt.percent(b['used_pct'])}), status {b['status']}."
        )
    if budgets.height:
        counts = budgets["status"].value_counts(sort=True)
        parts = ", ".join(f"{n} {s}" for s, n in counts.sort("status").iter_rows())
        risky = budgets.filter(pl.col("status").is_in(["over", "at_risk"]))["name"].to_list()
        out.append(f"{budgets.height} budgets: {parts}" + (f" ({', '.join(risky)} need attention)." if risky else "."))
    return out


def _forecast_sentences(data: ReportData) -> list[str]:
    out = []
    for (cur,), rows in data.forecast_accuracy.group_by(["currency"], maintain_order=True):
        first, last = rows.row(0, named=True), rows.row(rows.height - 1, named=True)
        picks = [first] if first["made_on"] == last["made_on"] else [first, last]
        said = "; ".join(
            f"made on {r['made_on']}: {fmt.money(r['point'], cur)}"
            + (
                f" (error {fmt.signed_percent(r['error_pct'])})"
                if data.month.complete and r["error_pct"] is not None
                else ""
            )
            for r in picks
        )
        if data.month.complete and last["actual"] is not None:
            mape = rows["error_pct"].abs().mean()
            accuracy = f", mean absolute error {fmt.percent(float(mape))}" if isinstance(mape, float) else ""
            out.append(
                f"Month-end forecast ({cur}) {said}; actual {fmt.money(last['actual'], cur)} over {rows.height} "
                f"forecast{'s' if rows.height != 1 else ''}{accuracy}."
            )
        else:
            out.append(f"Month-end forecast ({cur}) {said}.")
    if data.forecast_accuracy.is_empty():
        out.append(f"No month-end forecast was stored for {data.month.label}.")
    return out


def _mover_sentences(movers: pl.DataFrame) -> list[str]:
    out = []
    for m in movers.iter_rows(named=True):
        cur = m["currency"]
        way = "rose" if m["change"] > 0 else "fell"
        pct = f" ({fmt.signed_percent(m['change_pct'])})" if m["change_pct"] is not None else " (new spend)"
        drivers = [
            f"{d} {m[d]} ({fmt.signed_money(m[f'{d}_change'], cur)})"
            for d in shape.DRIVERS
            if m[d] is not None and m[f"{d}_change"] is not None
        ]
        text = f"{m['rank']}. {m['service']} ({cur}) {way} by {fmt.money(abs(m['change']), cur)}{pct}"
        out.append(text + (f", driven by {', '.join(drivers)}." if drivers else "."))
    return out


def summary_section(data: ReportData, budgets: pl.DataFrame, movers: pl.DataFrame, cfg: ReportSettings) -> Section:
    """Totals vs previous month and budget, forecast accuracy, the three biggest movers with drivers."""
    sentences = _totals_sentences(data) + _budget_sentences(budgets) + _forecast_sentences(data)
    if movers.height:
        sentences.append("Biggest movers (change in amortized cost, as a share of the currency's spend):")
        sentences += _mover_sentences(movers)
    anomalies = data.anomalies
    if anomalies.height:
        impact = anomalies.group_by("currency").agg(pl.col("impact").sum()).sort("currency")
        money = ", ".join(fmt.money(v, c) for c, v in impact.iter_rows())
        sentences.append(f"{anomalies.height} anomalies overlap the month, with an impact of {money} so far.")
    totals = shape.with_change(data.month_totals)
    money_change = (
        C("BilledCost", "billed", "money"),
        C("EffectiveCost", "amortized", "money"),
        C("previous_BilledCost", "billed, previous month", "money"),
        C("previous_EffectiveCost", "amortized, previous month", "money"),
        C("change", "change (amortized)", "signed_money"),
        C("change_pct", "change %", "change_pct"),
    )
    mover_cols = (
        C("rank", "rank", "count"),
        C("service", "service"),
        C("currency", "currency"),
        C("previous_EffectiveCost", "previous month", "money"),
        C("EffectiveCost", "this month", "money"),
        C("change", "change", "signed_money"),
        C("change_pct", "change %", "change_pct"),
        C("team", "top team"),
        C("team_change", "team change", "signed_money"),
        C("account", "top account"),
        C("account_change", "account change", "signed_money"),
        C("region", "top region"),
        C("region_change", "region change", "signed_money"),
    )
    forecast_cols = (
        C("made_on", "made on", "date"),
        C("currency", "currency"),
        C("days_elapsed", "days known", "count"),
        C("mtd_actual", "month to date", "money"),
        C("point", "forecast", "money"),
        C("lo80", "80 % low", "money"),
        C("hi80", "80 % high", "money"),
        C("actual", "actual", "money"),
        C("error_pct", "error", "percent"),
    )
    return Section(
        "summary",
        "Executive summary",
        "Summary",
        sentences=sentences,
        tables=[
            Table(
                "summary",
                "Month totals (billing)",
                (C("currency", "currency"), *money_change),
                totals,
                empty="No billing rows this month or the previous one.",
            ),
            Table("movers", "Biggest movers by service", mover_cols, movers, empty="No change on the previous month."),
            Table(
                "forecast_accuracy",
                "Month-end forecasts of the total",
                forecast_cols,
                data.forecast_accuracy,
                empty="No month-end forecast stored for this month.",
            ),
        ],
    )
