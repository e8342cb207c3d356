"""The benchmark suite: every speed and memory target of the project, with baselines measured in the same run.

    python -m bench.suite [--rows 10000000] [--small 1000000] [--skip-converter]

Data (generated once, deterministic seed, cached in bench/data/suite-<rows>/): a multi-cloud bill whose AWS
share is about --rows line items, written as CUR 2.0 Parquet and legacy CUR (CSV.gz), and the AWS FOCUS
month as CSV.gz. Each step runs in a fresh child process; wall time and peak RSS are measured from
outside (bench.__main__.measure). Ratios are against baselines run in this same run on the same files:

- raw DuckDB: ``CREATE TABLE AS SELECT * FROM read_parquet(...)`` of the CUR 2.0 files into a database file
  (the physical-limit proxy for an ingest);
- pandas: ``read_parquet`` + ``groupby`` for cost per account/service/day (the script users write today),
  whose totals are also compared with spendscope's, to the cent;
- the FinOps Foundation's focus-converter 1.0.0 (own virtualenv: it pins polars 0.20 and pyarrow < 15) on
  the same month as legacy CUR Parquet, at the small size only (it needs ~2.5 GB per million rows).

Then the other targets, each printed by its own benchmark: full analysis of 10 M rows (bench.analysis),
report render (bench.report), /metrics scrape with 10 k series (bench.metrics), API group-by (bench.api).
Results are written to bench/results/<date>-suite-<rows>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.__main__ import HERE, _cpus, measure

CONVERTER_VENV = HERE.parent / ".venv-focus-converter"
CONVERTER_PINS = ["focus-converter==1.0.0", "multimethod<2", "click<8.2"]
# Columns focus-converter's aws-cur plan reads that the generator's legacy CUR does not carry.
CONVERTER_MISSING = {
    "pricing/RateCode": "VARCHAR",
    "pricing/RateId": "VARCHAR",
    "reservation/TotalReservedUnits": "DOUBLE",
}

PANDAS = textwrap.dedent(
    """
    import sys, pandas as pd, pyarrow.compute as pc, pyarrow.parquet as pq
    cols = ["line_item_usage_account_id", "product", "line_item_product_code",
            "line_item_usage_start_date", "line_item_unblended_cost", "line_item_currency_code"]
    parts = []
    for f in sys.argv[2:]:
        t = pq.read_table(f, columns=cols)
        name = pc.map_lookup(t["product"], "product_name", "first")  # CUR 2.0 keeps it in the product map
        parts.append(t.drop(["product"]).append_column("product_name", name).to_pandas())
    frame = pd.concat(parts)
    frame["service"] = frame["product_name"].where(frame["product_name"].fillna("") != "",
                                                   frame["line_item_product_code"])
    frame["day"] = pd.to_datetime(frame["line_item_usage_start_date"], utc=True).dt.date.astype(str)
    out = frame.groupby(["line_item_usage_account_id", "service", "day", "line_item_currency_code"],
                        as_index=False)["line_item_unblended_cost"].sum()
    out.to_parquet(sys.argv[1])
    """
)


def _run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def prepare(rows: int, *, restated: bool) -> Path:
    """Generate (once) a bill with ~rows AWS line items as CUR 2.0 + legacy CUR; optionally a restated copy."""
    from spendscope.generator import generate
    from spendscope.generator.cur import write_cur

    data = HERE / "data" / f"suite-{rows}"
    if not (data / "cur" / "done").exists():
        shutil.rmtree(data, ignore_errors=True)
        print(f"generating {3 * rows:,} rows (AWS about {rows:,}) into {data} ...", flush=True)
        generate(data / "bill", rows=3 * rows, seed=42, month="2026-10")
        write_cur(data / "bill" / "focus" / "aws", data / "cur")
        (data / "cur" / "done").touch()
    if restated and not (data / "cur-restated" / "done").exists():
        shutil.rmtree(data / "cur-restated", ignore_errors=True)
        write_cur(data / "bill" / "focus" / "aws", data / "cur-restated", restate="2026-10")
        (data / "cur-restated" / "done").touch()
    return data


def focus_csv_gz(data: Path) -> Path:
    """The AWS FOCUS month as one gzip CSV (prepared once; not timed)."""
    import duckdb

    out = data / "focus-csv" / "aws-2026-10.csv.gz"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        files = sorted(str(p) for p in (data / "bill" / "focus" / "aws").rglob("*.parquet"))
        duckdb.execute(
            f"COPY (SELECT * FROM read_parquet($f)) TO '{out}' (FORMAT csv, HEADER, COMPRESSION gzip)", {"f": files}
        )
    return out


def legacy_parquet(data: Path) -> Path:
    """The legacy CUR deliveries as one typed Parquet file with the columns focus-converter requires."""
    import duckdb

    out = data / "legacy-parquet" / "cur.parquet"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        files = sorted(str(p) for p in (data / "cur" / "legacy").rglob("*.csv.gz"))
        extra = ", ".join(f'NULL::{t} AS "{c}"' for c, t in CONVERTER_MISSING.items())
        duckdb.execute(
            f"COPY (SELECT *, {extra} FROM read_csv($f, sample_size=-1, union_by_name=true)) "
            f"TO '{out}' (FORMAT parquet)",
            {"f": files},
        )
    return out


def converter() -> Path | None:
    """focus-converter in its own virtualenv (installed once from PyPI); None when it cannot be installed."""
    exe = CONVERTER_VENV / "bin" / "focus-converter"
    if exe.exists():
        return exe
    try:
        _run([sys.executable, "-m", "venv", str(CONVERTER_VENV)])
        _run(
            [
                str(CONVERTER_VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *CONVERTER_PINS,
            ]
        )
    except subprocess.CalledProcessError:
        print("focus-converter could not be installed (no PyPI?): its baseline is skipped", flush=True)
        return None
    return exe


def parquet_rows(files: list[str]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def check_totals(warehouse: Path, pandas_out: Path) -> tuple[int, int]:
    """(groups, groups that differ by a cent or more): spendscope's BilledCost per account/service/day
    against pandas' unblended cost (Σ BilledCost = Σ unblended cost is the documented mapping)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        got = {
            (a, s, d, c): Decimal(v)
            for a, s, d, c, v in conn.execute(
                "SELECT SubAccountId, ServiceName, strftime(timezone('UTC', ChargePeriodStart), '%Y-%m-%d'), "
                "BillingCurrency, sum(BilledCost) FROM billing GROUP BY ALL"
            ).fetchall()
        }
    import pandas as pd

    expected = pd.read_parquet(pandas_out)
    bad = 0
    keys = set(got)
    for row in expected.itertuples(index=False):
        key = (str(row[0]), str(row[1]), str(row[2]), str(row[3]))
        keys.discard(key)
        if abs(got.get(key, Decimal(0)) - Decimal(str(row[4]))) >= Decimal("0.01"):
            bad += 1
    bad += sum(1 for k in keys if abs(got[k]) >= Decimal("0.01"))
    return len(expected), bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="AWS line items at the large size")
    parser.add_argument("--small", type=int, default=1_000_000, help="AWS line items at the small size")
    parser.add_argument("--skip-converter", action="store_true")
    parser.add_argument("--skip-others", action="store_true", help="only the ingest steps")
    args = parser.parse_args()

    results: list[dict[str, object]] = []

    def record(step: str, secs: float, rss: float, rows: int | None = None, base: float | None = None) -> None:
        results.append(
            {
                "step": step,
                "seconds": round(secs, 2),
                "peak_rss_mib": round(rss),
                "rows_per_s": round(rows / secs) if rows else None,
                "ratio_to_baseline": round(secs / base, 2) if base else None,
            }
        )
        ratio = f"{secs / base:6.2f}x" if base else ""
        rps = f"{rows / secs:>12,.0f}" if rows else " " * 12
        print(f"{step:66} {secs:8.1f} s {rps} rows/s {rss:7.0f} MiB {ratio}", flush=True)

    spendscope = [sys.executable, "-m", "spendscope.cli"]
    work = HERE / "data" / "suite-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ingest_secs: dict[int, float] = {}
    for size in (args.small, args.rows):
        small = size == args.small
        data = prepare(size, restated=small)
        cur2 = sorted(str(p) for p in (data / "cur" / "cur2").rglob("*.parquet"))
        n = parquet_rows(cur2)
        print(f"\n== {n:,} CUR 2.0 line items ({len(cur2)} files) ==", flush=True)
        copy = (
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE t AS SELECT * FROM read_parquet($f)', {'f': sys.argv[2:]})"
        )
        base, rss = measure([sys.executable, "-c", copy, str(work / f"raw-{size}.duckdb"), *cur2])
        record("baseline: raw DuckDB CTAS of the CUR 2.0 files", base, rss, n)
        pandas_out = work / f"pandas-{size}.parquet"
        secs, rss = measure([sys.executable, "-c", PANDAS, str(pandas_out), *cur2])
        record("baseline: pandas read_parquet + groupby account/service/day", secs, rss, n, base)
        wh = work / f"wh-{size}.duckdb"
        root = data / "cur" / "cur2"
        ingest = [*spendscope, "--warehouse", str(wh), "ingest", "aws", str(root)]
        secs, rss = measure(ingest)
        ingest_secs[size] = secs
        record("spendscope ingest aws: CUR 2.0 -> FOCUS warehouse", secs, rss, n, base)
        groups, bad = check_totals(wh, pandas_out)
        print(f"  correctness: {groups:,} account/service/day totals vs pandas, {bad} differ by a cent or more")
        results.append({"step": f"correctness at {size}", "groups": groups, "differing": bad})
        secs, rss = measure(ingest)
        record("spendscope re-ingest of the unchanged month", secs, rss)
        if small:
            restated = [*spendscope, "--warehouse", str(wh), "ingest", "aws", str(data / "cur-restated" / "cur2")]
            secs, rss = measure(restated)
            record("spendscope ingest of a restated month (replaces it)", secs, rss, n, base)
            exe = None if args.skip_converter else converter()
            if exe is not None:
                src = legacy_parquet(data)
                out = work / "converter-out"
                cmd = [str(exe), "convert", "--provider", "aws-cur", "--data-format", "parquet"]
                cmd += ["--parquet-data-format", "file", "--data-path", str(src), "--export-path", str(out)]
                secs, rss = measure(cmd)
                record(
                    "baseline: focus-converter 1.0.0 (legacy CUR Parquet)", secs, rss, parquet_rows([str(src)]), base
                )
        else:
            csv_gz = focus_csv_gz(data)
            secs, rss = measure(
                [*spendscope, "--warehouse", str(work / "focus-csv.duckdb"), "ingest", "focus", str(csv_gz)]
            )
            record("spendscope ingest focus: the AWS FOCUS month as CSV.gz", secs, rss, n)
        for f in work.glob(f"raw-{size}.duckdb*"):
            f.unlink()
    if args.small in ingest_secs and args.rows in ingest_secs:
        growth = ingest_secs[args.rows] / ingest_secs[args.small]
        print(f"\ningest time grows {growth:.1f}x for {args.rows // args.small}x the rows (target: at most 11x)")
        results.append({"step": "ingest scaling", "ratio": round(growth, 2)})

    if not args.skip_others:
        for module in ("bench.analysis", "bench.report", "bench.metrics", "bench.api"):
            if not (HERE / f"{module.split('.')[1]}.py").exists():
                print(f"\n== {module}: not present ==")
                continue
            print(f"\n== {module} ==", flush=True)
            proc = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, env=os.environ)
            print(proc.stdout[-3000:] or proc.stderr[-3000:])
            results.append({"step": module, "output": proc.stdout[-3000:], "returncode": proc.returncode})

    out = HERE / "results" / f"{datetime.now(UTC):%Y-%m-%d}-suite-{args.rows}.json"
    meta = {"machine": platform.machine(), "cores": _cpus(), "python": platform.python_version()}
    out.write_text(json.dumps({**meta, "results": results}, indent=1, default=str) + "\n")
    print(f"\nwritten to {out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
