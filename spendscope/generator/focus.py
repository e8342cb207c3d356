"""Building FOCUS 1.2 Arrow tables from generated lines, and writing them as Parquet parts.

The output schema is derived from ``spendscope.focus`` (all 57 FOCUS 1.2 columns in spec order,
then ``x_ResourceGroupName`` and ``x_UsageType``), so the generator cannot drift from the
warehouse's column model. Decimal columns are built straight from integer micro-units (no float
on the way), which keeps every written amount exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from spendscope.focus import COLUMNS_BY_NAME, FOCUS_1_2_COLUMNS
from spendscope.generator.names import ATTR_COLUMNS, Attr

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]
DECIMAL: Final = pa.decimal128(38, 12)
TIMESTAMP: Final = pa.timestamp("us", tz="UTC")
EXTENSION_COLUMNS: Final = ("x_ResourceGroupName", "x_UsageType")
ROWS_PER_PART: Final = 2_000_000
"""A provider's month is split into ``part-NNNNN.parquet`` files of at most this many rows."""


def _arrow_type(name: str) -> pa.DataType:
    kind = COLUMNS_BY_NAME[name].type
    return DECIMAL if kind == "decimal" else TIMESTAMP if kind == "timestamp" else pa.string()


SCHEMA: Final = pa.schema(
    [pa.field(n, _arrow_type(n)) for n in FOCUS_1_2_COLUMNS] + [pa.field(n, pa.string()) for n in EXTENSION_COLUMNS]
)


@dataclass
class Lines:
    """Rows to write: per-row numbers plus an index into per-attribute-row strings and unit prices.

    Money is in 1e-12 units; quantities and unit prices in 1e-6 units (see ``rows.py``). A
    ``*_valid`` mask of None means no nulls.
    """

    attrs: list[Attr]
    unit_list: I64
    unit_contracted: I64
    unit_valid: BOOL
    attr: I64
    start_us: I64
    end_us: I64
    billed: I64
    effective: I64
    list_cost: I64
    contracted: I64
    quantity: I64
    quantity_valid: BOOL | None
    consumed: I64
    consumed_valid: BOOL | None
    commit_quantity: I64
    commit_valid: BOOL

    def __len__(self) -> int:
        return len(self.attr)


def decimal_array(units: I64, scale: int, valid: BOOL | None = None) -> pa.Array:
    """DECIMAL(38, 12) from integer units of 10**-scale (two's complement, 128-bit little endian)."""
    n = len(units)
    buf = np.empty((n, 2), dtype=np.int64)
    buf[:, 0] = units
    buf[:, 1] = units >> 63
    validity, nulls = None, 0
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = n - int(valid.sum())
    arr = pa.Array.from_buffers(pa.decimal128(38, scale), n, [validity, pa.py_buffer(buf)], null_count=nulls)
    return arr if scale == 12 else arr.cast(DECIMAL)


def timestamp_array(us: I64) -> pa.Array:
    data = np.ascontiguousarray(us, dtype=np.int64)
    return pa.Array.from_buffers(TIMESTAMP, len(data), [None, pa.py_buffer(data)])


def build_table(lines: Lines, period_start_us: int, period_end_us: int) -> pa.Table:
    """The FOCUS table of ``lines`` for one billing period, columns in ``SCHEMA`` order."""
    n = len(lines)
    strings = pa.table({col: pa.array([a[col] for a in lines.attrs], pa.string()) for col in ATTR_COLUMNS})
    taken = strings.take(pa.array(lines.attr))
    price_valid = lines.unit_valid[lines.attr]
    list_price = decimal_array(lines.unit_list[lines.attr], 6, price_valid)
    contracted_price = decimal_array(lines.unit_contracted[lines.attr], 6, price_valid)
    effective = decimal_array(lines.effective, 12)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {name: taken.column(name) for name in ATTR_COLUMNS}
    cols.update(
        BillingPeriodStart=timestamp_array(np.full(n, period_start_us, dtype=np.int64)),
        BillingPeriodEnd=timestamp_array(np.full(n, period_end_us, dtype=np.int64)),
        ChargePeriodStart=timestamp_array(lines.start_us),
        ChargePeriodEnd=timestamp_array(lines.end_us),
        BilledCost=decimal_array(lines.billed, 12),
        EffectiveCost=effective,
        ListCost=decimal_array(lines.list_cost, 12),
        ContractedCost=decimal_array(lines.contracted, 12),
        ListUnitPrice=list_price,
        ContractedUnitPrice=contracted_price,
        PricingCurrencyListUnitPrice=list_price,
        PricingCurrencyContractedUnitPrice=contracted_price,
        PricingCurrencyEffectiveCost=effective,
        PricingQuantity=decimal_array(lines.quantity, 6, lines.quantity_valid),
        ConsumedQuantity=decimal_array(lines.consumed, 6, lines.consumed_valid),
        CommitmentDiscountQuantity=decimal_array(lines.commit_quantity, 6, lines.commit_valid),
    )
    return pa.Table.from_arrays([cols[f.name] for f in SCHEMA], schema=SCHEMA)


class PartWriter:
    """Appends tables to ``folder/part-NNNNN.parquet``, one row group per table, rolling over at
    ``ROWS_PER_PART`` rows so no single file grows without bound."""

    def __init__(self, folder: Path, rows_per_part: int = ROWS_PER_PART) -> None:
        self.folder = folder
        self.rows_per_part = rows_per_part
        self.files: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows = 0

    def write(self, table: pa.Table) -> None:
        if self._writer is not None and self._rows + table.num_rows > self.rows_per_part:
            self._close_part()
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"part-{len(self.files):05d}.parquet"
            self._writer = pq.ParquetWriter(path, SCHEMA, compression="zstd")
            self.files.append(path)
        self._writer.write_table(table)
        self._rows += table.num_rows

    def _close_part(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._writer, self._rows = None, 0

    def close(self) -> list[Path]:
        self._close_part()
        return self.files
