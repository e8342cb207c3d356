"""``spendscope generate``: a realistic, deterministic multi-cloud FOCUS 1.2 bill with known anomalies.

One company on AWS (USD), Azure (EUR) and Google Cloud (USD): accounts, teams and apps, hourly
compute and daily storage with weekly and daily seasonality, commitments with used and unused
hours, credits, tax and support, tag-hygiene faults, and per month one spike, one leak, one level
shift and one new service, all recorded in ``ground_truth.json`` for checking the analysis.

Layout written under ``out_dir``::

    focus/{aws,azure,gcp}/YYYY-MM/part-00000.parquet   FOCUS 1.2 (57 columns) + x_ResourceGroupName, x_UsageType
    transactions/YYYY-MM.csv                           service,timestamp,count (requests per app per hour)
    ground_truth.json                                  totals per currency, untagged share, anomalies

The same arguments always write the same data. Memory stays bounded at any ``rows``: the world
is a few numpy arrays and rows are generated and written in chunks of about ``CHUNK_ROWS``.
Re-running into the same directory replaces the part files of the months it writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spendscope.errors import ConfigError
from spendscope.generator.anomalies import plan, plan_new_spend
from spendscope.generator.calibrate import calibrate
from spendscope.generator.entries import PROVIDERS, rows_in_month
from spendscope.generator.focus import Lines, PartWriter, build_table
from spendscope.generator.names import usage_attrs
from spendscope.generator.rows import UsageRows, usage_rows
from spendscope.generator.shapes import demand, make_calendar
from spendscope.generator.special import special_lines
from spendscope.generator.transactions import write_transactions
from spendscope.generator.truth import Truth
from spendscope.generator.world import MIN_ROWS_PER_MONTH, World, build_world

__all__ = ["CHUNK_ROWS", "GenerateResult", "generate"]

CHUNK_ROWS = 100_000
"""Rows generated and written per step; bounds peak memory independently of ``rows``."""


@dataclass(frozen=True)
class GenerateResult:
    files: list[Path]
    """Billing files written (Parquet, FOCUS 1.2), by provider then month."""
    transactions_files: list[Path]
    ground_truth: Path
    rows: int
    """Billing rows written over all files (within about ±10 % of the requested ``rows``)."""
    periods: list[str]
    """Billing periods written, "YYYY-MM", oldest first."""


def generate(
    out_dir: Path,
    *,
    rows: int = 100_000,
    seed: int = 42,
    month: str = "2026-10",
    months: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> GenerateResult:
    """Write ``months`` consecutive billing months starting at ``month``, about ``rows`` rows in total.

    ``progress(done_rows, total_rows)`` is called after each chunk; ``total_rows`` is the planned
    count and the last call reports the exact count as both values. Raises ``ConfigError`` for an
    invalid month, or for fewer rows than the fixed core of the bill needs (about 1,500 to 2,500 a
    month: commitment coverage, the month's new service, month-end rows).
    """
    try:
        cal = make_calendar(month, months) if months >= 1 else None
    except ValueError as exc:
        raise ConfigError(str(exc), source="generate --month") from exc
    if cal is None:
        raise ConfigError(f"months must be at least 1, got {months}", source="generate --months")
    if rows < MIN_ROWS_PER_MONTH * months:
        raise ConfigError(
            f"rows must be at least {MIN_ROWS_PER_MONTH:,} per month ({MIN_ROWS_PER_MONTH * months:,} "
            f"for {months} months), got {rows:,}",
            source="generate --rows",
        )
    out_dir = Path(out_dir)
    new_spend = plan_new_spend(seed, cal)
    world = build_world(seed, cal, rows, new_spend)
    if world.expected_rows > 1.1 * rows:
        raise ConfigError(
            f"rows={rows:,} is too few for {months} month(s): the fixed part of the bill (commitments, "
            f"new services, month-end rows) alone has {sum(world.core_rows):,} rows; use at least "
            f"about {-(-sum(world.core_rows) * 10 // 9):,}",
            source="generate --rows",
        )
    anomalies = plan(world, new_spend)
    calibrate(world, anomalies)
    truth = Truth(world, rows, month)
    total, done = world.expected_rows, 0
    files: list[Path] = []
    transactions: list[Path] = []
    provider = world.entries.cols["provider"]
    for m in cal.months:
        dem = demand(cal, m, seed)
        transactions.append(write_transactions(out_dir, m, dem, seed))
        for p, prov in enumerate(PROVIDERS):
            folder = out_dir / "focus" / prov.key / m.period
            for stale in sorted(folder.glob("part-*.parquet")):
                stale.unlink()
            writer = PartWriter(folder)
            stats = truth.period(p, m.index)
            for i, chunk in enumerate(_chunks(world, p, m.index, provider)):
                rng = np.random.default_rng([seed, 71, m.index, p, i])
                lines = _usage_lines(
                    world,
                    usage_rows(world, m, chunk, dem, anomalies, rng),
                    usage_attrs(world, p, m.period, chunk),
                    chunk,
                )
                writer.write(build_table(lines, m.start_us, m.end_us))
                stats.add(lines)
                done += len(lines)
                if progress is not None:
                    progress(done, max(total, done))
            extra, commitment = special_lines(world, p, m, stats.pairs)
            if len(extra):
                writer.write(build_table(extra, m.start_us, m.end_us))
                stats.add(extra)
                done += len(extra)
            if commitment:
                truth.commitments.append(commitment)
            stats.files = writer.close()
            files += stats.files
    if progress is not None:
        progress(done, done)
    ground_truth = truth.write(out_dir, anomalies, transactions)
    return GenerateResult(files, transactions, ground_truth, done, [m.period for m in cal.months])


def _chunks(world: World, p: int, month: int, provider: npt.NDArray[np.int8]) -> list[npt.NDArray[np.int64]]:
    """The provider's entries with rows this month, split so each chunk has about CHUNK_ROWS rows."""
    idx = np.flatnonzero(provider == p).astype(np.int64)
    n = rows_in_month(world.cal, world.entries, idx, month)
    idx, n = idx[n > 0], n[n > 0]
    if not len(idx):
        return []
    chunk_of = (np.cumsum(n) - n) // CHUNK_ROWS
    bounds = np.flatnonzero(np.diff(chunk_of)) + 1
    return list(np.split(idx, bounds))


def _usage_lines(
    world: World, ur: UsageRows, attrs: list[dict[str, str | None]], chunk: npt.NDArray[np.int64]
) -> Lines:
    c = world.entries.cols
    n = len(chunk)
    return Lines(
        attrs=attrs,
        unit_list=c["list_u"][chunk],
        unit_contracted=c["contracted_u"][chunk],
        unit_valid=np.ones(n, dtype=bool),
        attr=ur.attr,
        start_us=ur.start_us,
        end_us=ur.end_us,
        billed=ur.billed_cost,
        effective=ur.effective_cost,
        list_cost=ur.list_cost,
        contracted=ur.contracted_cost,
        quantity=ur.quantity,
        quantity_valid=None,
        consumed=ur.consumed,
        consumed_valid=None,
        commit_quantity=ur.quantity,
        commit_valid=ur.covered[ur.attr],
    )
