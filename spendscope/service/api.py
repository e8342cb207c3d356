"""The HTTP side of `spendscope serve` (FastAPI): health, readiness, metrics and a read-only JSON API.

- ``/healthz``: the process answers. ``/readyz``: the warehouse answers a query and every job succeeded
  recently enough (``jobs.readiness``); 503 with the failing checks otherwise. Neither needs a token.
- ``/metrics``: prometheus-client's ASGI app over the service's own registry.
- ``/api/v1/...``: costs from the materialized allocation, stored unit costs, anomalies, orphans, a
  cleanup plan, the jobs' state; OpenAPI at ``/openapi.json``. With ``api_token`` configured every
  ``/api/v1`` request needs ``Authorization: Bearer TOKEN`` (401 otherwise).

Every request gets its own cursor on the one database instance the service owns, and reads committed
results only. Parameters are validated before any query runs: group-by names come from a fixed map of
columns, values are bound, unknown or repeated parameters are refused; every refusal is a 4xx with
``{"detail": "one line"}``. Money is a JSON number in the row's currency, never summed across currencies.

FastAPI reads the endpoints' annotations at run time, so this module does not postpone them.
"""

import hmac
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal, Protocol

import duckdb
import polars as pl
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel, Field

from spendscope import __version__, sql
from spendscope.analysis.anomalies import KINDS, anomaly_records, read_anomalies
from spendscope.analysis.costs import ALLOCATED_COLUMNS
from spendscope.analysis.unit_cost import stored_unit_costs
from spendscope.config import Settings
from spendscope.service.jobs import Check
from spendscope.warehouse.db import cursor

__all__ = ["GROUPS", "ServiceStatus", "create_app"]

log = logging.getLogger(__name__)

GROUPS: dict[str, str] = {
    **{col: col for col in ALLOCATED_COLUMNS.values()},
    **ALLOCATED_COLUMNS,  # the FOCUS names of the same columns (ServiceName → service …)
    "day": "day",
}
"""group_by names a request may use → allocated_daily columns. Nothing else reaches the SQL text."""

MAX_GROUPS = 6


class ServiceStatus(Protocol):
    """What the API asks of the running scheduler (``ServiceScheduler``)."""

    def readiness(self, cur: duckdb.DuckDBPyConnection) -> list[Check]: ...

    def jobs(self, cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]: ...

    def exclusive(self, timeout_s: float) -> AbstractContextManager[None]: ...


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ReadyOut(BaseModel):
    ready: bool
    checks: list[CheckOut]


class RowsOut(BaseModel):
    rows: list[dict[str, Any]]
    truncated: bool = False


class CostsOut(RowsOut):
    group_by: list[str]
    from_: date = Field(alias="from")
    to: date


def _bad(message: str, status: int = 400) -> HTTPException:
    return HTTPException(status_code=status, detail=message)


def _shown(value: str) -> str:
    return repr(value[:60] + ("…" if len(value) > 60 else ""))


def parse_group_by(text: str) -> list[str]:
    """Comma-separated names from GROUPS, each once, at most MAX_GROUPS; HTTP 400 otherwise."""
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise _bad("group_by needs at least one name")
    for name in names:
        if name not in GROUPS:
            raise _bad(f"cannot group by {_shown(name)}: use {', '.join(GROUPS)}")
    if len(set(names)) != len(names) or len(names) > MAX_GROUPS:
        raise _bad(f"group_by takes each name once, at most {MAX_GROUPS} of them")
    return names


def day_range(start: date | None, end: date | None, *, max_days: int, today: date) -> tuple[date, date]:
    """[from, to) in days; defaults: to = tomorrow (UTC), from = to − 31 days. HTTP 400 beyond max_days."""
    end = end or today + timedelta(days=1)
    start = start or end - timedelta(days=31)
    if start >= end:
        raise _bad(f"from ({start}) must be before to ({end}); to is exclusive")
    days = (end - start).days
    if days > max_days:
        raise _bad(f"from..to spans {days} days; at most {max_days} per request")
    return start, end


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, default=_encode, ensure_ascii=False, allow_nan=False)
    return Response(body, status_code=status, media_type="application/json")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: money (Decimal) as float, NaN as null, times ISO 8601."""
    floats = frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64)).with_columns(pl.col(pl.Float64).fill_nan(None))
    return floats.to_dicts()


def _only(*allowed: str) -> Callable[[Request], None]:
    """A dependency refusing unknown or repeated query parameters (a typo never silently means 'all')."""

    def check(request: Request) -> None:
        for key in request.query_params:
            if key not in allowed:
                valid = ", ".join(allowed) or "none"
                raise _bad(f"unknown query parameter {_shown(key)}; valid: {valid}")
            if len(request.query_params.getlist(key)) > 1:
                raise _bad(f"query parameter {key!r} given more than once")

    return check


def create_app(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    status: ServiceStatus | None = None,
    registry: CollectorRegistry | None = None,
    today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> FastAPI:
    """The ASGI app over ``conn`` (the service's own connection; each request gets a cursor of it)."""
    svc = settings.service
    token = settings.api_token.get_secret_value() if settings.api_token else None
    bearer = HTTPBearer(auto_error=False, description="Settings api_token (SPENDSCOPE_API_TOKEN)")
    app = FastAPI(
        title="spendscope",
        version=__version__,
        description="Read-only cost telemetry from the spendscope warehouse. Money is per currency, never summed "
        "across currencies.",
    )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _json({"detail": f"{where}: {first.get('msg', 'invalid')}"}, 400)

    def read() -> Iterator[duckdb.DuckDBPyConnection]:
        cur = cursor(conn)
        try:
            yield cur
        except duckdb.Error as exc:
            log.error("query failed: %s", str(exc).splitlines()[0])
            raise HTTPException(status_code=503, detail="the warehouse could not answer; see the service log") from None
        finally:
            cur.close()

    def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            challenge = {"WWW-Authenticate": "Bearer"}
            raise HTTPException(status_code=401, detail="missing or wrong bearer token", headers=challenge)

    Cursor = Annotated[duckdb.DuckDBPyConnection, Depends(read)]

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        """The process is up (no warehouse access)."""
        return {"status": "ok", "pid": os.getpid(), "version": __version__}

    @app.get("/readyz", tags=["health"], response_model=ReadyOut, responses={503: {"model": ReadyOut}})
    def readyz(cur: Cursor) -> Response:
        """Ready when the warehouse answers and every job's last success is recent enough (503 otherwise)."""
        checks = [Check("warehouse", True, str(settings.warehouse))]
        try:
            cur.execute("SELECT 1").fetchall()
        except duckdb.Error as exc:
            checks[0] = Check("warehouse", False, str(exc).splitlines()[0])
        else:
            checks += status.readiness(cur) if status is not None else []
        ready = all(c.ok for c in checks)
        payload = {"ready": ready, "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]}
        return _json(payload, 200 if ready else 503)

    if registry is not None:
        app.router.routes.append(_metrics_route(registry))

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(authorized)], tags=["api"])

    @api.get("/costs", response_model=CostsOut, dependencies=[Depends(_only("group_by", "from", "to"))])
    def costs(
        cur: Cursor,
        group_by: Annotated[str, Query(max_length=300, description=f"comma-separated: {', '.join(GROUPS)}")] = "team",
        start: Annotated[date | None, Query(alias="from", description="first day (default: to − 31 days)")] = None,
        end: Annotated[date | None, Query(alias="to", description="the day after the last (default: tomorrow)")] = None,
    ) -> Response:
        """BilledCost and EffectiveCost per group and currency over [from, to), from the latest allocation."""
        names = parse_group_by(group_by)
        first, last = day_range(start, end, max_days=svc.max_range_days, today=today())
        dims = ", ".join(f'{GROUPS[n]} AS "{n}"' for n in names)  # identifiers from GROUPS only
        query = sql.load("service/costs_by").format(dimensions=dims)
        frame = cur.execute(query, {"from": first, "to": last, "limit": svc.max_rows + 1}).pl()
        rows = _records(frame.head(svc.max_rows))
        payload = {"group_by": names, "from": first, "to": last, "rows": rows, "truncated": frame.height > svc.max_rows}
        return _json(payload)

    @api.get("/unit-cost", response_model=RowsOut, dependencies=[Depends(_only("service", "window", "from", "to"))])
    def unit_cost(
        cur: Cursor,
        service: Annotated[str | None, Query(min_length=1, max_length=200, description="default: all")] = None,
        window: Annotated[Literal["hour", "day", "month"], Query()] = "day",
        start: Annotated[date | None, Query(alias="from", description="windows starting on or after")] = None,
        end: Annotated[date | None, Query(alias="to", description="windows starting before")] = None,
    ) -> Response:
        """Stored cost per transaction per service and window (as the latest analysis stored it)."""
        first, last = day_range(start, end, max_days=svc.max_range_days, today=today())
        frame = stored_unit_costs(cur, window=window, service=service, start=_midnight(first), end=_midnight(last))
        return _json({"rows": _records(frame.head(svc.max_rows)), "truncated": frame.height > svc.max_rows})

    @api.get("/anomalies", response_model=RowsOut, dependencies=[Depends(_only("active", "kind", "from", "to"))])
    def anomalies(
        cur: Cursor,
        active: Annotated[bool | None, Query(description="true: still open; false: ended (default: both)")] = None,
        kind: Annotated[str | None, Query(max_length=100, description=f"comma-separated: {', '.join(KINDS)}")] = None,
        start: Annotated[date | None, Query(alias="from", description="open on or after this day")] = None,
        end: Annotated[date | None, Query(alias="to", description="started by this day")] = None,
    ) -> Response:
        """Stored anomalies (never recomputed), with drivers; ``end`` is null while one is active."""
        kinds = [k.strip() for k in (kind or "").split(",") if k.strip()]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise _bad(f"unknown kind {_shown(unknown[0])}: use {', '.join(KINDS)}")
        frame = read_anomalies(cur, first_day=start, last_day=end, kinds=kinds)
        if active is not None:
            frame = frame.filter(pl.col("end").is_null() == active)
        return _json({"rows": anomaly_records(frame.head(svc.max_rows)), "truncated": frame.height > svc.max_rows})

    @api.get("/orphans", response_model=RowsOut, dependencies=[Depends(_only())])
    def orphans(cur: Cursor) -> Response:
        """Orphaned resources of the latest analysis, with their monthly cost."""
        frame = cur.execute(sql.load("queries/orphan_findings")).pl()
        return _json({"rows": _records(frame.head(svc.max_rows)), "truncated": frame.height > svc.max_rows})

    @api.get("/cleanup-plan", dependencies=[Depends(_only())], responses={501: {"description": "not available"}})
    def cleanup_plan(cur: Cursor) -> Response:
        """A signed cleanup plan of the current orphans (as `spendscope cleanup plan` writes it; audited)."""
        return _cleanup_plan(cur, settings, status)

    @api.get("/jobs", dependencies=[Depends(_only())])
    def jobs(cur: Cursor) -> Response:
        """Each scheduled job: schedule, next run, the run in progress, the last run from the ledger."""
        return _json({"jobs": status.jobs(cur) if status is not None else []})

    app.include_router(api)
    return app


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _cleanup_plan(cur: duckdb.DuckDBPyConnection, settings: Settings, status: ServiceStatus | None) -> Response:
    try:
        from spendscope.exporters.cleanup.plan import build_plan
    except ImportError:
        raise _bad("cleanup plans are not available in this build", 501) from None
    cleanup = getattr(settings, "cleanup", None)
    if cleanup is None:
        raise _bad("cleanup plans are not available in this build (no [cleanup] settings)", 501)
    if status is None:
        raise _bad("cleanup plans are only served by `spendscope serve`", 501)
    try:  # building a plan records it in the audit log: a write, so it waits for the writer
        with status.exclusive(timeout_s=30.0):
            plan = build_plan(cur, cleanup, now=datetime.now(UTC), allocation=settings.allocation, actor="api")
    except TimeoutError:
        raise _bad("the warehouse is busy with a long job; retry later", 503) from None
    return _json(plan)


class _Asgi:
    """An ASGI app as a Starlette route endpoint (a plain function would be wrapped as a request handler)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _metrics_route(registry: CollectorRegistry) -> Any:
    from starlette.routing import Route

    return Route("/metrics", endpoint=_Asgi(make_asgi_app(registry=registry)), methods=["GET"])
