"""Incidents of the anomaly detector: runs of flagged days, their kind, start, totals and detection day.

Part of the pure core of ``spendscope.analysis.anomaly_detect`` (see its docstring for the rules):
``incidents`` turns the per-day frame of ``score_days`` into one row per incident, reported or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from spendscope.analysis.anomaly_detect import AnomalySettings

__all__ = ["INCIDENT_COLUMNS", "incidents"]

_GAP = 1  # unflagged days allowed inside one incident
_SPIKE_DAYS = 3
_LEAK_LOOKBACK = 21  # days before the first flag searched for a level shift's or a leak's start


def incidents(scored: pl.DataFrame, settings: AnomalySettings, *, keys: Sequence[str]) -> pl.DataFrame:
    """Every incident of ``score_days``'s output (reported or not), one row each.

    Columns: INCIDENT_COLUMNS (sid, kind, first: idx of the first flagged day, start_idx, last_idx,
    detected_idx: null when it never passed the floors, expected_f, actual, flagged_days, active,
    skipped: idx of monthly bookings inside it), then keys and currency.
    """
    s = settings
    if scored.is_empty():
        return pl.DataFrame()
    end_idx = int(scored["idx"].max())  # type: ignore[arg-type]
    meta = scored.lazy().select("sid", *keys, "currency").unique("sid")
    regular = _regular(scored.lazy(), s, end_idx)
    fresh = _fresh(scored.lazy(), s, end_idx)
    return (
        pl.concat([regular, fresh], how="vertical").join(meta, on="sid", how="left").sort("sid", "start_idx").collect()
    )


def _regular(scored: pl.LazyFrame, s: AnomalySettings, end_idx: int) -> pl.LazyFrame:
    idx = pl.col("idx")
    # Runs of held days (residual above half the band), at most one day apart; a run with a flagged
    # day is an incident from its first flagged day to its last held day.
    held = (
        scored.filter(pl.col("held") | pl.col("suppressed"))  # a monthly booking does not break a run
        .select("sid", "idx", "flag", "held")
        .with_columns(prev=idx.shift(1).over("sid"))
        .with_columns(inc=(pl.col("prev").is_null() | (idx - pl.col("prev") > _GAP + 1)).cum_sum().over("sid"))
    )
    spans = (
        held.group_by("sid", "inc")
        .agg(
            first=idx.filter("flag").min(),
            last_flag=idx.filter("flag").max(),
            last_idx=idx.filter("held").max(),
            flagged_days=pl.col("flag").sum(),
        )
        .filter(pl.col("first").is_not_null())
    )
    days = scored.select(
        "sid", "idx", "day", "cost", "cost_f", "u", "factor", "offset", "flag", "level", "suppressed", "residual"
    )
    at_first = days.select("sid", first="idx", level0="level")
    inside = (
        spans.join(at_first, on=["sid", "first"], how="left")
        .join(days, on="sid", how="inner")
        .filter(idx.is_between(pl.col("first") - _LEAK_LOOKBACK, pl.col("last_idx")) & ~pl.col("suppressed"))
    )
    # a spike ends on its last flagged day; a level shift or leak on its last held day
    starts = spans.join(_shapes(inside), on=["sid", "inc"]).with_columns(
        last_idx=pl.when(pl.col("kind") == "spike").then(pl.col("last_flag")).otherwise(pl.col("last_idx"))
    )
    # Totals from start to the last held day, against the level frozen at start (data before start);
    # days of a monthly booking are left out of the fits and of the totals.
    frozen = days.select("sid", start_idx="idx", level_start="level")
    over = (
        starts.join(frozen, on=["sid", "start_idx"], how="left")
        .join(inside.select("sid", "inc", "idx", "cost", "cost_f", "u", "factor", "offset", "flag"), on=["sid", "inc"])
        .filter(idx.is_between(pl.col("start_idx"), pl.col("last_idx")))
        .with_columns(expected=(pl.col("level_start") * pl.col("factor") - pl.col("offset")).clip(0))
    )
    detected = _detected(over.filter(idx >= pl.max_horizontal("first", "start_idx")), s)
    skipped = (
        starts.join(days.filter("suppressed").select("sid", "idx"), on="sid")
        .filter(idx.is_between(pl.col("start_idx"), pl.col("last_idx")))
        .group_by("sid", "inc")
        .agg(skipped=idx)
    )
    return (
        over.group_by("sid", "inc")
        .agg(
            pl.col("kind", "first", "start_idx", "last_idx", "flagged_days").first(),
            expected_f=pl.col("expected").sum(),
            actual=pl.col("cost").sum(),
        )
        .join(detected, on=["sid", "inc"], how="left")
        .join(skipped, on=["sid", "inc"], how="left")
        .with_columns(pl.col("skipped").fill_null(pl.lit([], pl.List(pl.Int32))))
        .with_columns(active=pl.col("last_idx") >= end_idx - _GAP)
        .select(INCIDENT_COLUMNS)
    )


INCIDENT_COLUMNS = [
    "sid",
    "kind",
    "first",
    "start_idx",
    "last_idx",
    "detected_idx",
    "expected_f",
    "actual",
    "flagged_days",
    "active",
    "skipped",
]


def _shapes(inside: pl.LazyFrame) -> pl.LazyFrame:
    """kind and start_idx of each incident: spike (≤ 3 days), else the better of two fits.

    The excess z over the level frozen at the window start (``_LEAK_LOOKBACK`` days before the first
    flag, through 14 days after it or the last held day) is fitted by least squares with a baseline
    a + b·x (x: days since the window start; it absorbs a trend and the lag of the frozen level) plus a
    step Δ·[d ≥ t0] (level_shift) or a hinge slope·max(0, d − t0 + 1) (leak), Δ and slope > 0; t0 runs
    from a week into the window to 3 days after the first flag. The shape that explains more of the
    excess wins and its t0 is the start.
    """
    idx, t0 = pl.col("idx"), pl.col("t0")
    window = inside.filter(idx <= pl.col("first") + 14)
    ws = window.group_by("sid", "inc").agg(ws=idx.min())
    base = (
        window.join(ws, on=["sid", "inc"])
        .join(window.select("sid", "inc", ws="idx", level_ws="level"), on=["sid", "inc", "ws"], how="left")
        .with_columns(z=pl.col("u") / (pl.coalesce("level_ws", "level0") * pl.col("factor")) - 1)
        # a day before the first flag above the incident's typical excess is another event (a spike,
        # a monthly booking), not part of a ramp or step: left out of the fits
        .with_columns(typical=pl.col("z").filter(idx >= pl.col("first")).median().over("sid", "inc"))
        .filter((idx >= pl.col("first")) | (pl.col("z") <= pl.col("typical")))
    )
    candidates = base.filter(idx.is_between(pl.col("ws") + 7, pl.col("first") + _SPIKE_DAYS)).select(
        "sid", "inc", t0="idx"
    )
    x = (idx - pl.col("ws")).cast(pl.Float64)
    shapes = {"leak": (idx - t0 + 1).clip(lower_bound=0).cast(pl.Float64), "shift": (idx >= t0).cast(pl.Float64)}
    z = pl.col("z")
    sums = [pl.len().cast(pl.Float64).alias("n"), x.sum().alias("sx"), (x * x).sum().alias("sxx")]
    sums += [z.sum().alias("sz"), (x * z).sum().alias("sxz")]
    for name, g in shapes.items():
        sums += [g.sum().alias(f"s_{name}"), (x * g).sum().alias(f"sx_{name}"), (g * g).sum().alias(f"ss_{name}")]
        sums += [(g * z).sum().alias(f"sz_{name}")]
    fits = (
        candidates.join(base.select("sid", "inc", "idx", "ws", "z"), on=["sid", "inc"])
        .group_by("sid", "inc", "t0")
        .agg(sums)
        .with_columns(_explained(name) for name in shapes)
    )
    best = [
        fits.drop_nulls(gain)
        .sort(gain, "t0", descending=[True, False])
        .group_by("sid", "inc")
        .agg(pl.col(gain).first().alias(f"{gain}_gain"), t0.first().alias(f"{gain}_t0"))
        for gain in ("leak", "shift")
    ]
    # a spike starts on its first flagged day with at least half of its largest residual
    own = pl.col("flag") & (idx >= pl.col("first"))  # the lookback may hold an earlier incident's flags
    span = window.group_by("sid", "inc").agg(
        first=pl.col("first").first(),
        days=pl.col("last_flag").first() - pl.col("first").first() + 1,
        spike_start=idx.filter(own & (pl.col("residual") >= 0.5 * pl.col("residual").filter(own).max())).min(),
    )
    leak = pl.col("leak_gain").fill_null(0) > pl.col("shift_gain").fill_null(0)
    return (
        span.join(best[0], on=["sid", "inc"], how="left")
        .join(best[1], on=["sid", "inc"], how="left")
        .select(
            "sid",
            "inc",
            kind=pl.when(pl.col("days") <= _SPIKE_DAYS)
            .then(pl.lit("spike"))
            .when(leak)
            .then(pl.lit("leak"))
            .otherwise(pl.lit("level_shift")),
            start_idx=pl.when(pl.col("days") <= _SPIKE_DAYS)
            .then(pl.col("spike_start"))
            .when(leak)
            .then(pl.col("leak_t0"))
            .otherwise(pl.coalesce("shift_t0", "first")),
        )
    )


def _explained(name: str) -> pl.Expr:
    """Explained sum of squares of z ~ 1 + x + g (g: the ``name`` shape), null unless g's coefficient > 0.

    From the sums n, sx, sxx, sz, sxz, s_g, sx_g, ss_g, sz_g: β = A⁻¹r with A = X'X (3 × 3, inverted
    by its adjugate) and r = X'z; explained = r'A⁻¹r.
    """
    c = pl.col
    a11, a12, a13, a22, a23, a33 = c("n"), c("sx"), c(f"s_{name}"), c("sxx"), c(f"sx_{name}"), c(f"ss_{name}")
    r1, r2, r3 = c("sz"), c("sxz"), c(f"sz_{name}")
    c11, c22, c33 = a22 * a33 - a23 * a23, a11 * a33 - a13 * a13, a11 * a22 - a12 * a12
    c12, c13, c23 = a13 * a23 - a12 * a33, a12 * a23 - a22 * a13, a12 * a13 - a11 * a23
    det = a11 * c11 + a12 * c12 + a13 * c13
    coefficient = (c13 * r1 + c23 * r2 + c33 * r3) / det
    quad = c11 * r1 * r1 + c22 * r2 * r2 + c33 * r3 * r3 + 2 * (c12 * r1 * r2 + c13 * r1 * r3 + c23 * r2 * r3)
    return pl.when((det.abs() > 1e-9) & (coefficient > 0)).then(quad / det).alias(name)


def _detected(over: pl.LazyFrame, s: AnomalySettings) -> pl.LazyFrame:
    """First flagged day on which the incident so far (from its first flag or its start, the later) passes
    both floors."""
    excess = pl.col("cost_f") - pl.col("expected")
    cum_excess = excess.cum_sum().over("sid", "inc", order_by="idx")
    cum_expected = pl.col("expected").cum_sum().over("sid", "inc", order_by="idx")
    n = (pl.col("idx") - pl.max_horizontal("first", "start_idx") + 1).cast(pl.Float64)
    passes = (
        pl.col("flag") & (cum_excess / n >= pl.col("offset")) & (cum_excess >= s.min_relative_change * cum_expected)
    )
    return over.filter(passes).group_by("sid", "inc").agg(detected_idx=pl.col("idx").min())


def _fresh(scored: pl.LazyFrame, s: AnomalySettings, end_idx: int) -> pl.LazyFrame:
    """new_spend incidents: the window of a series that starts costing after a quiet spell."""
    idx, cost = pl.col("idx"), pl.col("cost_f")
    window = scored.filter(pl.col("in_new")).select("sid", "idx", "cost", "cost_f", "offset", inc="seg_start")
    n = (idx - pl.col("inc") + 1).cast(pl.Float64)
    passes = (cost > 0) & (cost.cum_sum().over("sid", "inc", order_by="idx") / n >= pl.col("offset"))
    last_cost = pl.when(cost > 0).then(idx).max()
    return (
        window.with_columns(passes=passes)
        .group_by("sid", "inc")
        .agg(
            last_idx=last_cost,
            window_end=idx.max(),
            detected_idx=pl.when(pl.col("passes")).then(idx).min(),
            actual=pl.col("cost").sum(),
            flagged_days=(cost > 0).sum().cast(pl.UInt32),
        )
        .with_columns(
            kind=pl.lit("new_spend"),
            first=pl.col("inc"),
            start_idx=pl.col("inc"),
            expected_f=pl.lit(0.0),
            skipped=pl.lit([], pl.List(pl.Int32)),
            active=(pl.col("window_end") >= end_idx) & (pl.col("last_idx") >= end_idx - _GAP),
        )
        .select(INCIDENT_COLUMNS)
    )
