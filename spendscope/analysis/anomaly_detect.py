"""Spend anomalies on daily cost series: a causal robust baseline, a MAD band, and incidents with a kind.

The pure core of ``spendscope.analysis.anomalies`` (which reads the warehouse and stores findings).
Vectorized in Polars over every series at once (about 2 s for 10,000 series × 90 days); no model is
fitted per series, so statsforecast's MSTL (a fit per series, and a refit per day to stay causal)
is not used.

Baseline of day t, from days before t only (a streaming run flags on the same day as a batch run), on
u = cost + c, where c is the currency's ``min_impact`` (it damps the relative noise of tiny series):

- weekday factor f_t = median over the previous ``season_weeks`` same weekdays d of u_d / (centred
  7-day median of u around d); those windows end by t − 4;
- level_t = median of the deseasonalized y_d = u_d / f_d over the previous ``level_days`` days: a
  median ignores a spike, and a level shift until half of its window has moved, so the second day
  of a shift is still judged against the old level;
- expected_t = level_t × f_t − c; residual_t = ln(u_t / (level_t × f_t));
- sigma_t = 1.4826 / √2 × median |ln y_d − ln y_{d−1}| over the previous 2 × ``level_days`` days (day-to-
  day changes: a level shift or a spike is one or two outliers among them, a leak barely moves them);
  band_t = max(``band_k`` × sigma_t, ``min_band``).

A day is *flagged* when residual > band and *held* when residual > band / 2 (increases only), at least
``history_days`` into the data. Neither applies to a day inside a new-spend window, nor to a monthly
booking: a day whose excess recurs, at ≥ ``recurring_share`` of today's and ≥ ``min_impact``, on the
same day of the previous month (for the last 3 days of a month also: the same distance from the month
end); such days are left out of an incident's totals and drivers (``recurring_days``) but do not break
it. A run of held days at most one day apart with a flagged day is one incident, from its first
flagged day:

- ``spike``: flagged days span at most 3 days; it starts on its first flagged day with at least half
  of its largest residual and ends on its last flagged day;
- otherwise the excess over the level frozen 3 weeks before the first flag is fitted by least squares
  with a baseline a + b·x plus either a step at t0 (``level_shift``) or a hinge slope·max(0, d − t0 + 1)
  (``leak``); the better fit gives the kind and its t0 the start (a leak's estimated onset). It ends
  on its last held day, i.e. once the median level has re-adapted (a level shift) or the leak stopped.
- ``new_spend``: a series without cost over the previous ``new_spend_quiet_days`` days (the data must
  cover them) starts costing; the incident is its first ``history_days`` days (expected 0).

Expected, actual and impact are sums over the incident's days (start through last day), the expected
value from the level frozen at the start. ``detected_on`` is the first flagged day, from the later of
the first flag and the start, on which the incident so far passes the floors: mean excess per day ≥
``min_impact`` (per currency) and excess ≥ ``min_relative_change`` × expected; an incident that never
passes is not reported. ``end`` is null while the incident is active (held on one of the last two days).

Severity: a money level from the mean excess per day in multiples of ``min_impact`` (< 3 low, < 10
medium, < 30 high, else critical) and a relative level from impact / expected (< 0.5 low, < 1 medium,
< 3 high, else critical; new spend: critical); severity is the higher, at most one step above the money
level (a tenfold jump on a few dollars stays medium).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from spendscope.analysis.anomaly_incidents import incidents

__all__ = [
    "DETECTION_COLUMNS",
    "KINDS",
    "SERIES",
    "SEVERITIES",
    "AnomalyKind",
    "AnomalySettings",
    "SeriesKind",
    "detect",
    "score_days",
]

AnomalyKind = Literal["spike", "level_shift", "leak", "new_spend"]
KINDS: tuple[AnomalyKind, ...] = ("spike", "level_shift", "leak", "new_spend")
SeriesKind = Literal["service", "team"]
SERIES: tuple[SeriesKind, ...] = ("service", "team")
SEVERITIES = ("low", "medium", "high", "critical")
MONEY = pl.Decimal(38, 12)
_MAD = 1.4826
_HOLD = 0.5  # an open incident continues while the residual stays above this share of the band
_MONTH_END_DAYS = 3  # the last days of a month are also matched by their distance from the month end


class AnomalySettings(BaseModel):
    """The ``[anomalies]`` section: noise controls of the spend anomaly detector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[AnomalyKind] = Field(default_factory=lambda: list(KINDS), description="kinds reported")
    series: list[SeriesKind] = Field(
        default_factory=lambda: list(SERIES),
        description="service: ServiceName × SubAccountId × RegionId from billing; team: allocated_daily",
    )
    min_impact: Decimal = Field(
        default=Decimal(10), gt=0, description="money per day an incident must exceed, in every currency"
    )
    min_impact_by_currency: dict[str, Decimal] = Field(
        default_factory=dict, description="per-currency override of min_impact, e.g. {JPY = 1500}"
    )
    min_relative_change: float = Field(default=0.2, ge=0, description="excess / expected an incident must reach")
    band_k: float = Field(default=4.0, gt=0, description="band half-width in robust standard deviations")
    min_band: float = Field(default=0.1, ge=0, description="floor on the band (log ratio) for very stable series")
    history_days: int = Field(default=28, ge=21, description="days of data before a day is judged")
    level_days: int = Field(default=21, ge=7, description="window of the rolling-median level")
    season_weeks: int = Field(default=6, ge=2, description="weeks of the weekday-factor median")
    new_spend_quiet_days: int = Field(default=14, ge=1, description="days without cost before new spend")
    recurring_share: float = Field(
        default=0.5, gt=0, description="share of today's excess seen a month ago that marks a monthly booking"
    )
    driver_tolerance: float = Field(
        default=0.1, ge=0, lt=1, description="a narrower driver explaining ≥ 1 − this of a broader one ranks first"
    )
    max_drivers: int = Field(default=5, ge=1, description="drivers kept per anomaly")

    def floor(self, currency: str) -> Decimal:
        return self.min_impact_by_currency.get(currency, self.min_impact)


DETECTION_COLUMNS = [
    "kind",
    "start",
    "end",
    "detected_on",
    "last_day",
    "expected",
    "actual",
    "impact",
    "relative_change",
    "currency",
    "severity",
    "flagged_days",
    "recurring_days",
]
"""Columns of ``detect`` after the series keys. ``last_day``: the incident's last day so far, also while
it is active (``end`` null); ``recurring_days``: monthly bookings inside it, left out of its totals."""


def score_days(
    series: pl.DataFrame,
    settings: AnomalySettings,
    *,
    keys: Sequence[str],
    first_day: date | None = None,
    last_day: date | None = None,
) -> pl.DataFrame:
    """One row per series and day from ``first_day`` to ``last_day`` (default: the data's range).

    ``series`` has ``keys``, ``currency``, ``day`` (Date) and ``cost`` (Decimal or float; several rows
    of one day are summed; missing days cost 0; a negative day counts as 0 in the model). Adds sid,
    idx (days since first_day), expected, band, residual, level, factor, sigma, offset, flag, held,
    suppressed (monthly recurrence), new_start, in_new and seg_start (idx of the new-spend window).
    Every value of day t depends on days ≤ t only.
    """
    s = settings
    by = [*keys, "currency"]
    daily = series.group_by([*by, "day"]).agg(pl.col("cost").sum().cast(MONEY))
    lo = first_day or daily["day"].min()
    hi = last_day or daily["day"].max()
    if not isinstance(lo, date) or not isinstance(hi, date):
        return pl.DataFrame()
    ids = daily.select(by).unique().sort(by, nulls_last=True).with_row_index("sid")
    currencies = ids["currency"].unique().to_list()
    floors = pl.DataFrame(
        {"currency": currencies, "offset": [float(s.floor(c)) for c in currencies]},
        schema={"currency": pl.String, "offset": pl.Float64},
    )
    days = pl.DataFrame({"day": pl.date_range(lo, hi, "1d", eager=True)}).with_row_index("idx")
    n_days = days.height
    costs = daily.lazy().filter(pl.col("day").is_between(lo, hi)).join(ids.lazy(), on=by, nulls_equal=True)
    # The grid is complete and ordered by (sid, idx): row number = sid × n_days + idx.
    grid = (
        ids.lazy()
        .select("sid", "currency")
        .join(days.lazy(), how="cross", maintain_order="left_right")
        .join(costs.select("sid", "day", "cost"), on=["sid", "day"], how="left", maintain_order="left")
        .join(floors.lazy(), on="currency", how="left", maintain_order="left")
        .with_columns(pl.col("cost").fill_null(Decimal(0)), pl.col("idx").cast(pl.Int32))
        .with_columns(cost_f=pl.col("cost").cast(pl.Float64), wd=pl.col("day").dt.weekday())
        .with_columns(u=pl.col("cost_f").clip(lower_bound=0) + pl.col("offset"))
    )
    u, sid = pl.col("u"), "sid"
    window = 2 * s.level_days
    level, sigma = pl.col("level"), pl.col("sigma")
    scored = (
        grid.with_columns(local=u.rolling_median(7, center=True, min_samples=7).over(sid))
        .with_columns(
            factor=(u / pl.col("local")).shift(1).rolling_median(s.season_weeks, min_samples=2).over(sid, "wd")
        )
        .with_columns(y=u / pl.col("factor"))
        .with_columns(level=pl.col("y").shift(1).rolling_median(s.level_days, min_samples=7).over(sid))
        .with_columns(base=level * pl.col("factor"), step=pl.col("y").log().diff().abs().over(sid))
        .with_columns(
            residual=(u / pl.col("base")).log(),
            expected=(pl.col("base") - pl.col("offset")).clip(0),
            # day-to-day changes of the deseasonalized log cost: a level shift is one outlier among them
            sigma=_MAD / 2**0.5 * pl.col("step").shift(1).rolling_median(window, min_samples=14).over(sid),
        )
        .with_columns(band=pl.when(sigma.is_not_null()).then(pl.max_horizontal(s.band_k * sigma, s.min_band)))
        .with_columns(
            up=(pl.col("residual") > _HOLD * pl.col("band")).fill_null(False) & (pl.col("idx") >= s.history_days)
        )
        .with_columns(local_excess=_local_excess())
        .with_columns(recurs=_monthly_recurrence(s, n_days, lo))
        .with_columns(suppressed=pl.col("up") & pl.col("recurs"))
        .with_columns(_new_spend(s))
        .drop("wd", "local", "y", "step", "local_excess", "recurs")
    )
    held = pl.col("up") & ~pl.col("suppressed") & ~pl.col("in_new")
    return (
        scored.with_columns(held=held, flag=held & (pl.col("residual") > pl.col("band")))
        .drop("up")
        .join(ids.lazy().drop("currency"), on="sid", how="left", maintain_order="left")
        .collect()
    )


def _monthly_recurrence(s: AnomalySettings, n_days: int, day0: date) -> pl.Expr:
    """Whether a day's excess recurs from the same day of the previous month (a monthly booking).

    A day's local excess is its cost minus the median of the same weekday 1 and 2 weeks around it;
    looked up for the previous month's same day-of-month and, for the last 3 days of a month, the same
    distance from the month end (both at least 28 days back, so their ±14-day neighbours are before t),
    by position in the complete (sid, idx) grid. The booking must be worth ``min_impact``.
    """
    cost, day, local = pl.col("cost_f"), pl.col("day"), pl.col("local_excess")
    from_end = (day.dt.month_end() - day).dt.total_days()
    same_dom = day.dt.offset_by("-1mo")
    same_end = day.dt.month_start() - timedelta(days=1) - pl.duration(days=from_end)

    def back(target: pl.Expr) -> pl.Expr:
        at = (target - pl.lit(day0)).dt.total_days()
        row = pl.col("sid").cast(pl.Int64) * n_days + at
        return pl.when(at >= 0).then(local.gather(row.clip(lower_bound=0)))

    dom, eom = back(same_dom), back(same_end)
    excess = cost - pl.col("expected")
    recurs = (dom >= s.recurring_share * excess) | ((eom >= s.recurring_share * excess) & (from_end < _MONTH_END_DAYS))
    return ((pl.max_horizontal(dom, eom) >= pl.col("offset")) & recurs).fill_null(False)


def _local_excess() -> pl.Expr:
    cost = pl.col("cost_f")
    return cost - _median4([cost.shift(n).over("sid") for n in (14, 7, -7, -14)])


def _median4(values: list[pl.Expr]) -> pl.Expr:
    """Median of up to four values, ignoring nulls (horizontal, much cheaper than a list median)."""
    n = pl.sum_horizontal([v.is_not_null().cast(pl.Int8) for v in values])
    total, high, low = pl.sum_horizontal(values), pl.max_horizontal(values), pl.min_horizontal(values)
    return (
        pl.when(n == 4).then((total - high - low) / 2).when(n == 3).then(total - high - low).when(n > 0).then(total / n)
    )


def _new_spend(s: AnomalySettings) -> list[pl.Expr]:
    idx = pl.col("idx")
    costs = pl.col("cost_f") > 0
    last_cost = pl.when(costs).then(idx).forward_fill().shift(1).over("sid")
    quiet = idx - last_cost.fill_null(-1) - 1
    new_start = costs & (quiet >= s.new_spend_quiet_days) & ~pl.col("recurs")  # a monthly booking is not new
    seg_start = pl.when(new_start).then(idx).forward_fill().over("sid")
    return [
        new_start.alias("new_start"),
        seg_start.alias("seg_start"),
        (seg_start.is_not_null() & (idx - seg_start < s.history_days)).fill_null(False).alias("in_new"),
    ]


def detect(
    series: pl.DataFrame,
    settings: AnomalySettings,
    *,
    keys: Sequence[str] | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> pl.DataFrame:
    """Reported anomalies of every series in ``series`` (see ``score_days``): keys + DETECTION_COLUMNS.

    ``keys`` default to every column but day, currency and cost. Dates are the series' days; money
    (expected, actual, impact) is Decimal in the series' currency, summed over start..last_day.
    """
    keys = list(keys) if keys is not None else [c for c in series.columns if c not in ("day", "currency", "cost")]
    scored = score_days(series, settings, keys=keys, first_day=first_day, last_day=last_day)
    found = incidents(scored, settings, keys=keys)
    empty = _empty(series, keys)
    if found.is_empty():
        return empty
    day0 = scored["day"].min()
    assert isinstance(day0, date)

    def on(col: str) -> pl.Expr:
        return (pl.lit(day0) + pl.duration(days=pl.col(col))).cast(pl.Date)

    floors = {c: float(settings.floor(c)) for c in found["currency"].unique().to_list()}
    impact = pl.col("actual").cast(pl.Float64) - pl.col("expected_f")
    out = (
        found.filter(pl.col("detected_idx").is_not_null() & pl.col("kind").is_in(list(settings.kinds)))
        .with_columns(
            start=on("start_idx"),
            end=pl.when(~pl.col("active")).then(on("last_idx")),
            detected_on=on("detected_idx"),
            last_day=on("last_idx"),
            recurring_days=pl.col("skipped")
            .list.eval(pl.lit(day0) + pl.duration(days=pl.element()))
            .cast(pl.List(pl.Date)),
            expected=pl.col("expected_f").cast(MONEY),
            actual=pl.col("actual").cast(MONEY),
            relative_change=pl.when(pl.col("expected_f") > 0).then(impact / pl.col("expected_f")),
            per_day=impact / (pl.col("last_idx") - pl.col("start_idx") + 1),
            floor=pl.col("currency").replace_strict(floors, return_dtype=pl.Float64),
        )
        .with_columns(impact=(pl.col("actual") - pl.col("expected")).cast(MONEY), severity=_severity())
        .with_columns(pl.col("flagged_days").cast(pl.Int64))
        .select(*keys, *DETECTION_COLUMNS)
        .sort([*keys, "currency", "start"], nulls_last=True)
    )
    return out


def _severity() -> pl.Expr:
    money = pl.col("per_day") / pl.col("floor")
    money_level = pl.when(money < 3).then(0).when(money < 10).then(1).when(money < 30).then(2).otherwise(3)
    rel = pl.col("relative_change").fill_null(float("inf"))
    rel_level = pl.when(rel < 0.5).then(0).when(rel < 1).then(1).when(rel < 3).then(2).otherwise(3)
    level = pl.min_horizontal(pl.max_horizontal(money_level, rel_level), money_level + 1)
    return level.replace_strict(dict(enumerate(SEVERITIES)), return_dtype=pl.String)


def _empty(series: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    schema: dict[str, pl.DataType | type[pl.DataType]] = {k: series.schema[k] for k in keys}
    schema.update(
        kind=pl.String,
        start=pl.Date,
        end=pl.Date,
        detected_on=pl.Date,
        last_day=pl.Date,
        expected=MONEY,
        actual=MONEY,
        impact=MONEY,
        relative_change=pl.Float64,
        currency=pl.String,
        severity=pl.String,
        flagged_days=pl.Int64,
        recurring_days=pl.List(pl.Date),
    )
    return pl.DataFrame(schema=schema)
