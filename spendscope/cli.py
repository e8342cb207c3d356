"""The spendscope command line. Exit codes: 0 success, 1 bad input or failed check, 2 usage error.

Only this module draws (rich tables, progress bars); library code reports progress by callback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from spendscope import __version__
from spendscope.config import Settings, load_settings, redacted
from spendscope.errors import SpendscopeError
from spendscope.warehouse.db import WarehouseSettings, open_warehouse
from spendscope.warehouse.load import LoadResult

P = ParamSpec("P")
R = TypeVar("R")

out = Console()
err = Console(stderr=True)

app = typer.Typer(
    help="spendscope: cloud bills in one FOCUS warehouse (DuckDB), analysed and exported.\n\n"
    "Start with `spendscope demo`, then explore the warehouse it builds with `spendscope costs`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
ingest_app = typer.Typer(help="Load billing exports into the warehouse (idempotent; restatements replace).")
export_app = typer.Typer(help="Write warehouse data out in standard formats.")
config_app = typer.Typer(help="Inspect the configuration.")
inventory_app = typer.Typer(help="Record cloud resources (disks, IPs, snapshots, load balancers, instances).")
app.add_typer(ingest_app, name="ingest")
app.add_typer(export_app, name="export")
app.add_typer(config_app, name="config")
app.add_typer(inventory_app, name="inventory")


@dataclass
class State:
    config_file: Path | None = None
    warehouse: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file, warehouse=self.warehouse)
        return self._settings

    def connect(self) -> duckdb.DuckDBPyConnection:
        s = self.settings
        limits = WarehouseSettings(s.duckdb.memory_limit, s.duckdb.threads, s.duckdb.temp_directory)
        return open_warehouse(s.warehouse, settings=limits)


state = State()


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """SpendscopeError → one line on stderr, exit 1 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SpendscopeError as exc:
            err.print(f"[red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        out.print(f"spendscope {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    warehouse: Annotated[
        Path | None,
        typer.Option(
            help="DuckDB warehouse file (default: from config, env SPENDSCOPE_WAREHOUSE, or ./spendscope.duckdb)"
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (default: ./spendscope.toml if present)")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log what happens (key=value lines on stderr)")
    ] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")] = False,
) -> None:
    state.config_file = config
    state.warehouse = warehouse
    state._settings = None
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


# ---------------------------------------------------------------- generate


@app.command()
@handle_errors
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="directory to write into")],
    rows: Annotated[int, typer.Option(min=1000, help="approximate billing rows over all months")] = 100_000,
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same bill")] = 42,
    month: Annotated[str, typer.Option(help="first billing month, YYYY-MM")] = "2026-10",
    months: Annotated[int, typer.Option(min=1, max=36, help="consecutive months to write")] = 1,
    formats: Annotated[
        str,
        typer.Option(
            help="also write native formats, comma-separated: 'cur' (AWS CUR 2.0 + legacy CUR with manifests), "
            "'azure' (Cost Management actual + amortized + FOCUS exports in the Blob layout), "
            "'gcp' (Cloud Billing export rows as JSONL and Parquet, with late rows)"
        ),
    ] = "",
    aws_endpoint_url: Annotated[
        str | None,
        typer.Option(
            help="seed this S3/EC2 emulator (e.g. moto) with the CUR deliveries and an inventory with orphans"
        ),
    ] = None,
) -> None:
    """Write a realistic, deterministic multi-cloud bill (AWS, Azure, GCP) as FOCUS 1.2 files.

    Also writes transactions (requests per service per hour) and ground_truth.json describing the
    injected anomalies. Memory stays bounded at any --rows.

    Example: `spendscope generate --out bill/ --rows 1000000 --months 3`
    """
    from spendscope.generator import generate as run

    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("generating", total=rows)
        result = run(
            out_dir,
            rows=rows,
            seed=seed,
            month=month,
            months=months,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    secs = time.perf_counter() - started
    out.print(
        f"wrote {result.rows:,} billing rows for {', '.join(result.periods)} in {len(result.files)} files "
        f"to {out_dir} in {secs:.1f}s ({result.rows / max(secs, 1e-9):,.0f} rows/s)"
    )
    out.print(f"ground truth: {result.ground_truth}")
    wanted = {f.strip() for f in formats.split(",") if f.strip()}
    known = {"cur", "azure", "gcp"}
    if wanted - known:
        raise typer.BadParameter(
            f"unknown format(s) {', '.join(sorted(wanted - known))}; known: {', '.join(sorted(known))}"
        )
    if "gcp" in wanted:
        from spendscope.generator.gcp_export import write_gcp_export

        # The same rows in two formats go to two folders, so ingesting one folder never counts twice.
        for month_dir in sorted((out_dir / "focus" / "gcp").iterdir()):
            gcp = write_gcp_export(month_dir, out_dir / "gcp-export" / ".staging" / month_dir.name)
            for kind, path in (("jsonl", gcp.jsonl), ("parquet", gcp.parquet)):
                target = out_dir / "gcp-export" / kind / month_dir.name / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
        shutil.rmtree(out_dir / "gcp-export" / ".staging", ignore_errors=True)
        out.print(f"GCP billing export (JSONL and Parquet copies) under {out_dir / 'gcp-export'}")
    if "azure" in wanted:
        from spendscope.generator.azure_exports import write_azure_exports

        azure = write_azure_exports(out_dir / "focus" / "azure", out_dir / "azure-exports")
        out.print(f"Azure exports ({', '.join(azure.exports.values())}) under {azure.root}/{azure.directory}")
    if "cur" in wanted or aws_endpoint_url:
        from spendscope.generator.cur import write_cur

        cur = write_cur(out_dir / "focus" / "aws", out_dir / "cur")
        out.print(f"AWS CUR 2.0 under {cur.cur2_root}, legacy CUR under {cur.legacy_root}")
        if aws_endpoint_url:
            from spendscope.generator.seed_aws import seed_aws

            seeded = seed_aws(cur, endpoint_url=aws_endpoint_url)
            orphans = sum(len(v) for v in seeded.orphans.values())
            out.print(
                f"seeded {aws_endpoint_url}: {len(seeded.keys)} objects in s3://{seeded.bucket}, {orphans} orphans"
            )


# ---------------------------------------------------------------- ingest


def _print_load(conn: duckdb.DuckDBPyConnection, result: LoadResult) -> None:
    if result.status == "unchanged":
        out.print(f"[green]unchanged[/]: {result.source} is already loaded from these files; nothing to do")
        return
    from spendscope import sql

    replaced = {
        u.billing_period_start.strftime("%Y-%m"): u.replaces
        for u in result.units
        if u.billing_period_start and u.replaces
    }
    table = Table(title=f"ingest {result.ingest_id}: {result.source}", title_justify="left")
    for col in ("period", "provider", "currency", "rows", "BilledCost", "EffectiveCost", "replaces"):
        table.add_column(col, justify="left" if col in ("period", "provider", "currency") else "right")
    summary = conn.execute(sql.load("ledger/provider_totals"), {"ingest_id": result.ingest_id}).fetchall()
    for period, provider, currency, n, billed, effective in summary:
        replaces = f"ingest {replaced[period]}" if period in replaced else ""
        table.add_row(period, provider, currency, f"{n:,}", _money(billed), _money(effective), replaces)
    if not summary:
        table.add_row("(no rows)", "", "", "0", "", "", "")
    out.print(table)
    out.print(f"{result.rows:,} rows in {result.seconds:.2f}s ({result.rows_per_second:,.0f} rows/s)")
    for path, dev in result.deviations.items():
        notes = [f"{k}={v}" for k, v in dev.items() if k not in _FILE_INFO]
        notes += [f"{k} ({n} rows)" for k, n in dict(dev.get("rows") or {}).items()]  # type: ignore[call-overload]
        if notes:
            err.print(
                f"[yellow]deviations[/] {path} (FOCUS {dev.get('focus_version')}): " + "; ".join(notes),
                highlight=False,
                soft_wrap=True,
            )


_FILE_INFO = {
    "format",
    "focus_version",
    "aws_format",
    "azure_format",
    "gcp_format",
    "export",
    "dataset",
    "run_id",
    "rows",
}
"""Keys of a file's deviation record that describe it rather than deviate (rows are printed apart)."""


def _money(value: Decimal | float) -> str:
    return f"{value:,.2f}"


def load_sources(sources: Sequence[Any], *, period: str | None = None) -> None:
    """Load each source into the warehouse, one load (transaction) per source."""
    conn = state.connect()
    try:
        for source in sources:
            run_ingest(conn, source, period=period)
    finally:
        conn.close()


def run_ingest(conn: duckdb.DuckDBPyConnection, source: Any, *, period: str | None = None) -> LoadResult:
    from spendscope.pipeline import ingest

    with progress_bar() as bar:
        task = bar.add_task(f"ingest {source.source[-40:]}", total=1.0)
        result = ingest(conn, source, period=period, progress=lambda f, frac: bar.update(task, completed=frac))
    _print_load(conn, result)
    return result


@ingest_app.command("focus")
@handle_errors
def ingest_focus(
    paths: Annotated[list[str], typer.Argument(help="FOCUS CSV/CSV.gz/Parquet files, directories or globs")],
    source: Annotated[str | None, typer.Option(help="ledger source name (default: the resolved path(s))")] = None,
) -> None:
    """Ingest FOCUS 1.0–1.3 files. All files given load together, as one transaction.

    Each (source, billing period) is a load unit: re-ingesting unchanged files does nothing; new
    files for a period already loaded replace it (a restatement). Bad input is refused with one
    line naming the file and column, and the warehouse is left as it was.

    Example: `spendscope ingest focus exports/aws/2026-10/ --source aws-focus`
    """
    from spendscope.collectors.focus import FocusFiles

    conn = state.connect()
    try:
        run_ingest(conn, FocusFiles(paths, source=source))
    finally:
        conn.close()


@ingest_app.command("aws")
@handle_errors
def ingest_aws(
    location: Annotated[str, typer.Argument(help="s3://bucket/prefix, or a local directory or file")],
    endpoint_url: Annotated[str | None, typer.Option(help="S3-compatible endpoint (e.g. a MinIO or moto URL)")] = None,
    period: Annotated[str | None, typer.Option(help="only this billing period, YYYY-MM")] = None,
) -> None:
    """Ingest AWS bills: CUR 2.0 (Data Exports), legacy CUR, or AWS's FOCUS exports; Parquet or CSV(.gz).

    Finds each report's manifests and reads only the latest delivery per billing period; the format
    is detected from the columns. Each report (bucket + prefix + name) is its own ledger source, so
    a newer delivery replaces its period atomically and an unchanged one (same ETags) is skipped
    without downloading. Credentials come from the normal boto3 chain (env, profile, role).

    Example: `spendscope ingest aws s3://billing-bucket/exports/ --period 2026-10`
    """
    from spendscope.collectors.aws.s3 import aws_sources

    load_sources(aws_sources(location, endpoint_url=endpoint_url, period=period), period=period)


@ingest_app.command("azure")
@handle_errors
def ingest_azure(
    location: Annotated[
        str,
        typer.Argument(
            help="az://container/path, https://ACCOUNT.blob.core.windows.net/container/path, a local directory, "
            "or a scope (/subscriptions/ID) to read the Cost Management Query API"
        ),
    ],
    period: Annotated[str | None, typer.Option(help="only this billing period, YYYY-MM")] = None,
) -> None:
    """Ingest Azure bills: Cost Management exports (EA or MCA actual + amortized CSV, Parquet, FOCUS)
    from Blob storage, or daily estimated cost from the Query API for a scope without exports.

    Actual and amortized exports of one scope are combined as Microsoft's FOCUS conversion documents
    (never double counted); a FOCUS export is preferred where one exists. The latest export run per
    billing period replaces the period; an unchanged run (same ETags) is skipped. The storage
    connection string comes from config/env (`SPENDSCOPE_AZURE__CONNECTION_STRING`), otherwise
    DefaultAzureCredential; it is never printed.

    Example: `spendscope ingest azure az://cost-exports/billingAccounts/86412957 --period 2026-10`
    """
    if location.startswith("/subscriptions/") or location.startswith("/providers/"):
        from azure.identity import DefaultAzureCredential

        from spendscope.collectors.azure.query import AzureCostQuery

        sources: list[Any] = [AzureCostQuery(location, credential=DefaultAzureCredential())]
    else:
        from spendscope.collectors.azure.exports import azure_sources

        secret = state.settings.azure.connection_string
        sources = list(
            azure_sources(location, period=period, connection_string=secret.get_secret_value() if secret else None)
        )
    load_sources(sources, period=period)


@ingest_app.command("gcp")
@handle_errors
def ingest_gcp(
    location: Annotated[
        str, typer.Argument(help="bq://project.dataset[.table], gs://bucket/prefix, or local JSONL/Parquet file(s)")
    ],
    period: Annotated[str | None, typer.Option(help="only this invoice month, YYYY-MM")] = None,
) -> None:
    """Ingest the Google Cloud Billing export: from BigQuery (incremental by export_time, late rows
    picked up, whole invoice months replaced), or copies in GCS / local files (Parquet or JSONL).

    Reads the detailed (resource) table or the standard one, never both. Credentials: Application
    Default Credentials.

    Example: `spendscope ingest gcp bq://billing-proj.billing_export --period 2026-10`
    """
    from spendscope.collectors.gcp.billing import gcp_sources
    from spendscope.warehouse.load import collector_state

    conn = state.connect()
    try:
        for source in gcp_sources(location, period=period, cursor=lambda name: collector_state(conn, name)):
            run_ingest(conn, source, period=period)
    finally:
        conn.close()


@ingest_app.command("sources")
@handle_errors
def ingest_sources(
    names: Annotated[list[str] | None, typer.Argument(help="configured source names (default: all)")] = None,
) -> None:
    """Ingest the sources declared in the config file ([[sources]] tables)."""
    from spendscope.pipeline import source_from_config

    settings = state.settings
    chosen = [settings.source(n) for n in names] if names else settings.sources
    if not chosen:
        raise SpendscopeError("no [[sources]] configured", source=str(state.config_file or "spendscope.toml"))
    conn = state.connect()
    try:
        for cfg in chosen:
            run_ingest(conn, source_from_config(cfg))
    finally:
        conn.close()


def _split(values: str | None) -> list[str]:
    """A comma-separated option as a list, blanks dropped."""
    return [v.strip() for v in (values or "").split(",") if v.strip()]


def record_inventory(label: str, collect: Callable[[datetime], Any], *, source: str) -> tuple[Any, int]:
    """Collect one observation (now, UTC) behind a progress bar and store it; return (table, rows)."""
    with progress_bar() as bar:
        bar.add_task(f"inventory {label}", total=None)
        table = collect(datetime.now(UTC))
    from spendscope.warehouse.inventory import load_inventory

    conn = state.connect()
    try:
        return table, load_inventory(conn, table, source=source)
    finally:
        conn.close()


@inventory_app.command("aws")
@handle_errors
def inventory_aws(
    regions: Annotated[str | None, typer.Option(help="comma-separated regions (default: the session's region)")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="endpoint for every AWS service (e.g. moto)")] = None,
    source: Annotated[str, typer.Option(help="inventory source name")] = "aws",
) -> None:
    """Record EBS volumes and snapshots, Elastic IPs, ELBv2 load balancers and EC2 instances, with tags.

    One observation per run (history is kept); what analysis needs to find orphans: attachment,
    state, whether a snapshot's volume still exists, registered targets, stop time.

    Example: `spendscope inventory aws --regions us-east-1,eu-west-1`
    """
    import boto3

    from spendscope.collectors.aws.inventory import collect_inventory

    chosen = _split(regions) or [boto3.Session().region_name or "us-east-1"]
    started = time.perf_counter()
    table, n = record_inventory(
        ", ".join(chosen),
        lambda now: collect_inventory(regions=chosen, endpoint_url=endpoint_url, observed_at=now),
        source=source,
    )
    counts = table.group_by(["region", "resource_type"]).aggregate([("resource_id", "count")]).to_pylist()
    summary = Table(
        title=f"inventory {source}: {n} resources in {time.perf_counter() - started:.1f}s", title_justify="left"
    )
    for col in ("region", "resource type", "count"):
        summary.add_column(col)
    for row in sorted(counts, key=lambda r: (r["region"], r["resource_type"])):
        summary.add_row(row["region"], row["resource_type"], str(row["resource_id_count"]))
    out.print(summary)


@inventory_app.command("azure")
@handle_errors
def inventory_azure(
    subscriptions: Annotated[
        str | None, typer.Option(help="comma-separated subscription ids (default: $AZURE_SUBSCRIPTION_ID)")
    ] = None,
    source: Annotated[str, typer.Option(help="inventory source name")] = "azure",
) -> None:
    """Record managed disks and snapshots, VMs (power state), public IPs and NICs, with tags.

    Credentials: azure-identity's DefaultAzureCredential (environment, managed identity, Azure CLI).

    Example: `spendscope inventory azure --subscriptions 00000000-0000-0000-0000-000000000000`
    """
    from azure.identity import DefaultAzureCredential

    from spendscope.collectors.azure.inventory import collect_azure_inventory

    credential = DefaultAzureCredential()
    subs = _split(subscriptions or os.environ.get("AZURE_SUBSCRIPTION_ID"))
    if not subs:
        raise typer.BadParameter("name the subscriptions (or set AZURE_SUBSCRIPTION_ID)", param_hint="--subscriptions")
    _, n = record_inventory(
        f"{len(subs)} subscription(s)",
        lambda now: collect_azure_inventory(subscriptions=subs, credential=credential, observed_at=now),
        source=source,
    )
    out.print(f"recorded {n} Azure resources in {len(subs)} subscription(s) as source {source}")


@inventory_app.command("gcp")
@handle_errors
def inventory_gcp(
    projects: Annotated[str | None, typer.Option(help="comma-separated project ids (default: the ADC project)")] = None,
    source: Annotated[str, typer.Option(help="inventory source name")] = "gcp",
) -> None:
    """Record persistent disks, reserved addresses, snapshots and instances (with their disks), with labels.

    Credentials: Application Default Credentials (google-auth).

    Example: `spendscope inventory gcp --projects shop-prod,shop-staging`
    """
    import google.auth

    from spendscope.collectors.gcp.inventory import collect_gcp_inventory

    try:
        credentials, default_project = google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise SpendscopeError(
            f"no Google credentials: {str(exc).splitlines()[0]}", source="google.auth.default"
        ) from None
    chosen = _split(projects or default_project)
    if not chosen:
        raise typer.BadParameter("name the projects", param_hint="--projects")
    _, n = record_inventory(
        ", ".join(chosen),
        lambda now: collect_gcp_inventory(projects=chosen, credentials=credentials, observed_at=now),
        source=source,
    )
    out.print(f"recorded {n} Google Cloud resources in {len(chosen)} project(s) as source {source}")


# ---------------------------------------------------------------- export


@export_app.command("focus")
@handle_errors
def export_focus_cmd(
    period: Annotated[str, typer.Option(help="billing period, YYYY-MM")],
    out_file: Annotated[Path, typer.Option("--out", help="FILE.parquet (or .csv / .csv.gz)")],
) -> None:
    """Write one billing period as a FOCUS 1.2 file with every FOCUS 1.2 column.

    Example: `spendscope export focus --period 2026-10 --out focus-2026-10.parquet`
    """
    from spendscope.exporters.focus_file import export_focus

    conn = state.connect()
    try:
        n = export_focus(conn, period=period, out=out_file)
    finally:
        conn.close()
    out.print(f"wrote {n:,} FOCUS 1.2 rows for {period} to {out_file}")


# ---------------------------------------------------------------- costs

Format = Literal["table", "csv", "json", "parquet"]


def write_frame(frame: pl.DataFrame, fmt: str, out_file: Path | None, *, title: str = "") -> None:
    """Print or write a result frame: a rich table, CSV/JSON on stdout (or --out), Parquet to --out."""
    if fmt == "parquet":
        if out_file is None:
            raise SpendscopeError("--format parquet needs --out FILE")
        frame.write_parquet(out_file)
        err.print(f"wrote {frame.height:,} rows to {out_file}")
        return
    if fmt in ("csv", "json"):
        floats = frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
        text = floats.write_csv() if fmt == "csv" else json.dumps(floats.to_dicts(), default=str, indent=1) + "\n"
        if out_file:
            out_file.write_text(text)
        else:
            sys.stdout.write(text)
        return
    table = Table(title=title or None, title_justify="left")
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*("" if v is None else _money(v) if isinstance(v, Decimal | float) else str(v) for v in row))
    out.print(table)


@app.command()
@handle_errors
def costs(
    by: Annotated[str, typer.Option(help="comma-separated FOCUS columns and/or tag:KEY")] = "ProviderName",
    period: Annotated[str | None, typer.Option(help="billing period YYYY-MM (default: all)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Billed and effective (amortized) cost per group and currency; never summed across currencies.

    Examples:

    * `spendscope costs --by ProviderName,ServiceName --period 2026-10`
    * `spendscope costs --by tag:team --format csv > by_team.csv`
    """
    from spendscope.analysis.costs import cost_by, parse_dimensions

    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("use table, csv, json or parquet", param_hint="--format")
    dims = parse_dimensions(by)
    conn = state.connect()
    try:
        frame = cost_by(conn, dims, period=period)
    finally:
        conn.close()
    write_frame(frame, fmt, out_file, title=f"cost by {by}" + (f", {period}" if period else ""))


# ---------------------------------------------------------------- analyze


@app.command()
@handle_errors
def analyze(
    period: Annotated[str | None, typer.Option(help="billing period YYYY-MM (default: every period)")] = None,
    jobs: Annotated[
        str | None, typer.Option(help="comma-separated jobs to run (default: all, in dependency order)")
    ] = None,
) -> None:
    """Run the analysis jobs and store their results in the warehouse (each job one run, replaced atomically).

    Jobs, in order: allocation (teams and environments from the config's allocation rules, shared-cost
    splits, effective-dated; materialized in allocated_daily), untagged (tag compliance under
    [tag_policy]), orphans (orphaned resources from the latest inventory, with their monthly waste,
    in findings), then unit cost, commitments, forecast and budgets, and anomalies as configured.
    Exporters, reports and the API read what this stores; they never recompute.

    Examples: `spendscope analyze`, `spendscope analyze --period 2026-10 --jobs allocation,anomalies`
    """
    from spendscope.analysis.run import run_analysis

    conn = state.connect()
    try:
        with err.status("analysing") as status:
            results = run_analysis(
                conn,
                state.settings,
                period=period,
                jobs=_split(jobs) or None,
                on_job=lambda name: status.update(f"analysing: {name}"),
            )
    finally:
        conn.close()
    table = Table(title="analysis" + (f" of {period}" if period else ""), title_justify="left")
    for col in ("job", "seconds", "stored"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for r in results:
        table.add_row(r.job, f"{r.seconds:.1f}", r.summary)
    out.print(table)


@app.command()
@handle_errors
def orphans(
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Orphaned resources found by the latest `spendscope analyze`: unattached disks, unassociated IPs,
    snapshots of deleted disks, idle load balancers, long-stopped instances with disks, with their
    monthly cost (billed, or a list-price estimate marked by cost_source), age and owner tags.

    Example: `spendscope orphans --format json > orphans.json`
    """
    from spendscope import sql

    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("use table, csv, json or parquet", param_hint="--format")
    conn = state.connect()
    try:
        frame = conn.execute(sql.load("queries/orphan_findings")).pl()
    finally:
        conn.close()
    if fmt == "table":
        frame = frame.select(
            "kind",
            "ProviderName",
            "SubAccountId",
            "ResourceId",
            "team",
            "age_days",
            "cost_source",
            "BillingCurrency",
            "EffectiveCost",
        )
    write_frame(frame, fmt, out_file, title=f"{frame.height} orphaned resources")


@app.command()
@handle_errors
def untagged(
    period: Annotated[str | None, typer.Option(help="billing period YYYY-MM (default: all)")] = None,
    view: Annotated[
        str, typer.Option(help="summary, accounts (by account and service), days, or resources")
    ] = "summary",
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet")] = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Untagged and mis-tagged spend under the config's [tag_policy] (default: team and env required):
    money and percent of amortized cost, per currency; charges that cannot carry tags (tax, credits,
    support) are reported apart, never blamed.

    Example: `spendscope untagged --period 2026-10 --view accounts`
    """
    from spendscope.analysis.untagged import untagged_spend

    views = {"summary": "summary", "accounts": "by_account_service", "days": "by_day", "resources": "top_resources"}
    if view not in views:
        raise typer.BadParameter(f"use one of {', '.join(views)}", param_hint="--view")
    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("use table, csv, json or parquet", param_hint="--format")
    conn = state.connect()
    try:
        result = untagged_spend(conn, state.settings.tag_policy, period=period)
    finally:
        conn.close()
    write_frame(getattr(result, views[view]), fmt, out_file, title=f"untagged spend ({view})")


# ---------------------------------------------------------------- doctor, config, demo


@app.command()
@handle_errors
def doctor() -> None:
    """Check the warehouse's integrity: schema version, ledger vs rows, totals vs ledger, double loads.

    Exits 1 on any inconsistency; warnings (e.g. one billing account from two sources) do not fail.
    """
    from spendscope.warehouse.doctor import checks, run_doctor

    conn = state.connect()
    try:
        found = run_doctor(conn)
        loaded = conn.execute(
            "SELECT count(*), coalesce(sum(row_count), 0) FROM ingests WHERE status = 'loaded'"
        ).fetchone()
    finally:
        conn.close()
    units, rows = loaded if loaded else (0, 0)
    failed = {f.check for f in found if f.level == "error"}
    for check in checks():
        mark = "[red]FAIL[/]" if check in failed else "[green]ok[/]  "
        out.print(f"{mark} {check}")
    for f in found:
        colour = "red" if f.level == "error" else "yellow"
        out.print(f"[{colour}]{f.level}[/]: {f.problem}", highlight=False, soft_wrap=True)
    out.print(f"{units} loaded units, {rows:,} rows in {state.settings.warehouse}")
    if failed:
        raise typer.Exit(1)


@config_app.command("show")
@handle_errors
def config_show() -> None:
    """Print the effective configuration (file + environment) as JSON, secrets redacted."""
    out.print_json(json.dumps(redacted(state.settings)))


@app.command()
@handle_errors
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="where to write the demo bill and warehouse")] = Path(
        "spendscope-demo"
    ),
    rows: Annotated[int, typer.Option(min=5000, help="approximate billing rows")] = 100_000,
) -> None:
    """Generate a multi-cloud month, ingest it into DIR/warehouse.duckdb and print where the money went."""
    from spendscope.demo import run_demo

    run_demo(
        directory, rows=rows, console=out, progress_bar=progress_bar, run_ingest=run_ingest, write_frame=write_frame
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
