"""transactions/YYYY-MM.csv: requests per hour per application service, for cost-per-unit analysis.

Counts follow the same demand curve as the app's metered usage (``shapes.demand``), with 1 %
independent noise, so cost per request is roughly stable while both vary by hour and weekday.
Timestamps are hour starts in ISO 8601 UTC (``Z``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spendscope.generator.catalogue import APPS
from spendscope.generator.shapes import Month


def write_transactions(out_dir: Path, month: Month, demand: npt.NDArray[np.float64], seed: int) -> Path:
    rng = np.random.default_rng([seed, 81, month.index])
    start = datetime.fromtimestamp(month.start_us / 1e6, tz=UTC)
    stamps = [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in range(month.hours)]
    rate = np.array([a.requests_per_hour for a in APPS])[:, None]
    counts = np.rint(rate * demand[0::2] * rng.lognormal(0.0, 0.01, (len(APPS), month.hours))).astype(np.int64)
    lines = ["service,timestamp,count"]
    for i, app in enumerate(APPS):
        lines += [f"{app.name},{ts},{n}" for ts, n in zip(stamps, counts[i].tolist(), strict=True)]
    path = out_dir / "transactions" / f"{month.period}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
