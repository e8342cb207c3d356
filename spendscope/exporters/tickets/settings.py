"""The ``[tickets]`` section: which ticket sinks to write to, their credentials, and the pace.

Kept free of heavy imports: spendscope.config loads it with every command. Credentials are
``SecretStr`` (set them with environment variables such as ``SPENDSCOPE_TICKETS__JIRA__API_TOKEN``):
they are sent in a header only, never in a ticket, message, log or error.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["GitHubSink", "JiraSink", "ServiceNowSink", "TicketSettings", "WebhookSink"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{parts.scheme}://{parts.hostname or ''}… is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the URL carries user:password@; use the credential fields")
    return url.rstrip("/")


class JiraSink(_Strict):
    """Jira Cloud, REST API v3: basic auth with the account's email and an API token."""

    url: str = Field(description="site URL, e.g. https://acme.atlassian.net")
    email: str = Field(min_length=3, description="the Atlassian account's email (basic auth user)")
    api_token: SecretStr = Field(description="API token (id.atlassian.com → Security → API tokens)")
    project_key: str = Field(min_length=1, description="e.g. FINOPS")
    issue_type: str = Field(default="Task", description="issue type name")
    done_transition: str = Field(
        default="Done", description="transition that closes an issue: its id (e.g. '31') or its name (e.g. 'Done')"
    )
    labels: list[str] = Field(default_factory=lambda: ["spendscope", "orphaned-resources"])

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        return _http_url(url)


class GitHubSink(_Strict):
    """GitHub Issues (REST, API version 2022-11-28): a token with Issues read and write."""

    repo: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name")
    token: SecretStr = Field(description="fine-grained or classic token (sent as Authorization: Bearer)")
    api_url: str = Field(default="https://api.github.com", description="GitHub Enterprise: https://HOST/api/v3")
    labels: list[str] = Field(default_factory=lambda: ["spendscope", "orphaned-resources"])

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        return _http_url(url)


class ServiceNowSink(_Strict):
    """ServiceNow Table API: an incident or a catalog task (sc_task) per ticket, basic auth."""

    instance_url: str = Field(description="e.g. https://acme.service-now.com")
    user: str = Field(min_length=1)
    password: SecretStr
    table: Literal["incident", "sc_task"] = "incident"
    fields: dict[str, str] = Field(
        default_factory=dict, description="extra fields on create, e.g. {assignment_group = '…', category = '…'}"
    )
    close_state: str | None = Field(
        default=None, description="state value that closes a record (default: 6 Resolved for incident, 3 for sc_task)"
    )
    close_fields: dict[str, str] = Field(
        default_factory=lambda: {"close_code": "Solution provided"},
        description="extra fields sent when closing (incident resolution needs a close_code on most instances)",
    )

    @field_validator("instance_url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        return _http_url(url)

    def closed_state(self) -> str:
        return self.close_state or ("6" if self.table == "incident" else "3")


class WebhookSink(_Strict):
    """A JSON webhook (Slack incoming webhook, Teams, or any receiver): a message per change."""

    url: SecretStr = Field(description="the webhook URL (its path is often the secret: kept out of logs)")
    details: bool = Field(
        default=False, description="add spendscope's structured fields beside `text` (for generic receivers)"
    )

    @field_validator("url")
    @classmethod
    def _webhook_url(cls, url: SecretStr) -> SecretStr:
        _http_url(url.get_secret_value())
        return url


class TicketSettings(_Strict):
    """Tickets for orphaned resources, one per owner (section ``[tickets]``); sinks left unset are off."""

    jira: JiraSink | None = None
    github: GitHubSink | None = None
    servicenow: ServiceNowSink | None = None
    webhook: WebhookSink | None = None
    max_per_run: int = Field(
        default=20, ge=0, description="tickets created, updated or closed per sync; the rest wait for the next sync"
    )
    delay_s: float = Field(default=1.0, ge=0, description="pause between two ticket operations")
    timeout_s: float = Field(default=30.0, gt=0, description="per HTTP request (connect and read)")
    retries: int = Field(default=3, ge=0, description="retries of 429 (after Retry-After) and refused connections")
    backoff_s: float = Field(default=1.0, ge=0, description="urllib3 backoff factor between retries")
    max_items_listed: int = Field(default=50, ge=1, description="resources listed in one ticket; the rest are counted")

    def configured(self) -> list[str]:
        """Names of the sinks that are set, in a fixed order."""
        return [name for name in ("jira", "github", "servicenow", "webhook") if getattr(self, name) is not None]
