"""The statsforecast edge of the month-end forecast: one daily series in (numpy), a forecast out.

statsforecast is imported here only, lazily (it compiles with numba on first import, seconds), and
only its per-model numpy API is used (``Model().forecast(y=..., h=..., level=..., fitted=True)``),
so no pandas frame crosses into spendscope. Models, by ``ModelName``:

- ``mstl``: MSTL(season_length=7, trend_forecaster=AutoETS(model="ZZN")): a weekly seasonal
  component by STL, the rest by exponential smoothing with automatic error and trend selection;
- ``autoets``: AutoETS(season_length=7): ETS with automatic error / trend / seasonal selection.

With fewer than ``MIN_SEASONAL_DAYS`` days neither can be fitted (two weekly cycles are needed):
``HistoricAverage`` (mean and normal interval of the days seen) is used and the model name says why.
A weekly model that fails numerically (statsforecast raises, or numpy warns of a division by zero or
an invalid value while it optimises) falls back the same way, named with the reason. A constant
series (no variation: e.g. a fixed fee, or no cost at all) forecasts itself with a zero-width interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "LEVELS",
    "MAX_WIDENING",
    "MIN_SEASONAL_DAYS",
    "SEASON_LENGTH",
    "ModelName",
    "SeriesFit",
    "fit_series",
    "widening",
]

ModelName = Literal["mstl", "autoets"]
SEASON_LENGTH = 7
MIN_SEASONAL_DAYS = 2 * SEASON_LENGTH
LEVELS = (80, 95)

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SeriesFit:
    """A fitted series: in-sample ``fitted`` (len(y)) and ``horizon`` days of mean and bounds."""

    model: str
    fitted: Floats
    mean: Floats
    lo80: Floats
    hi80: Floats
    lo95: Floats
    hi95: Floats


def fit_series(y: Floats, horizon: int, *, model: ModelName = "mstl") -> SeriesFit:
    """Forecast ``horizon`` days after the daily series ``y`` (oldest first, no gaps, len ≥ 1)."""
    if len(y) == 0:
        raise ValueError("fit_series needs at least one day of history")
    if horizon == 0:
        empty = np.zeros(0)
        return SeriesFit("none (period complete)", y.astype(np.float64), empty, empty, empty, empty, empty)
    if np.ptp(y) == 0:
        flat = np.full(horizon, float(y[0]))
        return SeriesFit("constant", y.astype(np.float64), flat, flat, flat, flat, flat)
    if len(y) < MIN_SEASONAL_DAYS:
        return _historic_average(y, horizon, f"HistoricAverage (history {len(y)} d < {MIN_SEASONAL_DAYS} d)")
    from statsforecast.models import MSTL, AutoETS

    chosen = (
        MSTL(season_length=SEASON_LENGTH, trend_forecaster=AutoETS(model="ZZN"))
        if model == "mstl"
        else AutoETS(season_length=SEASON_LENGTH)
    )
    name = "MSTL(7, AutoETS ZZN)" if model == "mstl" else "AutoETS(7)"
    try:
        # Raise numpy's numeric warnings (division by zero, invalid value) only around this call, so
        # a degenerate optimisation falls back to the simple model instead of forecasting NaN/inf.
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            out = chosen.forecast(y=y, h=horizon, level=list(LEVELS), fitted=True)
    except (RuntimeWarning, ValueError, NotImplementedError, ZeroDivisionError, np.linalg.LinAlgError) as exc:
        reason = str(exc).splitlines()[0][:60] if str(exc) else type(exc).__name__
        return _historic_average(y, horizon, f"HistoricAverage ({name} failed: {reason})")
    fit = _from_statsforecast(name, out)
    if not all(np.isfinite(a).all() for a in (fit.mean, fit.lo95, fit.hi95)):
        return _historic_average(y, horizon, f"HistoricAverage ({name} forecast not finite)")
    return fit


MAX_WIDENING = 10.0


def widening(raw: Floats, clean: Floats, fitted: Floats) -> float:
    """RMS of the in-sample errors against the raw series over that against the cleaned one (≥ 1).

    The model is fitted without the spikes ``forecast_series.clean_outliers`` removed, but future months have
    spikes too: its interval is widened by this factor (at most MAX_WIDENING) so they still count.
    """
    clean_rms = float(np.sqrt(np.mean((clean - fitted) ** 2)))
    raw_rms = float(np.sqrt(np.mean((raw - fitted) ** 2)))
    if clean_rms == 0.0:
        return 1.0
    return min(max(raw_rms / clean_rms, 1.0), MAX_WIDENING)


def _historic_average(y: Floats, horizon: int, name: str) -> SeriesFit:
    from statsforecast.models import HistoricAverage

    out = HistoricAverage().forecast(y=y, h=horizon, level=list(LEVELS), fitted=True)
    return _from_statsforecast(name, out)


def _from_statsforecast(name: str, out: dict[str, Floats]) -> SeriesFit:
    fitted = np.asarray(out["fitted"], dtype=np.float64)
    return SeriesFit(
        model=name,
        fitted=fitted,
        mean=np.asarray(out["mean"], dtype=np.float64),
        lo80=np.asarray(out["lo-80"], dtype=np.float64),
        hi80=np.asarray(out["hi-80"], dtype=np.float64),
        lo95=np.asarray(out["lo-95"], dtype=np.float64),
        hi95=np.asarray(out["hi-95"], dtype=np.float64),
    )
