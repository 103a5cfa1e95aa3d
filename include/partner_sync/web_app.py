"""The FastAPI app the plugin mounts on the Airflow API server under ``/partner-sync``.

- ``POST /webhooks/hubspot``: HubSpot's webhook deliveries. Answers within HubSpot's 5-second
  timeout: 401 bad or stale signature, 400 malformed body, 413 body over 1 MiB, 202 once every
  routed event is handed to Airflow as a DAG run (one run per target DAG, id derived from the
  events so a redelivery is a 409 treated as success), 503 when Airflow could not take them
  (HubSpot then redelivers).
- ``GET /audit/{entity_id}`` and ``GET /conflicts``: read-only views of the sync store, behind
  Airflow's own authentication (a JWT from ``/auth/token``; read access to DAGs).

Airflow does not authenticate plugin apps: the webhook is authenticated by its signature, the
read endpoints by :func:`require_dag_reader`. Module imports stay light because every Airflow
process that loads plugins (task runners too) imports this module; the API server's security
code and the store are imported when a request needs them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from partner_sync import webhooks
from partner_sync.airflow_api import DEFAULT_CONN_ID as AIRFLOW_API_CONN_ID, AirflowApiClient

log = logging.getLogger(__name__)

HUBSPOT_CONN_ID = "hubspot_default"
#: how long connection lookups are reused (secret rotation takes effect within this)
CONNECTION_CACHE_TTL_S = 60.0
#: total time the handler gives Airflow to accept a delivery's runs (HubSpot waits 5 s)
TRIGGER_BUDGET_S = 4.0

Cached = TypeVar("Cached")


class TtlCache(Generic[Cached]):
    """One value, loaded by a blocking function in a thread, reused for ``ttl`` seconds."""

    def __init__(self, load: Callable[[], Cached], ttl: float = CONNECTION_CACHE_TTL_S) -> None:
        self._load = load
        self._ttl = ttl
        self._value: Cached | None = None
        self._expires_at = 0.0

    async def get(self) -> Cached:
        if self._value is None or time.monotonic() >= self._expires_at:
            self._value = await asyncio.to_thread(self._load)
            self._expires_at = time.monotonic() + self._ttl
        return self._value

    def clear(self) -> None:
        self._value = None


@dataclass(frozen=True)
class WebhookSettings:
    """What verifying a delivery needs from ``hubspot_default`` (``repr`` hides the secret)."""

    secret: str
    webhook_url: str | None

    def __repr__(self) -> str:
        return f"WebhookSettings(secret=***, webhook_url={self.webhook_url!r})"


def load_webhook_settings(conn_id: str = HUBSPOT_CONN_ID) -> WebhookSettings | None:
    """``webhook_secret`` and ``webhook_url`` from the connection's extra; ``None`` when no
    secret is configured (blocking: connection lookup)."""
    from airflow.sdk import BaseHook

    extra = BaseHook.get_connection(conn_id).extra_dejson
    secret = extra.get("webhook_secret")
    if not secret:
        return None
    return WebhookSettings(secret=secret, webhook_url=extra.get("webhook_url") or None)


@dataclass(frozen=True)
class ApiCredentials:
    """Identity of the ``airflow_api`` connection: a change means a new client."""

    base_url: str
    username: str
    password: str

    def __repr__(self) -> str:
        return f"ApiCredentials(base_url={self.base_url!r}, username={self.username!r}, password=***)"


def load_api_credentials(conn_id: str = AIRFLOW_API_CONN_ID) -> ApiCredentials:
    """The ``airflow_api`` connection's base URL, login and password (blocking lookup)."""
    from airflow.sdk import BaseHook

    from partner_sync.airflow_api import base_url_from_connection

    connection = BaseHook.get_connection(conn_id)
    return ApiCredentials(
        base_url=base_url_from_connection(connection.host, connection.schema, connection.port),
        username=connection.login or "",
        password=connection.password or "",
    )


class BodyTooLarge(Exception):
    """The request body exceeds :data:`webhooks.MAX_BODY_BYTES`."""


async def read_body_capped(request: Request, limit: int = webhooks.MAX_BODY_BYTES) -> bytes:
    """The raw body, streamed; raises :class:`BodyTooLarge` as soon as it passes ``limit``
    (on a declared Content-Length, before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


class ReceiverState:
    """Per-process state of the app: cached connections, the API client, the store."""

    def __init__(self) -> None:
        self.webhook_settings: TtlCache[WebhookSettings | None] = TtlCache(load_webhook_settings)
        self.api_credentials: TtlCache[ApiCredentials] = TtlCache(load_api_credentials)
        self._api_client: AirflowApiClient | None = None
        self._api_client_for: ApiCredentials | None = None
        self._store: Any = None
        self._store_lock = asyncio.Lock()

    async def api_client(self) -> AirflowApiClient:
        """The client for the current ``airflow_api`` connection (kept while it is unchanged,
        so its token is reused)."""
        credentials = await self.api_credentials.get()
        if self._api_client is None or self._api_client_for != credentials or self._api_client.is_closed:
            if self._api_client is not None:
                await self._api_client.aclose()
            self._api_client = AirflowApiClient(credentials.base_url, credentials.username, credentials.password)
            self._api_client_for = credentials
        return self._api_client

    async def store(self) -> Any:
        """The sync store (``partner_sync_db``), opened once."""
        async with self._store_lock:
            if self._store is None:
                from partner_sync.store import SyncStore

                self._store = await asyncio.to_thread(SyncStore.from_connection)
            return self._store

    async def aclose(self) -> None:
        if self._api_client is not None:
            await self._api_client.aclose()
            self._api_client = None


def receiver_state(request: Request) -> ReceiverState:
    return request.app.state.receiver


async def require_dag_reader(request: Request) -> Any:
    """Airflow's own authentication for the read endpoints: the caller must present a valid
    Airflow JWT (``Authorization: Bearer``, or the UI's cookie) and may read DAGs.

    The same functions the core API's routes depend on (``get_user`` then
    ``requires_access_dag("GET")``), called here rather than declared as dependencies so that
    importing this module does not import the API server's security code (task runners
    import plugins too). Raises 401 without a token, 403 with an invalid one or no access.
    """
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user, requires_access_dag

    credentials = await bearer_scheme(request)
    user = await get_user(request, None, credentials)
    await run_in_threadpool(requires_access_dag("GET"), request, user)
    return user


def _problem(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status_code, content={"detail": detail})


async def trigger_dag_runs(state: ReceiverState, plan: webhooks.DeliveryPlan) -> list[dict[str, str]]:
    """Hand every planned run to Airflow; raises on the first failure.

    One after the other, not concurrently: there are at most two (one per target DAG), a
    trigger takes tens of milliseconds, and concurrent inserts into a SQLite metadata DB
    (development, tests) contend for its write lock long enough to blow the time budget.
    """
    client = await state.api_client()
    triggered = []
    for run in plan.dag_runs:
        result = await client.trigger_dag_run(run.dag_id, run.dag_run_id, run.conf)
        triggered.append({"dag_id": run.dag_id, "dag_run_id": run.dag_run_id, "result": result})
    return triggered


async def receive_hubspot_webhook(request: Request) -> JSONResponse:
    """Verify, validate, route and trigger one HubSpot delivery (see the module docstring)."""
    state = receiver_state(request)
    started = time.monotonic()
    try:
        raw_body = await read_body_capped(request)
    except BodyTooLarge:
        log.warning("Refused a HubSpot delivery over %s bytes", webhooks.MAX_BODY_BYTES)
        return _problem(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"body exceeds {webhooks.MAX_BODY_BYTES} bytes")

    try:
        settings = await state.webhook_settings.get()
    except Exception:
        log.exception("Cannot read connection %s", HUBSPOT_CONN_ID)
        return _problem(status.HTTP_503_SERVICE_UNAVAILABLE, "webhook receiver is not configured")
    if settings is None:
        log.error("Connection %s has no webhook_secret in its extra: refusing deliveries", HUBSPOT_CONN_ID)
        return _problem(status.HTTP_503_SERVICE_UNAVAILABLE, "webhook receiver is not configured")

    uri = settings.webhook_url or str(request.url)
    try:
        webhooks.verify_signature_v3(
            secret=settings.secret,
            method=request.method,
            uri=uri,
            raw_body=raw_body,
            signature=request.headers.get(webhooks.SIGNATURE_HEADER),
            timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER),
        )
    except webhooks.SignatureError as error:
        log.warning("Refused a HubSpot delivery to %s: %s", uri, error)
        return _problem(status.HTTP_401_UNAUTHORIZED, f"invalid signature: {error}")

    try:
        events = webhooks.parse_events(raw_body)
    except webhooks.PayloadError as error:
        log.warning("Refused a malformed HubSpot delivery: %s", error)
        return _problem(status.HTTP_400_BAD_REQUEST, str(error))

    plan = webhooks.plan_delivery(events)
    dag_runs: list[dict[str, str]] = []
    if plan.dag_runs:
        try:
            dag_runs = await asyncio.wait_for(trigger_dag_runs(state, plan), TRIGGER_BUDGET_S)
        except TimeoutError:
            log.error(
                "Airflow did not accept the runs of a delivery within %ss (%s): answering 503",
                TRIGGER_BUDGET_S,
                ", ".join(f"{run.dag_id} {run.dag_run_id}" for run in plan.dag_runs),
            )
            return _problem(status.HTTP_503_SERVICE_UNAVAILABLE, "Airflow API did not answer in time")
        except Exception as error:
            log.error("Could not trigger the runs of a delivery: %s", error)
            return _problem(status.HTTP_503_SERVICE_UNAVAILABLE, "Airflow API refused or could not be reached")
    log.info(
        "Accepted a HubSpot delivery in %.0f ms: %s events, %s ignored, runs %s",
        (time.monotonic() - started) * 1000,
        len(events),
        len(plan.ignored),
        [(run["dag_id"], run["dag_run_id"], run["result"]) for run in dag_runs],
    )
    return JSONResponse(
        status_code=status.HTTP_202_ACCEPTED,
        content={"events": len(events), "ignored": len(plan.ignored), "dag_runs": dag_runs},
    )


async def get_audit_history(request: Request, entity_id: str) -> dict[str, Any]:
    """The audit entries of one entity (a deal, opportunity or referral id), oldest first."""
    store = await receiver_state(request).store()
    entries = await asyncio.to_thread(store.audit_history, entity_id)
    return {"entity_id": entity_id, "entries": entries}


async def get_conflicts(
    request: Request,
    conflict_status: str = Query("pending", alias="status"),
    deal_id: str | None = Query(None),
) -> dict[str, Any]:
    """Sync conflicts by status (``pending`` by default, ``all`` for every status), optionally
    of one deal."""
    store = await receiver_state(request).store()
    status_filter = None if conflict_status == "all" else conflict_status
    conflicts = await asyncio.to_thread(store.list_conflicts, status=status_filter, deal_id=deal_id)
    return {"status": conflict_status, "deal_id": deal_id, "conflicts": conflicts}


def create_app() -> FastAPI:
    """The app, with its per-process :class:`ReceiverState` (closed on shutdown)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.receiver.aclose()

    app = FastAPI(
        title="partner-sync",
        description="HubSpot webhook receiver and read-only sync views of the partner-sync DAG package.",
        lifespan=lifespan,
    )
    app.state.receiver = ReceiverState()
    app.add_api_route(
        "/webhooks/hubspot",
        receive_hubspot_webhook,
        methods=["POST"],
        status_code=status.HTTP_202_ACCEPTED,
        summary="Receive a HubSpot webhook delivery (signature v3)",
    )
    readers = [Depends(require_dag_reader)]
    app.add_api_route("/audit/{entity_id}", get_audit_history, methods=["GET"], dependencies=readers)
    app.add_api_route("/conflicts", get_conflicts, methods=["GET"], dependencies=readers)
    return app
