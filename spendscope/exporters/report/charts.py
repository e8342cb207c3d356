"""The report's charts: Vega-Lite specs built with Altair, rendered server-side to SVG by vl-convert.

The SVG is inlined in the page: no script, no font or data fetched when the report is opened. Vega
escapes every text it writes (a tag value ``<script>`` becomes ``&lt;script&gt;``); labels are also
clipped to ``label_chars`` before they reach a spec. Money in charts is Float64 (display only); a chart
never mixes currencies on one axis: one panel per currency.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree  # only vl-convert's SVG output (check_inert)  # nosec B405

import altair as alt
import polars as pl
import vl_convert as vlc

from spendscope.errors import ExporterError

__all__ = [
    "budget_burn",
    "check_inert",
    "compliance_trend",
    "orphan_waste",
    "stacked_daily",
    "to_svg",
    "unit_cost_trend",
]

WIDTH = 720
HEIGHT = 200
# Text is measured at render time with this font (vl-convert finds it among the system fonts) and drawn
# by the browser: DejaVu Sans is the widest common sans-serif, so labels fit wherever the page opens.
_CONFIG: dict[str, Any] = {
    "font": "DejaVu Sans, Verdana, sans-serif",
    "legend": {"labelLimit": 260, "titleLimit": 260},
    "axis": {"labelLimit": 200, "titleLimit": 300},
    "header": {"labelLimit": 200},
    "view": {"stroke": None},
}


def to_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (vl-convert, no network), checked to be inert (see ``check_inert``)."""
    spec = chart.to_dict()
    spec["config"] = {**spec.get("config", {}), **_CONFIG}
    try:
        svg = str(vlc.vegalite_to_svg(spec))
    except ValueError as exc:  # vl-convert reports spec errors as ValueError
        raise ExporterError(f"chart could not be rendered: {str(exc).splitlines()[0]}", source="vl-convert") from exc
    check_inert(svg)
    return svg


def check_inert(svg: str) -> None:
    """Refuse SVG that could run or fetch anything once inlined: script or foreignObject elements, event
    handler attributes, links that leave the page. Vega escapes the text it draws, so a hostile label never
    gets here; this is the belt to the page's Content-Security-Policy braces."""
    try:
        root = ElementTree.fromstring(svg)  # noqa: S314 - vl-convert output: no DTD, no entities  # nosec B314
    except ElementTree.ParseError as exc:
        raise ExporterError(f"chart is not well-formed SVG: {exc}", source="vl-convert") from exc
    for el in root.iter():
        name = el.tag.rsplit("}", 1)[-1].lower()
        bad = name in ("script", "foreignobject", "iframe", "image", "use") or any(
            a.rsplit("}", 1)[-1].lower().startswith("on")
            or (a.rsplit("}", 1)[-1].lower() == "href" and not v.startswith("#"))
            for a, v in el.attrib.items()
        )
        if bad:
            raise ExporterError(f"chart SVG holds an active <{name}> element or attribute", source="vl-convert")


def _days(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("day").cast(pl.String))


def _x() -> alt.X:
    return alt.X("day:T", timeUnit="utcmonthdate", title=None, axis=alt.Axis(format="%d %b", labelAngle=0))


def _per_currency(chart: alt.Chart, *, count: int) -> alt.TopLevelMixin:
    """One row of panels per currency, each with its own y scale (never summed across currencies)."""
    if count <= 1:
        return chart
    faceted: alt.FacetChart = chart.facet(row=alt.Row("currency:N", title=None)).resolve_scale(y="independent")
    return faceted


def stacked_daily(frame: pl.DataFrame, *, series: str, title: str) -> str | None:
    """Stacked daily bars of EffectiveCost per ``series`` value (frame: currency, value, day, EffectiveCost)."""
    if frame.is_empty():
        return None
    currencies = frame["currency"].unique().sort().to_list()
    order = frame.group_by("value").agg(pl.col("EffectiveCost").sum()).sort("EffectiveCost", descending=True)
    chart = (
        alt.Chart(_days(frame), width=WIDTH, height=HEIGHT, title=title)
        .mark_bar()
        .encode(
            x=_x(),
            y=alt.Y(
                "sum(EffectiveCost):Q", title="amortized cost" + (f" ({currencies[0]})" if len(currencies) == 1 else "")
            ),
            color=alt.Color("value:N", title=series, sort=order["value"].to_list()),
            order=alt.Order("EffectiveCost:Q", sort="descending"),
        )
    )
    return to_svg(_per_currency(chart, count=len(currencies)))


def unit_cost_trend(frame: pl.DataFrame, *, title: str) -> str | None:
    """Daily cost per transaction per service (frame: service, currency, day, cost_per_transaction)."""
    if frame.is_empty():
        return None
    currencies = frame["currency"].unique().to_list()
    data = _days(frame).with_columns(pl.col("cost_per_transaction").cast(pl.Float64))
    chart = (
        alt.Chart(data, width=WIDTH, height=HEIGHT, title=title)
        .mark_line(point=False)
        .encode(
            x=_x(),
            y=alt.Y("cost_per_transaction:Q", title="cost per transaction", scale=alt.Scale(zero=False)),
            color=alt.Color("service:N", title="service"),
        )
    )
    return to_svg(_per_currency(chart, count=len(currencies)))


def compliance_trend(frame: pl.DataFrame, *, title: str) -> str | None:
    """Daily untagged and unallocated shares in percent (frame: measure, currency, day, pct)."""
    if frame.is_empty():
        return None
    chart = (
        alt.Chart(_days(frame), width=WIDTH, height=HEIGHT, title=title)
        .mark_line()
        .encode(
            x=_x(),
            y=alt.Y("pct:Q", title="% of amortized cost"),
            color=alt.Color("measure:N", title=None),
            strokeDash=alt.StrokeDash("currency:N", title="currency"),
        )
    )
    return to_svg(chart)


def orphan_waste(frame: pl.DataFrame, *, title: str) -> str | None:
    """Monthly waste per orphan kind, stacked by account (frame: kind, SubAccountId, currency, monthly_waste)."""
    data = frame.filter(pl.col("monthly_waste").is_not_null())
    if data.is_empty():
        return None
    currencies = data["currency"].unique().to_list()
    chart = (
        alt.Chart(data.with_columns(pl.col("monthly_waste").cast(pl.Float64)), width=WIDTH, title=title)
        .mark_bar()
        .encode(
            y=alt.Y("kind:N", title=None),
            x=alt.X("sum(monthly_waste):Q", title="monthly waste"),
            color=alt.Color("SubAccountId:N", title="account"),
        )
    )
    return to_svg(_per_currency(chart, count=len(currencies)))


def budget_burn(path: pl.DataFrame, *, title: str, currency: str) -> str:
    """Cumulative spend against the budget's linear pace, with the forecast's 80 % band and point to
    month end (path: day, actual, pace, point, lo80, hi80, amount)."""
    data = _days(path)
    base = alt.Chart(data, width=WIDTH, height=HEIGHT)
    y_title = f"cumulative amortized cost ({currency})"
    band = base.mark_area(opacity=0.25, color="#e45756").encode(x=_x(), y=alt.Y("lo80:Q", title=y_title), y2="hi80:Q")
    point = base.mark_line(color="#e45756", strokeDash=[2, 2]).encode(x=_x(), y="point:Q")
    pace = base.mark_line(color="#888888", strokeDash=[6, 4]).encode(x=_x(), y="pace:Q")
    actual = base.mark_line(color="#4c78a8", strokeWidth=2.5).encode(x=_x(), y=alt.Y("actual:Q", title=y_title))
    amount = base.mark_rule(color="#54a24b").encode(y="max(amount):Q")
    layers = [pace, amount, actual]
    if path["point"].is_not_null().any():
        layers = [band, point, *layers]
    return to_svg(alt.layer(*layers, title=title))
