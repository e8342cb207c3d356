"""Azure Cost Management Query API → estimated daily FOCUS rows, for scopes that have no cost export.

One billing source per scope (``azure-query:/subscriptions/<id>``, a resource group, billing account
or management group scope). ``fetch(period)`` asks ``CostManagementClient.query.usage`` for the
month's actual cost, day by day, follows ``nextLink``, writes the rows to a local Parquet file (one
per month) and returns a ``LoadRequest`` whose SELECT (``sql/collectors/azure_query_to_focus.sql``)
maps them to FOCUS. Every row has ``x_Estimated = true``: the Query API gives sums per group, not the
invoice's line items, and an export of the same scope, once it exists, should replace this source.

Paging: ``query.usage`` returns one page. The SDK does not follow the result's ``nextLink`` (the
operation is not marked pageable in the REST spec), so the next pages are POSTed, with the same body
as the REST reference requires, through the same client's pipeline (``send_request``): same
credential, retry policy and logging. A nextLink to another host than the first page's is refused.

Throttling: the client gets ``CostManagementRetryPolicy`` (``retry.py``); what survives its retries
becomes ``Throttled`` / ``CredentialsExpired`` / ``CollectorError`` naming
``costmanagement.query.usage <scope>``.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, map_error
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import RetryPolicy
from azure.core.rest import HttpRequest, HttpResponse
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.costmanagement import CostManagementClient
from azure.mgmt.costmanagement import types as cm_types

from spendscope import sql
from spendscope.collectors import Describe
from spendscope.collectors.azure.retry import CostManagementRetryPolicy, arm_errors, check_call_options, one_line
from spendscope.errors import BadData, CollectorError, ConfigError, SchemaMismatch, SpendscopeError
from spendscope.warehouse.files import SourceFile, describe_files
from spendscope.warehouse.load import FilePlan, LoadRequest

log = logging.getLogger(__name__)

CostColumn = Literal["PreTaxCost", "Cost"]

GROUP_BY: tuple[str, str] = ("ResourceId", "ServiceName")
"""The two dimensions each query groups by: the API accepts at most two per query.

ResourceId is what spendscope joins to the inventory, and it carries the subscription and resource
group; ServiceName (the meter category: "Virtual Machines", "Storage"…) gives ServiceName and
ServiceCategory. Everything else would need more queries, each costing throttling quota: tags come
from the inventory (by ResourceId), the region from the inventory too, and the subscription and
resource group are read from ResourceId.
"""

RAW_SCHEMA = pa.schema(
    [
        pa.field("usage_date", pa.date32(), nullable=False),
        pa.field("resource_id", pa.string()),
        pa.field("service_name", pa.string()),
        pa.field("currency", pa.string()),
        pa.field("cost", pa.decimal128(38, 12), nullable=False),
    ]
)
"""The Parquet the FilePlan reads: the query's rows, one per (day, ResourceId, ServiceName, currency)."""

_COST_ALIAS = "totalCost"
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_TWELVE_PLACES = Decimal("1e-12")
_LOOKUP_SCOPE = re.compile(
    r"^/(?:subscriptions/(?P<sub>[^/]+)|providers/Microsoft\.Billing/billingAccounts/(?P<ba>[^/]+)"
    r"|providers/Microsoft\.Management/managementGroups/(?P<mg>[^/]+))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class QueryPage:
    columns: tuple[str, ...]
    rows: list[list[Any]]
    next_link: str | None


def canonical_scope(scope: str) -> str:
    """``subscriptions/x/`` → ``/subscriptions/x``: one spelling per scope, so one ledger source."""
    stripped = scope.strip().strip("/")
    if not stripped:
        raise ConfigError("an Azure Cost Management scope is required (e.g. /subscriptions/<id>)")
    return "/" + stripped


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """``2026-10`` → (2026-10-01T00:00Z, 2026-11-01T00:00Z): the billing period of the rows."""
    m = _PERIOD.match(period)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ConfigError(f"billing period must be YYYY-MM, got {period!r}")
    start = datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def query_definition(first_day: date, last_day: date, *, cost_column: CostColumn) -> cm_types.QueryDefinition:
    """The REST body: ActualCost per day for [first_day, last_day], summed, grouped by ``GROUP_BY``."""
    return {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": f"{first_day.isoformat()}T00:00:00Z", "to": f"{last_day.isoformat()}T23:59:59Z"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {_COST_ALIAS: {"name": cost_column, "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": name} for name in GROUP_BY],
        },
    }


class AzureCostQuery:
    """A Cost Management scope read through the Query API, as a billing source (see module doc).

    ``fetch(None)`` reads the previous and the current month (the current one up to today, UTC);
    ``fetch("2026-10")`` one month. The ledger unit is (source, month): a rerun replaces the month,
    and an identical answer is a no-op. BillingAccountId is ``billing_account_id`` or, by default, the
    scope's own id (subscription, billing account or management group): the Query API does not say
    which billing account a subscription belongs to. ``cost_column`` is the aggregated column:
    ``PreTaxCost`` (the one the REST reference's examples use, EA and MCA scopes alike) or ``Cost``;
    either is in the billing currency, given per row in the ``Currency`` column. ``call_options`` go
    to every SDK call; tests pass ``{"enforce_https": False}`` to reach a loopback http server
    (refused for any other host). Not thread-safe.
    """

    collector = "azure.query"
    provider = "Microsoft"

    def __init__(
        self,
        scope: str,
        *,
        credential: TokenCredential,
        base_url: str | None = None,
        billing_account_id: str | None = None,
        cost_column: CostColumn = "PreTaxCost",
        retry_policy: RetryPolicy[Any, Any] | None = None,
        call_options: Mapping[str, Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        **client_kwargs: Any,
    ) -> None:
        self.scope = canonical_scope(scope)
        self.source = f"azure-query:{self.scope}"
        self.call = f"costmanagement.query.usage {self.scope}"
        self.billing_account_id = billing_account_id or _scope_id(self.scope)
        self.sub_account_id = _scope_subscription(self.scope)
        self.cost_column = cost_column
        self._credential = credential
        self._base_url = base_url
        self._retry_policy = retry_policy or CostManagementRetryPolicy()
        self._call_options = check_call_options(base_url, call_options)
        self._client_kwargs = client_kwargs
        self._now = now
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def periods(self, period: str | None) -> list[str]:
        if period is not None:
            month_bounds(period)
            return [period]
        today = self._now().astimezone(UTC).date()
        previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return [f"{previous:%Y-%m}", f"{today:%Y-%m}"]

    def fetch(self, period: str | None, *, describe: Describe | None = None) -> LoadRequest:
        """Query each month, write its Parquet, return the LoadRequest. ``describe`` is not used: the
        files are new temporary files, hashed here."""
        self.close()
        self._tmp = tempfile.TemporaryDirectory(prefix="spendscope-azure-query-")
        plans = []
        try:
            with self._client() as client:
                for month in self.periods(period):
                    table = self.read_month(client, month)
                    plans.append(self._plan(month, table))
        except SpendscopeError:
            self.close()
            raise
        return LoadRequest(self.source, self.collector, self.provider, plans, focus_version="1.2")

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def read_month(self, client: CostManagementClient, period: str) -> pa.Table:
        """All pages of one month's query as a ``RAW_SCHEMA`` table."""
        start, end = month_bounds(period)
        today = self._now().astimezone(UTC).date()
        last_day = min((end - timedelta(days=1)).date(), today)
        if last_day < start.date():
            return RAW_SCHEMA.empty_table()  # a future month: nothing to ask
        body = query_definition(start.date(), last_day, cost_column=self.cost_column)
        tables = []
        pages = 0
        for page in self._pages(client, body):
            pages += 1
            tables.append(self._to_table(page, start.date(), (end - timedelta(days=1)).date()))
        table = pa.concat_tables(tables) if tables else RAW_SCHEMA.empty_table()
        log.info("azure query scope=%s period=%s pages=%d rows=%d", self.scope, period, pages, table.num_rows)
        return table

    def _client(self) -> CostManagementClient:
        return CostManagementClient(
            self._credential, base_url=self._base_url, retry_policy=self._retry_policy, **self._client_kwargs
        )

    def _pages(self, client: CostManagementClient, body: cm_types.QueryDefinition) -> Iterator[QueryPage]:
        with arm_errors(self.call):
            first = cast(
                PipelineResponse[Any, HttpResponse],
                client.query.usage(self.scope.lstrip("/"), body, cls=_pipeline_response, **self._call_options),
            )
        page = self._parse(first.http_response)
        yield page
        origin = urlsplit(first.http_request.url)
        seen: set[str] = set()
        next_link = page.next_link
        while next_link:
            link = urlsplit(next_link)
            if (link.scheme, link.netloc) != (origin.scheme, origin.netloc):
                raise CollectorError(f"nextLink points to another host ({link.netloc}); refused", source=self.call)
            if next_link in seen:
                raise CollectorError("nextLink repeats an earlier page; stopped", source=self.call)
            seen.add(next_link)
            with arm_errors(self.call):
                response = client.send_request(HttpRequest("POST", next_link, json=body), **self._call_options)
                if response.status_code not in (200, 204):
                    map_error(response.status_code, response, {401: ClientAuthenticationError})
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            page = self._parse(response)
            yield page
            next_link = page.next_link

    def _parse(self, response: HttpResponse) -> QueryPage:
        if response.status_code == 204:
            return QueryPage((), [], None)
        try:
            doc = json.loads(response.text(), parse_float=Decimal)  # exact money, not binary floats
            props = doc["properties"]
            columns = tuple(str(c["name"]) for c in props.get("columns") or [])
            rows = list(props.get("rows") or [])
            next_link = props.get("nextLink") or None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadData(f"answer is not a QueryResult: {one_line(str(exc))}", source=self.call) from None
        return QueryPage(columns, rows, str(next_link) if next_link else None)

    def _to_table(self, page: QueryPage, first_day: date, last_day: date) -> pa.Table:
        if not page.rows:
            return RAW_SCHEMA.empty_table()
        index = {name.lower(): i for i, name in enumerate(page.columns)}
        cost_at = index.get(self.cost_column.lower(), index.get(_COST_ALIAS.lower()))
        wanted = {"UsageDate": index.get("usagedate"), "Currency": index.get("currency")}
        wanted.update({name: index.get(name.lower()) for name in GROUP_BY})
        missing = [n for n, i in {self.cost_column: cost_at, **wanted}.items() if i is None]
        if missing:
            raise SchemaMismatch(
                f"query result lacks column(s) {', '.join(missing)}; it has {', '.join(page.columns) or 'none'}",
                source=self.call,
            )
        assert cost_at is not None
        cols = {name: cast(int, i) for name, i in wanted.items()}
        try:
            days = [_usage_date(r[cols["UsageDate"]]) for r in page.rows]
            costs = [_money(r[cost_at]) for r in page.rows]
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise BadData(f"bad UsageDate or cost in the answer: {one_line(str(exc))}", source=self.call) from None
        outside = [d for d in days if not first_day <= d <= last_day]
        if outside:
            raise BadData(f"UsageDate {outside[0]} lies outside the queried month", source=self.call)
        return pa.table(
            {
                "usage_date": pa.array(days, pa.date32()),
                "resource_id": _strings(page.rows, cols["ResourceId"]),
                "service_name": _strings(page.rows, cols["ServiceName"]),
                "currency": _strings(page.rows, cols["Currency"]),
                "cost": pa.array(costs, pa.decimal128(38, 12)),
            },
            schema=RAW_SCHEMA,
        )

    def _plan(self, period: str, table: pa.Table) -> FilePlan:
        assert self._tmp is not None
        local = Path(self._tmp.name) / f"{period}.parquet"
        pq.write_table(table, local)
        described = describe_files([local], {})[0]
        file = SourceFile(f"{self.source}/{period}", described.size, described.mtime_ns, described.sha256)
        start, end = month_bounds(period)
        params: dict[str, object] = {
            "path": str(local),
            "billing_period_start": start,
            "billing_period_end": end,
            "billing_account_id": self.billing_account_id,
            "sub_account_id": self.sub_account_id,
        }

        def diagnose(_: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
            return BadData(f"cannot map the query result to FOCUS: {one_line(str(exc))}", source=file.path)

        deviations: dict[str, object] = {"estimated": True, "query": "ActualCost Daily by " + ", ".join(GROUP_BY)}
        return FilePlan(file, sql.load("collectors/azure_query_to_focus"), params, diagnose, deviations)


def _pipeline_response(pipeline_response: PipelineResponse[Any, Any], _deserialized: Any, _headers: Any) -> Any:
    """The SDK's ``cls`` hook: keep the raw response, so money is parsed as Decimal, not float."""
    return pipeline_response


def _usage_date(value: Any) -> date:
    """UsageDate is a Number ``yyyyMMdd`` (REST reference); an ISO date string is accepted too."""
    text = str(value)
    if re.fullmatch(r"\d{8}", text):
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return date.fromisoformat(text[:10])


def _money(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise TypeError(f"cost {value!r} is not a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"cost {value!r} is not finite")
    return amount.quantize(_TWELVE_PLACES, rounding=ROUND_HALF_EVEN)


def _strings(rows: Sequence[list[Any]], i: int) -> pa.Array:
    return pa.array([None if r[i] is None else str(r[i]) for r in rows], pa.string())


def _scope_id(scope: str) -> str:
    m = _LOOKUP_SCOPE.match(scope)
    if m:
        return next(v for v in m.groupdict().values() if v)
    return scope.rsplit("/", 1)[-1]


def _scope_subscription(scope: str) -> str | None:
    m = _LOOKUP_SCOPE.match(scope)
    return m.group("sub") if m else None
