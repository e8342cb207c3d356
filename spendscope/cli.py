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
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from spendscope import __version__
from spendscope.config import Settings, load_settings, redacted
from spendscope.errors import SpendscopeError
from spendscope.warehouse.db import open_warehouse
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
metrics_app = typer.Typer(help="Prometheus metrics of the stored analysis results, for dashboards and autoscalers.")
app.add_typer(inventory_app, name="inventory")
app.add_typer(metrics_app, name="metrics")
alerts_app = typer.Typer(help="Alerts for anomalies and budget breaches, sent to Prometheus Alertmanager.")
app.add_typer(alerts_app, name="alerts")
cleanup_app = typer.Typer(
    help="Orphan cleanup: a signed plan, named approvals, a guarded executor (dry run by default)."
)
app.add_typer(cleanup_app, name="cleanup")
tickets_app = typer.Typer(help="One ticket per owner for orphaned resources, updated instead of duplicated.")
app.add_typer(tickets_app, name="tickets")
spark_app = typer.Typer(help='The Spark engine (engine = "spark"): normalize and roll up bills where they live.')
app.add_typer(spark_app, name="spark")


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

    def connect(self, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        s = self.settings
        return open_warehouse(s.warehouse, settings=s.duckdb.warehouse_settings(), read_only=read_only)


state = State()


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """SpendscopeError → one line on stderr, exit 1 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SpendscopeError as exc:
            err.print(Text.assemble(("error:", "red"), f" {exc}"), highlight=False, soft_wrap=True)
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

    network = state.settings.network
    load_sources(aws_sources(location, endpoint_url=endpoint_url, period=period, network=network), period=period)


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
            azure_sources(
                location,
                period=period,
                connection_string=secret.get_secret_value() if secret else None,
                network=state.settings.network,
            )
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
        for source in gcp_sources(
            location, period=period, cursor=lambda name: collector_state(conn, name), network=state.settings.network
        ):
            run_ingest(conn, source, period=period)
    finally:
        conn.close()


@ingest_app.command("sources")
@handle_errors
def ingest_sources(
    names: Annotated[list[str] | None, typer.Argument(help="configured source names (default: all)")] = None,
) -> None:
    """Ingest the sources declared in the config file ([[sources]] tables: collector focus, aws, azure or gcp)."""
    from spendscope.pipeline import sources_from_config
    from spendscope.warehouse.spark.sources import spark_readable

    settings = state.settings
    chosen = [settings.source(n) for n in names] if names else settings.sources
    if not chosen:
        raise SpendscopeError("no [[sources]] configured", source=str(state.config_file or "spendscope.toml"))
    conn = state.connect()
    try:
        for cfg in chosen:
            if settings.engine == "spark" and spark_readable(cfg):  # normalized and rolled up in Spark
                from spendscope.warehouse.spark.ingest import ingest_source_config

                for loaded in ingest_source_config(conn, cfg, settings.spark):
                    _print_load(conn, loaded)
                continue
            for source in sources_from_config(conn, cfg, azure=settings.azure, network=settings.network):
                run_ingest(conn, source, period=getattr(cfg, "period", None))
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

FORMATS = ("table", "csv", "json", "parquet")


def _check_format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter("use table, csv, json or parquet")
    return value


FormatOption = Annotated[str, typer.Option("--format", help="table, csv, json or parquet", callback=_check_format)]
"""The --format option of every command that prints a result frame (see write_frame)."""


def _json_value(value: object) -> str:
    """JSON for what json cannot encode: dates and times as ISO 8601, anything else as text."""
    if isinstance(value, date | datetime | time_of_day):
        return value.isoformat()
    return str(value)


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
        if fmt == "csv":  # text from a bill may be a spreadsheet formula (a tag value "=HYPERLINK(…)")
            from spendscope.exporters.report.extracts import neutralize_frame

            text = neutralize_frame(floats).write_csv()
        else:
            text = json.dumps(floats.to_dicts(), default=_json_value, indent=1) + "\n"
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
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
    reporting_currency: Annotated[
        bool,
        typer.Option(
            "--reporting-currency",
            help="add the cost in the \\[currency] reporting currency, at each day's rate from its fx_rates CSV",
        ),
    ] = False,
) -> None:
    """Billed and effective (amortized) cost per group and currency; never summed across currencies.

    Examples:

    * `spendscope costs --by ProviderName,ServiceName --period 2026-10`
    * `spendscope costs --by tag:team --format csv > by_team.csv`
    * `spendscope costs --by ProviderName --reporting-currency` (adds BilledCost_reporting, EffectiveCost_reporting)
    """
    from spendscope.analysis.costs import cost_by, parse_dimensions
    from spendscope.analysis.fx import load_reporting
    from spendscope.errors import ConfigError

    dims = parse_dimensions(by)
    reporting = load_reporting(state.settings.currency) if reporting_currency else None
    if reporting_currency and reporting is None:
        raise ConfigError("--reporting-currency needs the config's currency section: reporting = 'EUR', fx_rates = CSV")
    conn = state.connect()
    try:
        frame = cost_by(conn, dims, period=period, reporting=reporting)
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
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Orphaned resources found by the latest `spendscope analyze`: unattached disks, unassociated IPs,
    snapshots of deleted disks, idle load balancers, long-stopped instances with disks, with their
    monthly cost (billed, or a list-price estimate marked by cost_source), age and owner tags.

    Example: `spendscope orphans --format json > orphans.json`
    """
    from spendscope import sql

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
    fmt: FormatOption = "table",
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
    conn = state.connect()
    try:
        result = untagged_spend(conn, state.settings.tag_policy, period=period)
    finally:
        conn.close()
    write_frame(getattr(result, views[view]), fmt, out_file, title=f"untagged spend ({view})")


# ---------------------------------------------------------------- unit cost (transactions, cost per transaction)


def _instant(value: str | None, option: str) -> datetime | None:
    """'YYYY-MM-DD' or an ISO 8601 time (without offset: UTC) as an aware datetime; None stays None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use YYYY-MM-DD or an ISO 8601 time", param_hint=option) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@ingest_app.command("transactions")
@handle_errors
def ingest_transactions(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="service,timestamp,count CSV/Parquet files (default: [unit_cost] transactions_files)"),
    ] = None,
    source: Annotated[str, typer.Option(help="transactions source name")] = "files",
    bucket: Annotated[str, typer.Option(help="each row's window as a DuckDB interval: '1 hour', '1 day'")] = "1 hour",
) -> None:
    """Load transactions (requests, orders …) per service and time bucket: the unit-cost denominators.

    timestamp is the bucket start (UTC); service must match the cost's service tag (default `app`).
    Each file replaces the source's rows in the time range it covers: reloading changes nothing.

    Example: `spendscope ingest transactions bill/transactions/2026-10.csv --source requests`
    """
    from spendscope.warehouse.transactions import load_transactions

    if files:
        jobs = [(path, source, bucket) for path in files]
    else:
        jobs = [(Path(f.path), f.source, f.bucket) for f in state.settings.unit_cost.transactions_files]
    if not jobs:
        raise SpendscopeError(
            "give files, or list unit_cost.transactions_files in the config",
            source=str(state.config_file or "command line"),
        )
    conn = state.connect()
    try:
        for path, name, size in jobs:
            n = load_transactions(conn, path, source=name, bucket=size)
            out.print(f"loaded {n:,} transaction counts from {path} as source {name}")
    finally:
        conn.close()


@ingest_app.command("prometheus")
@handle_errors
def ingest_prometheus(
    start: Annotated[
        str | None, typer.Option("--from", help="first window start, YYYY-MM-DD or ISO time (default: --to - 7 days)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="end of the last window (default: now); both round down to the step")
    ] = None,
) -> None:
    """Load transactions per service from Prometheus (config [unit_cost.prometheus]: url, query,
    service_label, step_s, token or username/password).

    Runs query_range of the PromQL query (e.g. `sum by (service)(increase(http_requests_total[1h]))`
    with step_s 3600): the sample at t counts the window [t - step, t). The source
    prometheus:NAME's rows in the range are replaced in one transaction. Retries 429/5xx.

    Example: `spendscope ingest prometheus --from 2026-10-01 --to 2026-11-01`
    """
    from datetime import timedelta

    from spendscope.collectors.prometheus import PrometheusTransactions, aligned_range
    from spendscope.warehouse.transactions import store_transactions

    cfg = state.settings.unit_cost.prometheus
    if cfg is None:
        raise SpendscopeError(
            "no unit_cost.prometheus section in the config", source=str(state.config_file or "environment")
        )
    until = _instant(end, "--to") or datetime.now(UTC)
    since = _instant(start, "--from") or until - timedelta(days=7)
    since, until = aligned_range(since, until, cfg.step_s)
    if until <= since:
        raise typer.BadParameter(f"--to must be at least one step ({cfg.step_s} s) after --from", param_hint="--to")
    collector = PrometheusTransactions(cfg)
    try:
        with progress_bar() as bar:
            bar.add_task(f"prometheus {collector.source}", total=None)
            frame = collector.fetch(since, until)
    finally:
        collector.close()
    conn = state.connect()
    try:
        n = store_transactions(conn, frame, source=collector.source, start=since, end=until)
    finally:
        conn.close()
    out.print(
        f"stored {n:,} transaction counts of {frame['service'].n_unique()} services for "
        f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC as source {collector.source}"
    )


@app.command("unit-cost")
@handle_errors
def unit_cost(
    service: Annotated[str | None, typer.Option(help="only this service (as stored: folded and aliased)")] = None,
    window: Annotated[str, typer.Option(help="hour, day or month")] = "day",
    start: Annotated[str | None, typer.Option("--from", help="windows starting at or after, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="windows starting before, YYYY-MM-DD")] = None,
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Cost per transaction per service and window, as the latest `spendscope analyze` stored it.

    cost: EffectiveCost of the charges tagged with the service (tag `app` by default), per currency;
    transactions: the loaded counts (`ingest transactions` / `ingest prometheus`); cost_per_transaction
    is null where transactions are 0. status: ok, no_traffic_metric (cost, no transactions),
    cost_pending (the bill has not reached the window's end yet), no_cost, partial_traffic.

    Example: `spendscope unit-cost --service checkout-api --window hour --from 2026-10-05 --format json`
    """
    from spendscope.analysis.unit_cost import WINDOW_KINDS, stored_unit_costs

    if window not in WINDOW_KINDS:
        raise typer.BadParameter("use hour, day or month", param_hint="--window")
    conn = state.connect()
    try:
        frame = stored_unit_costs(
            conn,
            window=window,
            service=service,
            start=_instant(start, "--from"),
            end=_instant(end, "--to"),
        )
    finally:
        conn.close()
    if frame.is_empty() and fmt == "table":
        err.print("no stored unit costs match: run `spendscope analyze` after loading transactions")
    write_frame(frame, fmt, out_file, title=f"cost per transaction by {window}")


@app.command()
@handle_errors
def commitments(
    period: Annotated[str | None, typer.Option(help="billing period YYYY-MM (default: all)")] = None,
    view: Annotated[
        str, typer.Option(help="utilization (per commitment) or coverage (per provider, account, region, service)")
    ] = "utilization",
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Reserved instances, savings plans, reservations and committed-use discounts, as the latest
    `spendscope analyze` stored them.

    utilization: per commitment and period, used / (used + unused), by quantity or by cost (column
    basis), the cost of the unused part, and net savings against on-demand. coverage: the share of
    commitment-eligible usage (services and resource types a commitment covered that period) that
    commitments covered, on an on-demand basis (ListCost, else ContractedCost). Money per
    BillingCurrency; *_reporting columns in the \\[currency] reporting currency when configured.

    Example: `spendscope commitments --period 2026-10 --view coverage --format json`
    """
    from spendscope.analysis.commitments import stored_commitments

    if view not in ("utilization", "coverage"):
        raise typer.BadParameter("use utilization or coverage", param_hint="--view")
    conn = state.connect()
    try:
        frame = stored_commitments(conn, view="coverage" if view == "coverage" else "utilization", period=period)
    finally:
        conn.close()
    if frame.is_empty() and fmt == "table":
        err.print("no stored commitments match: run `spendscope analyze` first")
    if fmt == "table":
        shown = {
            "utilization": [
                "period",
                "ProviderName",
                "CommitmentDiscountName",
                "basis",
                "utilization",
                "BillingCurrency",
                "committed_cost",
                "unused_commitment_cost",
                "net_savings",
            ],
            "coverage": [
                "period",
                "ProviderName",
                "SubAccountId",
                "RegionId",
                "ServiceName",
                "coverage",
                "BillingCurrency",
                "eligible_on_demand_cost",
                "uncovered_on_demand_cost",
                "unused_commitment_cost",
            ],
        }[view]
        ratio = "utilization" if view == "utilization" else "coverage"
        percent = (pl.col(ratio) * 100).round(1).cast(pl.String) + "%"
        frame = frame.select(shown).with_columns(pl.when(pl.col(ratio).is_not_null()).then(percent).alias(ratio))
    write_frame(frame, fmt, out_file, title=f"commitment {view}" + (f", {period}" if period else ""))


# ---------------------------------------------------------------- forecast, budgets


@app.command()
@handle_errors
def forecast(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="YYYY-MM-DD: show the forecasts made on this day (default: the latest); with --run, make them "
            "as of this day (default: the day after the latest complete day)",
        ),
    ] = None,
    scope: Annotated[str, typer.Option(help="total, team, account, service, or all")] = "total",
    run: Annotated[bool, typer.Option("--run", help="make and store the forecast (and budget status) first")] = False,
    period: Annotated[
        str | None, typer.Option(help="with --run: month to forecast, YYYY-MM (default: as-of's)")
    ] = None,
    accuracy: Annotated[
        bool,
        typer.Option("--accuracy", help="stored forecasts of complete months against the actual month total"),
    ] = False,
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Month-end forecast of amortized cost (EffectiveCost) per currency, with 80 % and 95 % intervals:
    month-to-date actual + a weekly-seasonal forecast of the remaining days + month-level charges
    (support, tax, credits) not booked yet. Forecasts are stored per day made, so `--accuracy` can
    later report their error against the month's actual total, by the day of the month they were made.

    Examples:

    * `spendscope forecast --run`
    * `spendscope forecast --scope team --format csv`
    * `spendscope forecast --accuracy`
    """
    from spendscope import sql
    from spendscope.analysis.forecast import accuracy_summary, forecast_accuracy, parse_day, run_forecast

    scopes = ("total", "team", "account", "service")
    if scope not in (*scopes, "all"):
        raise typer.BadParameter("use total, team, account, service or all", param_hint="--scope")
    day = parse_day(as_of, source="--as-of") if as_of else None
    chosen = None if scope == "all" else scope
    conn = state.connect()
    try:
        if run:
            result = run_forecast(conn, state.settings, as_of=day, period=period)
            day = result.made_on
            err.print(
                f"forecast run {result.run_id}: {result.forecasts.height} forecasts, {result.budgets.height} budgets"
            )
        if accuracy:
            frame = forecast_accuracy(conn, scope=chosen)
        else:
            frame = conn.execute(sql.load("queries/forecasts"), {"made_on": day, "scope": chosen}).pl()
    finally:
        conn.close()
    if accuracy:
        if fmt == "table":
            write_frame(accuracy_summary(frame), fmt, None, title="forecast error by day of month made (MAPE %)")
            frame = frame.drop("model", "within80", "within95")
        write_frame(frame, fmt, out_file, title=f"{frame.height} forecasts of complete months")
        return
    if fmt == "table":
        frame = frame.select(
            "made_on",
            "period",
            "scope",
            "scope_value",
            "currency",
            "mtd_actual",
            "point",
            "lo80",
            "hi80",
            "lo95",
            "hi95",
            "model",
        )
    made = frame["made_on"][0] if frame.height else day
    write_frame(frame, fmt, out_file, title=f"month-end forecast made on {made or '(none stored)'}")


@app.command()
@handle_errors
def budgets(
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Budget status from the latest forecast run (`spendscope analyze` or `spendscope forecast --run`):
    month-to-date actual against linear and seasonal pace, burn ratio, month-end forecast, the day the
    budget runs out, and ok / at_risk / over. Budgets are the config's budgets list (name, scope, value,
    amount, currency, months), in the currency the scope is billed in.

    Example: `spendscope budgets --format json`
    """
    from spendscope import sql

    conn = state.connect()
    try:
        frame = conn.execute(sql.load("queries/budget_status")).pl()
    finally:
        conn.close()
    if fmt == "table":
        frame = frame.select(
            "name",
            "period",
            "made_on",
            "scope",
            "scope_value",
            "currency",
            "amount",
            "mtd_actual",
            "linear_pace",
            "seasonal_pace",
            "burn_ratio",
            "forecast_point",
            "exhaustion_date",
            "status",
        )
    write_frame(frame, fmt, out_file, title=f"{frame.height} budgets")


# ---------------------------------------------------------------- serve


@app.command()
@handle_errors
def serve(
    listen: Annotated[
        str | None,
        typer.Option(help="HOST:PORT for the API, /healthz, /readyz, /metrics (default: \\[service] listen)"),
    ] = None,
) -> None:
    """Run unattended: the configured jobs on their schedules, and a read-only HTTP API, until SIGTERM.

    Jobs: ingest of each \\[\\[sources]] entry (its `schedule`, else \\[service] ingest_schedule), the analysis
    after every ingest that loaded rows, then the exports (metrics snapshot, Alertmanager), and the monthly
    report. Runs missed while the service was down run once on start (decided from the warehouse's
    service_runs ledger). The service owns the warehouse file: other spendscope commands are refused while
    it runs; ask its API instead. Logs are JSON lines on stderr, each run's with its job and run_id.

    HTTP: /healthz, /readyz, /metrics, /api/v1/costs?group_by=team,service&from=&to=, /api/v1/unit-cost,
    /api/v1/anomalies?active=true, /api/v1/orphans, /api/v1/cleanup-plan, /api/v1/jobs, /openapi.json;
    bearer token from `api_token` (SPENDSCOPE_API_TOKEN) when set. SIGTERM lets a running job finish
    (\\[service] shutdown_timeout_s, then it is rolled back) and exits 0.

    Example: `spendscope --config spendscope.toml serve --listen 127.0.0.1:8484`
    """
    from spendscope.service.app import run_service

    run_service(state.settings, listen=listen)


# ---------------------------------------------------------------- cleanup, tickets


def _user() -> str:
    """Who runs this command (recorded in the cleanup audit log)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@cleanup_app.command("plan")
@handle_errors
def cleanup_plan(
    out_file: Annotated[Path | None, typer.Option("--out", help="write the plan here (default: stdout)")] = None,
) -> None:
    """Write a signed cleanup plan (JSON) from the orphans found by the latest `spendscope analyze`.

    Each orphan gets the action proposed (snapshot then delete a volume, release an IP, delete a
    snapshot older than \\[cleanup] snapshot_max_age_days, delete an idle load balancer; none for
    stopped instances), its owner, monthly waste, age and the reason. Resources protected by
    \\[cleanup] (protected_tags, protected_accounts, grace_days) are listed apart, with why. The
    schema is `spendscope cleanup schema`; only `spendscope cleanup approve` may add to a plan.

    Example: `spendscope cleanup plan --out plan.json`
    """
    from spendscope.exporters.cleanup.plan import build_plan
    from spendscope.exporters.cleanup.verify import write_plan_file

    s = state.settings
    conn = state.connect()
    try:
        plan = build_plan(conn, s.cleanup, now=datetime.now(UTC), allocation=s.allocation, actor=_user())
    finally:
        conn.close()
    if out_file is None:
        sys.stdout.write(json.dumps(plan, indent=1, ensure_ascii=False) + "\n")
    else:
        write_plan_file(plan, out_file)
    totals = ", ".join(f"{t['monthly_waste']} {t['currency']}" for t in plan["totals"] if t["currency"]) or "nothing"
    err.print(
        f"plan {plan['plan_id']}: {len(plan['items'])} items ({totals} per month), "
        f"{len(plan['protected'])} protected" + (f"; wrote {out_file}" if out_file else ""),
        highlight=False,
        soft_wrap=True,
    )


@cleanup_app.command("schema")
@handle_errors
def cleanup_schema() -> None:
    """Print the JSON Schema (draft 2020-12) of cleanup plans: the contract for external cleanup jobs.

    Example: `spendscope cleanup schema > cleanup-plan.schema.json`
    """
    from spendscope.exporters.cleanup.verify import plan_schema

    sys.stdout.write(json.dumps(plan_schema(), indent=1) + "\n")


@cleanup_app.command("approve")
@handle_errors
def cleanup_approve(
    plan_file: Annotated[Path, typer.Argument(help="the plan written by `spendscope cleanup plan`")],
    by: Annotated[str, typer.Option("--by", help="the name of the person approving (recorded in the plan)")],
    items: Annotated[
        str | None,
        typer.Option(help="comma-separated item ids, id prefixes or resource ids (default: every item with an action)"),
    ] = None,
) -> None:
    """Approve plan items in the name of a person: signed approvals are added to the plan file.

    The plan is verified first (signature, warehouse, age, protections); protected resources and
    items without an automated action cannot be approved. Each approval is audited.

    Example: `spendscope cleanup approve plan.json --by "Ada Lovelace" --items vol-0abc,eipalloc-0def`
    """
    from spendscope.exporters.cleanup.verify import approve_plan, read_plan_file, write_plan_file

    plan = read_plan_file(plan_file)
    conn = state.connect()
    try:
        approved, fresh = approve_plan(
            conn,
            plan,
            state.settings.cleanup,
            by=by,
            items=_split(items) or None,
            now=datetime.now(UTC),
            source=str(plan_file),
        )
    finally:
        conn.close()
    write_plan_file(approved, plan_file)
    out.print(f"{len(fresh)} items approved by {by.strip()} in {plan_file}", highlight=False, soft_wrap=True)


@cleanup_app.command("apply")
@handle_errors
def cleanup_apply(
    plan_file: Annotated[Path, typer.Option("--plan", help="an approved plan")],
    execute: Annotated[
        bool, typer.Option("--execute", help="really act (default: dry run: check and report, change nothing)")
    ] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="endpoint for every AWS service (e.g. moto)")] = None,
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write the decisions to a file")] = None,
) -> None:
    """Act on the approved items of a plan, within \\[cleanup] max_actions, max_monthly_cost and
    rate_per_second; a dry run unless `--execute`.

    The plan is refused when edited, stale (plan_max_age_hours), from another warehouse, or listing a
    protected resource. Each approved item is re-checked right before acting and skipped when it
    changed (attached again, tags changed, gone). A volume is snapshotted before it is deleted. Every
    decision goes to the audit log (cleanup_audit), and what was deleted to cleanup_rollback. Exits 1
    when an action failed (the run stops there).

    Example: `spendscope cleanup apply --plan plan.json --execute`
    """
    from spendscope.exporters.cleanup.verify import read_plan_file, verify_plan
    from spendscope.remediation.apply import apply_plan

    plan = read_plan_file(plan_file)
    settings = state.settings.cleanup
    user = _user()
    conn = state.connect()
    try:
        verified = verify_plan(conn, plan, settings, now=datetime.now(UTC), source=str(plan_file), actor=user)
        result = apply_plan(conn, verified, settings, execute=execute, actor=user, endpoint_url=endpoint_url)
    finally:
        conn.close()
    frame = pl.DataFrame(
        [
            {
                "resource_id": d.item.resource_id,
                "action": d.item.action,
                "decision": d.decision,
                "reason": d.reason,
                "snapshot_id": d.snapshot_id,
                "item_id": d.item.id,
            }
            for d in result.decisions
        ],
        schema={c: pl.String for c in ("resource_id", "action", "decision", "reason", "snapshot_id", "item_id")},
    )
    if fmt == "table":
        frame = (
            frame.filter(pl.col("decision") != "skipped")
            .vstack(frame.filter(pl.col("decision") == "skipped").head(20))
            .drop("item_id")
        )
    mode = "executed" if execute else "dry run (nothing changed; add --execute to act)"
    kinds = ("would_act", "acted", "skipped", "failed")
    counts = ", ".join(f"{k} {sum(d.decision == k for d in result.decisions)}" for k in kinds)
    write_frame(frame, fmt, out_file, title=f"cleanup apply {result.apply_id}: {mode}; {counts}")
    if not result.ok:
        raise typer.Exit(1)


@tickets_app.command("sync")
@handle_errors
def tickets_sync(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be done; no call, nothing stored")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """Open, update or close one ticket per owner (or per account without one) listing its orphaned
    resources and their monthly waste, in every sink of \\[tickets] (Jira, GitHub, ServiceNow, webhook).

    An open ticket is updated with a comment saying what changed instead of a new ticket; a ticket
    whose orphans are all gone is closed with a note. At most \\[tickets] max_per_run operations per
    sync; the rest wait for the next one.

    Example: `spendscope tickets sync --dry-run`
    """
    from spendscope.exporters.tickets.sync import sync_tickets

    s = state.settings
    conn = state.connect()
    try:
        actions = sync_tickets(
            conn, s.tickets, cleanup=s.cleanup, now=datetime.now(UTC), allocation=s.allocation, dry_run=dry_run
        )
    finally:
        conn.close()
    frame = pl.DataFrame(
        [
            {
                "sink": a.sink,
                "group": a.group_key,
                "action": a.action,
                "ticket": a.url or a.external_id,
                "detail": a.detail,
            }
            for a in actions
        ],
        schema={c: pl.String for c in ("sink", "group", "action", "ticket", "detail")},
    )
    write_frame(frame, fmt, None, title="tickets" + (" (dry run: nothing sent)" if dry_run else ""))


# ---------------------------------------------------------------- run


@app.command("run")
@handle_errors
def run_once(
    push: Annotated[
        str | None, typer.Option(help="Pushgateway URL to push this run's metrics to (job=spendscope, instance)")
    ] = None,
    instance: Annotated[str | None, typer.Option(help="instance grouping key (default: the host name)")] = None,
    skip_analysis: Annotated[bool, typer.Option("--skip-analysis", help="ingest only")] = False,
) -> None:
    """Run one full cycle of what the config declares, then exit (for cron-style deployments).

    Ingests every configured source (one failing source does not stop the others), runs every
    analysis job, then pushes alerts to Alertmanager when the config's alertmanager.url is set.
    Exits 1 when a source, job or export failed, or when --push could not reach the Pushgateway
    (the data work is kept either way; the next run retries).

    Example: `spendscope --config spendscope.toml run --push http://pushgateway:9091`
    """
    import time

    from spendscope.service.cycle import run_cycle

    conn = state.connect()
    try:
        with err.status("running") as status:
            result = run_cycle(
                conn, state.settings, analyze=not skip_analysis, on_step=lambda step: status.update(f"run: {step}")
            )
    finally:
        conn.close()
    table = Table(title=f"run: {result.seconds:.1f}s", title_justify="left")
    for col in ("step", "status", "detail"):
        table.add_column(col)
    for src in result.sources:
        detail = src.error or f"{src.rows:,} rows in {src.seconds:.1f}s"
        table.add_row(f"ingest {src.source}", src.status, Text(detail))
    for job in result.jobs:
        table.add_row(f"analyze {job.job}", "ok", Text(job.summary))
    if result.error:
        table.add_row("analyze", "failed", Text(result.error))
    for export in result.exports:
        table.add_row(f"export {export.step}", "ok" if export.ok else "failed", Text(export.detail))
    out.print(table)
    if push:
        from spendscope.exporters.pushgateway import push_run_metrics

        push_run_metrics(push, result, finished=time.time(), instance=instance)
        out.print(f"pushed run metrics to {push}")
    if not result.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------- alerts


@alerts_app.command("push")
@handle_errors
def alerts_push(
    url: Annotated[
        str | None, typer.Option(help="Alertmanager base URL (default: the config's \\[alertmanager] url)")
    ] = None,
) -> None:
    """Send the stored anomalies and budget breaches to Alertmanager's /api/v2/alerts.

    Active anomalies and over / at-risk budgets fire (re-sent by every push; they expire
    \\[alertmanager] resend_minutes after the last one); ended anomalies are sent resolved, and
    spendscope alerts Alertmanager holds that are no longer reported are resolved. Labels: alertname,
    severity, anomaly_id or budget/period, kind, provider, service, account, region, team, currency.
    Reads the warehouse only; when Alertmanager cannot be reached, exits 1 and the next push retries.

    Example: `spendscope alerts push --url http://alertmanager:9093`
    """
    from spendscope.exporters.alertmanager import push_alerts, replace_url

    settings = state.settings.alertmanager
    if url is not None:
        settings = replace_url(settings, url)
    conn = state.connect(read_only=True)
    try:
        result = push_alerts(conn, settings)
    finally:
        conn.close()
    out.print(
        f"sent {result.firing} firing and {result.resolved + result.stale} resolved alerts "
        f"({result.stale} no longer reported) to {result.url}",
        highlight=False,
        soft_wrap=True,
    )


# ---------------------------------------------------------------- metrics


def _metrics_collector() -> Any:
    from spendscope.exporters.metrics import CostMetricsCollector

    return CostMetricsCollector(connect=lambda: state.connect(read_only=True), settings=state.settings.metrics)


@metrics_app.command("serve")
@handle_errors
def metrics_serve(
    listen: Annotated[
        str | None, typer.Option(help="HOST:PORT (default from the config's metrics.listen: 127.0.0.1:9464)")
    ] = None,
) -> None:
    """Serve /metrics for Prometheus: the stored results of the latest analysis and collector health.

    A scrape reads a cached snapshot, rebuilt when the warehouse has a new analysis run, load or
    collector run (checked at most every [metrics] refresh_seconds, read-only: ingest and analyze
    can run in between). OpenMetrics is served when the scraper asks for it.

    Example: `spendscope metrics serve --listen 127.0.0.1:9464`
    """
    import signal
    import threading

    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.exposition import ThreadingWSGIServer

    # socketserver's listen backlog of 5 drops SYNs under 50 concurrent scrapers: 1-3 s retransmits (p99)
    ThreadingWSGIServer.request_queue_size = 128
    host, _, port = (listen or state.settings.metrics.listen).rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter("use HOST:PORT, e.g. 127.0.0.1:9464", param_hint="--listen")
    registry = CollectorRegistry()
    registry.register(_metrics_collector())
    try:
        server, thread = start_http_server(int(port), addr=host, registry=registry)
    except OSError as exc:
        raise SpendscopeError(f"cannot listen: {exc.strerror}", source=f"{host}:{port}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    out.print(f"serving metrics of {state.settings.warehouse} on http://{host}:{port}/metrics (Ctrl-C stops)")
    stop.wait()
    server.shutdown()
    thread.join(timeout=5)


@metrics_app.command("check")
@handle_errors
def metrics_check() -> None:
    """Build the metrics once from the warehouse and print the number of series per metric.

    Example: `spendscope metrics check`
    """
    from spendscope.exporters.metrics import build_families, series_count

    conn = state.connect()
    try:
        counts = series_count(build_families(conn, state.settings.metrics))
    finally:
        conn.close()
    table = Table(title="series per metric", title_justify="left")
    table.add_column("metric")
    table.add_column("series", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    table.add_row("[bold]total", f"[bold]{sum(counts.values()):,}")
    out.print(table)


# ---------------------------------------------------------------- anomalies


@app.command()
@handle_errors
def anomalies(
    first_day: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD: anomalies still open on or after this day")
    ] = None,
    last_day: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD: anomalies started by this day")] = None,
    kind: Annotated[str | None, typer.Option(help="comma-separated: spike, level_shift, leak, new_spend")] = None,
    fmt: FormatOption = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="write to a file instead of stdout")] = None,
) -> None:
    """Spend anomalies stored by the latest anomaly run (never recomputed here): spikes, level shifts,
    slow leaks and new spend per service × account × region and per team, with expected and actual
    cost and the money impact so far (in the series' currency), severity, and the drivers (resource,
    usage type, SKU, …) that explain most of the change. `end` is empty while an anomaly is active.

    Examples:

    * `spendscope anomalies --from 2026-10-01 --format json`
    * `spendscope anomalies --kind spike,level_shift`
    """
    from spendscope.analysis.anomalies import KINDS, anomaly_records, read_anomalies

    days = []
    for value, option in ((first_day, "--from"), (last_day, "--to")):
        try:
            days.append(datetime.strptime(value, "%Y-%m-%d").date() if value else None)
        except ValueError:
            raise typer.BadParameter(f"{value!r}: use YYYY-MM-DD", param_hint=option) from None
    kinds = _split(kind)
    if any(k not in KINDS for k in kinds):
        raise typer.BadParameter(f"use {', '.join(KINDS)}", param_hint="--kind")
    conn = state.connect()
    try:
        frame = read_anomalies(conn, first_day=days[0], last_day=days[1], kinds=kinds)
    finally:
        conn.close()
    if fmt == "json":
        text = json.dumps(anomaly_records(frame), indent=1) + "\n"
        if out_file:
            out_file.write_text(text)
        else:
            sys.stdout.write(text)
        return
    if fmt == "table":
        top = pl.col("drivers").str.json_path_match("$[0].value")
        frame = frame.select(
            pl.col("id").str.head(12),
            "kind",
            "start",
            "end",
            "detected_on",
            pl.col("dimensions")  # the series' values: AWS / Amazon EC2 / 123456789012 / us-east-1
            .str.replace_all(r'"[^"]*":', "")
            .str.replace_all(r'[{}"]', "")
            .str.replace_all(",", " / ")
            .alias("series"),
            "currency",
            "expected",
            "actual",
            "impact",
            "severity",
            top.alias("top_driver"),
        )
    write_frame(frame, fmt, out_file, title=f"{frame.height} anomalies")


# ---------------------------------------------------------------- report


@app.command()
@handle_errors
def report(
    period: Annotated[
        str | None, typer.Option(help="billing period YYYY-MM (default: the latest complete one in the warehouse)")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="directory for report.html, report.xlsx and costs_by_team.csv/.parquet")
    ] = Path("report"),
) -> None:
    """The monthly report from the stored analysis results (run `spendscope analyze` first): one
    self-contained HTML page (charts inline as SVG, no script, opens without network) with the executive
    summary, spend by team / service / account / environment, cost per transaction, untagged and
    unallocated spend, orphans, anomalies, budget burn and a reconciliation box per billing account; an
    XLSX workbook with one sheet per section, and costs_by_team.csv / .parquet beside it.

    Example: `spendscope report --period 2026-10 --out report/`
    """
    from spendscope.exporters.report import write_report

    conn = state.connect()
    try:
        with err.status("writing the report"):
            result = write_report(conn, state.settings, period=period, out_dir=out_dir)
    finally:
        conn.close()
    state_note = "" if result.complete else " (month to date: usage not complete yet)"
    table = Table(title=f"report of {result.period}{state_note}", title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path in result.files:
        table.add_row(str(path), f"{path.stat().st_size:,}")
    out.print(table)
    out.print(f"{result.charts} charts in {result.seconds:.1f}s; open {result.html}")


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


@spark_app.command("explain")
@handle_errors
def spark_explain(
    period: Annotated[str, typer.Option(help="billing period, YYYY-MM")],
) -> None:
    """Print Spark's physical plans of normalizing and rolling up PERIOD for the Spark-run [[sources]].

    Nothing is written. Example: `spendscope spark explain --period 2026-10`
    """
    from spendscope.warehouse.spark.explain import explain_sources
    from spendscope.warehouse.spark.session import build_session
    from spendscope.warehouse.spark.sources import spark_readable

    settings = state.settings
    chosen = [cfg for cfg in settings.sources if spark_readable(cfg)]
    if not chosen:
        raise SpendscopeError("no aws/azure/gcp [[sources]] Spark can read", source=str(state.config_file or "config"))
    typer.echo(explain_sources(build_session(settings.spark), chosen, period=period))


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
