"""One way to talk HTTP to REST services (Prometheus, Alertmanager, ticket sinks): a requests session whose
retries are urllib3's ``Retry`` (backoff, ``Retry-After``), never a hand-written loop.

The session ignores proxy and netrc settings from the environment (``trust_env = False``), so no credential
is picked up behind the config's back; credentials are set from SecretStr config values only.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    import requests

__all__ = ["retrying_session"]


def retrying_session(
    *,
    retries: int,
    backoff_s: float,
    statuses: Collection[int],
    methods: Collection[str] | None,
    retry_connect: bool = True,
    retry_read: bool = True,
    token: SecretStr | None = None,
    username: str | None = None,
    password: SecretStr | None = None,
) -> requests.Session:
    """A session retrying ``statuses`` (honouring Retry-After) and, optionally, connect/read errors.

    ``methods`` None retries every method (only safe where the server did not process the request, e.g. 429).
    A bearer ``token`` wins over ``username`` + ``password`` (basic auth).
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=retries,
        connect=retries if retry_connect else 0,
        read=retries if retry_read else 0,
        status=retries,
        other=0,
        backoff_factor=backoff_s,
        status_forcelist=tuple(statuses),
        allowed_methods=None if methods is None else frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.trust_env = False
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    elif username is not None and password is not None:
        session.auth = (username, password.get_secret_value())
    return session
