"""Async client of Airflow's REST API v2, as the webhook receiver uses it to trigger DAG runs.

Credentials come from the ``airflow_api`` connection (http: host = API server base URL,
login/password). A JWT is obtained from ``POST {base}/auth/token`` (the auth manager's token
endpoint, 201 ``{"access_token": ...}``), kept until shortly before its ``exp`` and refreshed
once when the API answers 401.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "airflow_api"
#: how long before its expiry a token is replaced
TOKEN_REFRESH_MARGIN_S = 60.0
#: assumed lifetime of a token whose ``exp`` cannot be read
FALLBACK_TOKEN_LIFETIME_S = 300.0


class AirflowApiError(RuntimeError):
    """The Airflow API refused a request or could not be reached."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def base_url_from_connection(host: str | None, schema: str | None = None, port: int | None = None) -> str:
    """The API server's base URL from an http connection's fields, as ``HttpHook`` builds it."""
    if not host:
        raise AirflowApiError("connection has no host (the Airflow API server base URL)")
    base_url = host if "://" in host else f"{schema or 'http'}://{host}"
    if port:
        base_url = f"{base_url}:{port}"
    return base_url.rstrip("/")


def token_expiry(access_token: str, now: float) -> float:
    """When ``access_token`` expires (epoch s), from its ``exp`` claim, unverified: the API
    server verifies it; we only need to know when to ask for a new one."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
        return float(claims["exp"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return now + FALLBACK_TOKEN_LIFETIME_S


class AirflowApiClient:
    """Triggers DAG runs through ``/api/v2`` with a cached JWT.

    Use one instance per process and event loop (it keeps an ``httpx.AsyncClient``); close it
    with :meth:`aclose` or ``async with``.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)
        self._access_token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    @classmethod
    def from_connection(cls, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> AirflowApiClient:
        """A client for the API server the connection ``conn_id`` describes (blocking lookup)."""
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(conn_id)
        base_url = base_url_from_connection(connection.host, connection.schema, connection.port)
        return cls(base_url, connection.login or "", connection.password or "", **kwargs)

    async def __aenter__(self) -> AirflowApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def access_token(self, *, refresh: bool = False) -> str:
        """A valid JWT, from the cache unless it is about to expire or ``refresh`` is set."""
        async with self._token_lock:
            now = time.time()
            if refresh or self._access_token is None or now >= self._token_expires_at - TOKEN_REFRESH_MARGIN_S:
                self._access_token = await self._request_token()
                self._token_expires_at = token_expiry(self._access_token, now)
            return self._access_token

    async def _request_token(self) -> str:
        try:
            response = await self._http.post(
                "/auth/token", json={"username": self.username, "password": self._password}
            )
        except httpx.HTTPError as error:
            raise AirflowApiError(f"cannot reach {self.base_url}/auth/token: {error!r}") from error
        if response.status_code not in (200, 201):
            raise AirflowApiError(
                f"POST /auth/token for user {self.username!r} answered {response.status_code}",
                response.status_code,
            )
        return response.json()["access_token"]

    async def _authorized_post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST with the cached token; on a 401 get a fresh token and try once more."""
        token = await self.access_token()
        for attempt in (1, 2):
            try:
                response = await self._http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as error:
                raise AirflowApiError(f"cannot reach {self.base_url}{path}: {error!r}") from error
            if response.status_code != 401 or attempt == 2:
                return response
            log.info("Airflow API answered 401 to POST %s; refreshing the token once", path)
            token = await self.access_token(refresh=True)
        raise AssertionError("unreachable")

    async def trigger_dag_run(self, dag_id: str, dag_run_id: str, conf: dict[str, Any]) -> str:
        """Create a queued manual run; ``"created"``, or ``"exists"`` when ``dag_run_id`` was
        already triggered (409). Raises :class:`AirflowApiError` on anything else."""
        path = f"/api/v2/dags/{dag_id}/dagRuns"
        response = await self._authorized_post(
            path, {"dag_run_id": dag_run_id, "logical_date": None, "conf": conf}
        )
        if response.status_code in (200, 201):
            log.info("Triggered %s run %s", dag_id, dag_run_id)
            return "created"
        if response.status_code == 409:
            log.info("Run %s of %s already exists (redelivery)", dag_run_id, dag_id)
            return "exists"
        raise AirflowApiError(
            f"POST {path} answered {response.status_code}: {response.text[:500]}", response.status_code
        )
