"""Hook for the HubSpot CRM API (v3 objects, batch, search, properties, associations v4, owners,
pipelines) on the ``hubspot_default`` http connection: host = API base URL, password = the
private-app token, extra ``timeout`` (seconds, default 30) and ``pipeline``.

A thin adapter: one method per API operation, plain dicts in and out, no business rules.

- **Auth.** ``Authorization: Bearer <password>``. The token is registered with Airflow's secret
  masker and never logged. Unlike ``HttpHook.get_conn`` the connection extra is *not* copied into
  request headers (it holds ``webhook_secret``, which must never leave the process).
- **Pacing.** Every call acquires the process-wide limiter ``hubspot`` (95 per rolling 10 s,
  under the 100/10 s of the smallest private-app tier) and searches also ``hubspot_search``
  (5 per 1.1 s, under search's 5/s). A 429 penalises the limiter for everyone in the process.
- **Retries** (tenacity): 429 (waiting ``Retry-After``, else 1 s for the per-second search
  policy, else ``X-HubSpot-RateLimit-Interval-Milliseconds``), 5xx, connection errors and
  timeouts; exponential backoff with jitter, capped, bounded attempts.
- **Idempotency.** HubSpot creates are not idempotent: a create that timed out may have been
  applied, and retrying it could make a duplicate. So non-idempotent calls (``create_object``,
  ``batch_create``, ``create_notes``) are retried only when the request certainly was not
  applied (429, a connection never made, 500/502/503 — HubSpot answers those before committing,
  an assumption that is UNCONFIRMED); a read timeout, a dropped connection or a 504 raises
  :class:`HubSpotWriteUncertain` instead. Reads, PATCH, PUT and ``batch_upsert`` on a unique
  ``idProperty`` are idempotent and always retried: use ``batch_upsert`` to create deals.
- **Errors.** Batch 207s are reported per record in :class:`BatchResult`, never raised as a
  whole; a chunk rejected as a whole with a 4xx turns into one error per input of that chunk.
  Other 4xx raise :class:`HubSpotError` (``HubSpotNotFound``, ``HubSpotConflict``).
  Batch results echo ``objectWriteTraceId`` = the input's index in the caller's list.

(One class for one API, so the module runs a little over the usual ~400 lines; errors and batch
bookkeeping live in ``hubspot_errors``.)
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret

from partner_sync.hooks.hubspot_errors import (
    BatchResult,
    HubSpotConflict,
    HubSpotError,
    HubSpotNotFound,
    HubSpotRateLimitError,
    HubSpotServerError,
    HubSpotTransientError,
    HubSpotWriteUncertain,
    chunk_errors,
    record_error,
)
from partner_sync.rate_limit import limiter

__all__ = [
    "BatchResult",
    "HubSpotConflict",
    "HubSpotError",
    "HubSpotHook",
    "HubSpotNotFound",
    "HubSpotRateLimitError",
    "HubSpotServerError",
    "HubSpotTransientError",
    "HubSpotWriteUncertain",
]

log = logging.getLogger(__name__)

PACE = ("hubspot", 95, 10.0)
SEARCH_PACE = ("hubspot_search", 5, 1.1)
BATCH_SIZE = 100
SEARCH_PAGE_SIZE = 200
#: results one search query can page through; beyond it the hook re-queries by hs_object_id
SEARCH_RESULT_CAP = 10_000
NOTE_TO_DEAL = 214
DEFAULT_TIMEOUT_S = 30.0


def _never_sent(exc: BaseException) -> bool:
    """True for a connection failure that happened before the request was sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args[0]) if exc.args else repr(exc)
        return "NewConnectionError" in text or "ConnectionRefused" in text
    return False


class HubSpotHook(HttpHook):
    """HubSpot CRM client; see the module docstring for retries, pacing and idempotency.

    :param hubspot_conn_id: the Airflow connection (default ``hubspot_default``)
    :param max_attempts: attempts per call, first one included
    :param backoff_initial: first backoff in seconds (doubles, with jitter)
    :param backoff_max: cap of one backoff
    :param retry_after_max: cap on how long a 429's wait is honoured
    """

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot_default"
    conn_type = "http"
    hook_name = "HubSpot"

    def __init__(
        self,
        hubspot_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
    ) -> None:
        super().__init__(method="GET", http_conn_id=hubspot_conn_id)
        self.hubspot_conn_id = hubspot_conn_id
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self._session: requests.Session | None = None
        self._extra: dict[str, Any] = {}

    # ------------------------------------------------------------------ connection
    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """A session with the bearer token (built once per hook instance)."""
        if self._session is None:
            connection = self.get_connection(self.hubspot_conn_id)
            self._set_base_url(connection)
            token = connection.password
            if not token:
                raise HubSpotError(None, f"connection {self.hubspot_conn_id} has no token in its password")
            mask_secret(token)
            self._extra = dict(connection.extra_dejson or {})
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
            self._session = self._configure_session_from_mount_adapters(session)
        if headers:
            self._session.headers.update(headers)
        return self._session

    @property
    def timeout(self) -> float:
        self.get_conn()
        return float(self._extra.get("timeout", DEFAULT_TIMEOUT_S))

    @property
    def default_pipeline(self) -> str:
        self.get_conn()
        return str(self._extra.get("pipeline") or "default")

    def test_connection(self) -> tuple[bool, str]:
        try:
            self._call("GET", "/crm/v3/owners", params={"limit": 1})
        except Exception as exc:  # the UI shows the message
            return False, str(exc)
        return True, "Connection successfully tested"

    # ------------------------------------------------------------------ transport
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        search: bool = False,
    ) -> requests.Response:
        """One API operation, paced and retried; returns the 2xx response or raises."""
        session = self.get_conn()
        url = self.url_from_endpoint(path)
        pacers = [limiter(*PACE)] + ([limiter(*SEARCH_PACE)] if search else [])

        def attempt() -> requests.Response:
            for pacer in pacers:
                pacer.acquire()
            response = session.request(method, url, params=params, json=json, timeout=self.timeout)
            log.debug("HubSpot %s %s -> %s", method, path, response.status_code)
            if response.status_code < 400:
                return response
            error = HubSpotError.from_response(response)
            if isinstance(error, HubSpotRateLimitError) and error.retry_after:
                pacer = pacers[-1] if error.body.get("policyName") == "SECONDLY" else pacers[0]
                pacer.penalise(min(error.retry_after, self.retry_after_max))
            raise error

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._retryable(idempotent)),
            before_sleep=self._log_retry(method, path),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if not idempotent and not _never_sent(exc):
                raise HubSpotWriteUncertain(
                    None, f"{method} {path} may or may not have been applied: {type(exc).__name__}"
                ) from exc
            raise HubSpotTransientError(None, f"{method} {path} failed: {type(exc).__name__}") from exc
        except HubSpotServerError as exc:
            if not idempotent and exc.status == 504:
                raise HubSpotWriteUncertain(exc.status, f"{method} {path} may or may not have been applied: "
                                            f"{exc.message}", exc.category, exc.correlation_id, exc.body) from exc
            raise

    @staticmethod
    def _retryable(idempotent: bool) -> Callable[[BaseException], bool]:
        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, HubSpotRateLimitError):
                return True
            if isinstance(exc, HubSpotServerError):
                return idempotent or exc.status != 504
            if isinstance(exc, (requests.Timeout, requests.ConnectionError,
                                requests.exceptions.ChunkedEncodingError)):
                return idempotent or _never_sent(exc)
            return False

        return retryable

    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, HubSpotRateLimitError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        backoff = min(self.backoff_max, self.backoff_initial * 2 ** (retry_state.attempt_number - 1))
        return backoff * random.uniform(0.5, 1.0)

    @staticmethod
    def _log_retry(method: str, path: str) -> Callable[[tenacity.RetryCallState], None]:
        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            log.warning("HubSpot %s %s failed (%s); retry %s in %.1fs", method, path,
                        type(exc).__name__ if exc else "?", retry_state.attempt_number,
                        retry_state.next_action.sleep if retry_state.next_action else 0)

        return before_sleep

    # ------------------------------------------------------------------ objects
    def get_object(
        self, object_type: str, object_id: str, properties: Sequence[str] | None = None,
        id_property: str | None = None,
    ) -> dict[str, Any] | None:
        """One object, or None if it does not exist."""
        params: dict[str, Any] = {}
        if properties:
            params["properties"] = ",".join(properties)
        if id_property:
            params["idProperty"] = id_property
        try:
            return self._call("GET", f"/crm/v3/objects/{object_type}/{object_id}", params=params).json()
        except HubSpotNotFound:
            return None

    def create_object(
        self, object_type: str, properties: dict[str, Any], associations: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Create one object (not idempotent: see the module docstring)."""
        body: dict[str, Any] = {"properties": properties}
        if associations:
            body["associations"] = associations
        return self._call("POST", f"/crm/v3/objects/{object_type}", json=body, idempotent=False).json()

    def update_object(self, object_type: str, object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/crm/v3/objects/{object_type}/{object_id}",
                          json={"properties": properties}).json()

    def batch_read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str],
        id_property: str | None = None,
    ) -> list[dict[str, Any]]:
        """The objects that exist among ``ids`` (missing ids are simply absent), 100 per request."""
        wanted = list(dict.fromkeys([*properties, *([id_property] if id_property else [])]))
        found: list[dict[str, Any]] = []
        for chunk in _chunks(list(ids), BATCH_SIZE):
            body: dict[str, Any] = {"inputs": [{"id": str(i)} for i in chunk], "properties": wanted}
            if id_property:
                body["idProperty"] = id_property
            answer = self._call("POST", f"/crm/v3/objects/{object_type}/batch/read", json=body).json()
            found.extend(answer.get("results", []))
        return found

    def batch_create(self, object_type: str, inputs: Sequence[dict[str, Any]]) -> BatchResult:
        """Create objects 100 per request (not idempotent: see the module docstring).

        Each input is ``{"properties": {...}, "associations"?: [...]}``.
        """
        prepared = [{**record, "objectWriteTraceId": str(index)} for index, record in enumerate(inputs)]
        return self._batch_write(object_type, "create", prepared, idempotent=False)

    def batch_update(self, object_type: str, inputs: Sequence[dict[str, Any]]) -> BatchResult:
        """Update objects 100 per request; each input is ``{"id", "properties"}``."""
        prepared = [{**record, "id": str(record["id"]), "objectWriteTraceId": str(index)}
                    for index, record in enumerate(inputs)]
        return self._batch_write(object_type, "update", prepared, idempotent=True)

    def batch_upsert(self, object_type: str, inputs: Sequence[dict[str, Any]], id_property: str) -> BatchResult:
        """Create or update by a unique property, 100 per request (idempotent, safely retried).

        Each input is ``{"id": <value of id_property>, "properties": {...}}``; each result has
        ``new`` (True when created).
        """
        prepared = [{**record, "id": str(record["id"]), "idProperty": id_property, "objectWriteTraceId": str(index)}
                    for index, record in enumerate(inputs)]
        return self._batch_write(object_type, "upsert", prepared, idempotent=True)

    def _batch_write(
        self, object_type: str, operation: str, inputs: list[dict[str, Any]], idempotent: bool
    ) -> BatchResult:
        outcome = BatchResult()
        for chunk in _chunks(inputs, BATCH_SIZE):
            path = f"/crm/v3/objects/{object_type}/batch/{operation}"
            try:
                answer = self._call("POST", path, json={"inputs": chunk}, idempotent=idempotent).json()
            except HubSpotTransientError:
                raise
            except HubSpotError as exc:
                if exc.status is None or isinstance(exc, HubSpotWriteUncertain):
                    raise
                log.warning("HubSpot %s rejected a chunk of %s inputs: %s", path, len(chunk), exc.message)
                outcome.errors.extend(record_error(record, exc.status, exc.category, exc.message, {})
                                      for record in chunk)
                continue
            outcome.results.extend(answer.get("results", []))
            outcome.errors.extend(chunk_errors(chunk, answer.get("errors", [])))
        return outcome

    def search(
        self,
        object_type: str,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        sorts: list[dict[str, Any]] | None = None,
        query: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching object, 200 per page.

        Past the 10,000 results one query can page through, the search continues with a new
        query, ``hs_object_id GT <last id>``, which needs the order to be ``hs_object_id``
        ascending: the default when ``sorts`` is None. With other sorts, a result set over the
        cap raises :class:`HubSpotError` rather than return a partial list.
        """
        by_id = sorts is None
        order = [{"propertyName": "hs_object_id", "direction": "ASCENDING"}] if by_id else sorts
        last_id: str | None = None
        while True:
            groups = filter_groups if last_id is None else _after_id(filter_groups, last_id)
            after: int = 0
            fetched = 0
            while True:
                body: dict[str, Any] = {"filterGroups": groups, "properties": list(properties),
                                        "sorts": order, "limit": SEARCH_PAGE_SIZE, "after": str(after)}
                if query:
                    body["query"] = query
                page = self._call("POST", f"/crm/v3/objects/{object_type}/search", json=body, search=True).json()
                results = page.get("results", [])
                yield from results
                fetched += len(results)
                if results:
                    last_id = results[-1]["id"]
                next_after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if next_after is None or int(next_after) >= SEARCH_RESULT_CAP or not results:
                    break
                after = int(next_after)
            if fetched >= int(page.get("total", 0)) or not results:
                return
            if not by_id:
                raise HubSpotError(None, f"search of {object_type} has more than {fetched} results; "
                                   "sort by hs_object_id (sorts=None) to read them all")

    # ------------------------------------------------------------------ properties
    def get_properties(self, object_type: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/crm/v3/properties/{object_type}").json().get("results", [])

    def ensure_property_group(self, object_type: str, group: dict[str, Any]) -> str:
        """Create a property group (``{"name", "label", "displayOrder"?}``) unless it exists;
        returns ``"created"``, ``"updated"`` (label/order changed) or ``"unchanged"``."""
        try:
            self._call("POST", f"/crm/v3/properties/{object_type}/groups", json=group)
            return "created"
        except HubSpotConflict:
            pass
        path = f"/crm/v3/properties/{object_type}/groups/{group['name']}"
        existing = self._call("GET", path).json()
        changes = {k: group[k] for k in ("label", "displayOrder") if k in group and existing.get(k) != group[k]}
        if not changes:
            return "unchanged"
        self._call("PATCH", path, json=changes)
        return "updated"

    def ensure_property(self, object_type: str, definition: dict[str, Any]) -> str:
        """Create a property unless it exists; when it does, patch what differs (label,
        description, group, field type, options). Returns created/updated/unchanged."""
        try:
            self._call("POST", f"/crm/v3/properties/{object_type}", json=definition)
            return "created"
        except HubSpotConflict:
            pass
        path = f"/crm/v3/properties/{object_type}/{definition['name']}"
        existing = self._call("GET", path).json()
        changes = {
            k: definition[k] for k in ("label", "description", "groupName", "fieldType")
            if k in definition and existing.get(k) != definition[k]
        }
        if "options" in definition and _options(definition["options"]) != _options(existing.get("options", [])):
            changes["options"] = definition["options"]
        if not changes:
            return "unchanged"
        self._call("PATCH", path, json=changes)
        return "updated"

    # ------------------------------------------------------------------ associations and notes
    def batch_read_associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> dict[str, list[str]]:
        """``{from id: [to ids]}`` for every id asked (an empty list when nothing is linked); a
        primary association (label ``Primary``, e.g. a deal's primary company) comes first."""
        linked: dict[str, list[str]] = {str(i): [] for i in ids}
        for chunk in _chunks(list(linked), BATCH_SIZE):
            answer = self._call("POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                                json={"inputs": [{"id": i} for i in chunk]}).json()
            for result in answer.get("results", []):
                targets = linked.setdefault(str(result["from"]["id"]), [])
                ordered = sorted(result.get("to", []), key=lambda target: not any(
                    kind.get("label") == "Primary" for kind in target.get("associationTypes", [])))
                for target in ordered:
                    if str(target["toObjectId"]) not in targets:
                        targets.append(str(target["toObjectId"]))
        return linked

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Link two objects with the default association type (idempotent)."""
        self._call("PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")

    def create_notes(self, notes: Sequence[tuple[str, str]]) -> BatchResult:
        """One note per ``(deal_id, body)``, associated with its deal (not idempotent)."""
        timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return self.batch_create("notes", [
            {"properties": {"hs_timestamp": timestamp, "hs_note_body": body},
             "associations": [{"to": {"id": str(deal_id)}, "types": [
                 {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_DEAL}]}]}
            for deal_id, body in notes
        ])

    # ------------------------------------------------------------------ owners and pipelines
    def get_owners(self) -> list[dict[str, Any]]:
        owners: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self._call("GET", "/crm/v3/owners", params=params).json()
            owners.extend(page.get("results", []))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return owners
            params["after"] = after

    def get_owner(self, owner_id: str) -> dict[str, Any] | None:
        try:
            return self._call("GET", f"/crm/v3/owners/{owner_id}").json()
        except HubSpotNotFound:
            return None

    def get_pipeline_stages(self, pipeline_id: str | None = None) -> list[dict[str, Any]]:
        """Stages of a deal pipeline (default: the connection's ``pipeline`` extra, else ``default``)."""
        pipeline_id = pipeline_id or self.default_pipeline
        return self._call("GET", f"/crm/v3/pipelines/deals/{pipeline_id}/stages").json().get("results", [])


# ---------------------------------------------------------------------- helpers
def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _options(options: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(o.get("value")), str(o.get("label", o.get("value")))) for o in options]


def _after_id(filter_groups: list[dict[str, Any]], last_id: str) -> list[dict[str, Any]]:
    """The same filters, each group also requiring ``hs_object_id > last_id``."""
    condition = {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}
    if not filter_groups:
        return [{"filters": [condition]}]
    return [{**group, "filters": [*group.get("filters", []), condition]} for group in filter_groups]
