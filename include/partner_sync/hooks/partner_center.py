"""Hook for the Microsoft Partner Center Referrals API (``/v1.0/engagements/referrals``).

A thin adapter: one method per API operation, no business rules. What it takes care of:

- **Tokens.** From the connection extra: the ``refresh_token`` grant when ``refresh_token`` is
  set, else ``client_credentials``, or a static ``access_token``. ``token_url`` overrides the
  authority (default ``https://login.microsoftonline.com/{tenant_id}/oauth2/token`` with resource
  ``https://api.partner.microsoft.com``; a ``/v2.0/`` URL is sent the ``.default`` scope instead).
  Tokens are cached process-wide per connection until shortly before expiry; a 401 triggers one
  refresh and one retry. Every secret and token is registered with Airflow's secret masker and
  never logged.
- **Idempotency.** ``MS-RequestId`` is one GUID per logical call and is reused on every retry,
  so a create retried after a timeout yields one referral (api-facts §2.4 [MH]).
  ``MS-CorrelationId`` is new per attempt.
- **Retries** (tenacity): 429 honouring ``Retry-After``, 5xx, connection errors and timeouts,
  exponential backoff with jitter and a cap, bounded attempts. Calls are paced with the
  process-wide limiter of ``partner_sync.rate_limit``.
- **Errors.** 412 → :class:`PreconditionFailed` (carrying the referral id, so sync code re-reads
  and re-applies); 404 → :class:`ReferralNotFound`; other 4xx → :class:`PartnerCenterError` with
  status, code and message.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret

from partner_sync.hooks.partner_center_errors import (
    PartnerCenterAuthError,
    PartnerCenterError,
    PartnerCenterTransientError,
    PreconditionFailed,
    ReferralNotFound,
    error_details,
    retry_after_seconds,
)
from partner_sync.rate_limit import limiter

__all__ = [
    "PartnerCenterAuthError",
    "PartnerCenterError",
    "PartnerCenterHook",
    "PartnerCenterTransientError",
    "PreconditionFailed",
    "ReferralNotFound",
    "updated_window_filter",
]

REFERRALS_PATH = "/v1.0/engagements/referrals"
RESOURCE = "https://api.partner.microsoft.com"
AUTHORITY = "https://login.microsoftonline.com"
#: client-side pace, just under the emulator's 300/60 s (Microsoft publishes no figure [MT])
PACE_LIMIT, PACE_WINDOW_S = 290, 60.0
#: refresh a cached token this long before it expires (half the lifetime for short-lived tokens)
TOKEN_MARGIN_S = 60.0
#: turns a caller's non-GUID idempotency key (e.g. "deal-123") into a stable MS-RequestId GUID
REQUEST_ID_NAMESPACE = uuid.UUID("0d7b8a46-3f7e-4f1e-9d7c-5c2f61b0a9d4")


@dataclass
class _CachedToken:
    access_token: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


_token_cache: dict[tuple[str, str, str], _CachedToken] = {}
_token_locks: dict[tuple[str, str, str], threading.Lock] = {}
_token_cache_lock = threading.Lock()


def updated_window_filter(start: datetime, end: datetime) -> str:
    """``$filter`` for referrals updated in ``[start, end)``.

    Whether the real API filters ``updatedDateTime`` with ``ge``/``lt`` is UNCONFIRMED
    (api-facts §2.3); the emulator does. Naive datetimes are taken as UTC.
    """

    def literal(moment: datetime) -> str:
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return f"updatedDateTime ge {literal(start)} and updatedDateTime lt {literal(end)}"


def _is_transient(exc: BaseException) -> bool:
    return isinstance(
        exc,
        (PartnerCenterTransientError, requests.ConnectionError, requests.Timeout,
         requests.exceptions.ChunkedEncodingError),
    )


class PartnerCenterHook(HttpHook):
    """Referrals API client on an ``http`` connection (host = API base URL, secrets in extra).

    :param partner_center_conn_id: the Airflow connection (default ``partner_center_default``)
    :param max_attempts: attempts per call, first one included
    :param backoff_initial: first backoff in seconds (doubles, with jitter)
    :param backoff_max: cap of one backoff
    :param retry_after_max: cap on how long a ``Retry-After`` is honoured
    """

    conn_name_attr = "partner_center_conn_id"
    default_conn_name = "partner_center_default"
    conn_type = "http"
    hook_name = "Microsoft Partner Center"

    def __init__(
        self,
        partner_center_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_max: float = 120.0,
    ) -> None:
        super().__init__(method="GET", http_conn_id=partner_center_conn_id)
        self.partner_center_conn_id = partner_center_conn_id
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self._session: requests.Session | None = None
        self._extra: dict[str, Any] | None = None

    # ------------------------------------------------------------------ connection
    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> requests.Session:
        """A session on the API's base URL.

        Built here rather than by ``HttpHook.get_conn``, which copies every connection extra
        into the request headers: that would send the client secret and refresh token to the
        API with every call.
        """
        if self._session is None:
            connection = self.get_connection(self.partner_center_conn_id)
            self._set_base_url(connection)
            extra = dict(connection.extra_dejson)
            for name in ("client_secret", "refresh_token", "access_token"):
                if extra.get(name):
                    mask_secret(extra[name], name)
            self._extra = extra
            session = requests.Session()
            self._configure_session_from_mount_adapters(session)
            self._session = session
        if headers:
            self._session.headers.update(headers)
        return self._session

    @property
    def extra(self) -> dict[str, Any]:
        self.get_conn()
        assert self._extra is not None
        return self._extra

    @property
    def timeout(self) -> float:
        return float(self.extra.get("timeout") or 30)

    @property
    def token_url(self) -> str:
        return self.extra.get("token_url") or f"{AUTHORITY}/{self.extra.get('tenant_id', 'common')}/oauth2/token"

    @property
    def _uses_static_token(self) -> bool:
        return bool(self.extra.get("access_token")) and not self.extra.get("client_secret")

    # ------------------------------------------------------------------ tokens
    def _cache_key(self) -> tuple[str, str, str]:
        return (self.partner_center_conn_id, self.token_url, str(self.extra.get("client_id", "")))

    def access_token(self, stale: str | None = None) -> str:
        """A valid access token; with ``stale``, one different from that rejected token."""
        if self._uses_static_token:
            return str(self.extra["access_token"])
        key = self._cache_key()
        with _token_cache_lock:
            lock = _token_locks.setdefault(key, threading.Lock())
        with lock:
            cached = _token_cache.get(key)
            if cached is not None and cached.access_token != stale and time.monotonic() < cached.refresh_at:
                return cached.access_token
            cached = self._fetch_token()
            _token_cache[key] = cached
            return cached.access_token

    def _fetch_token(self) -> _CachedToken:
        extra = self.extra
        form = {"client_id": str(extra.get("client_id", "")), "client_secret": str(extra.get("client_secret", ""))}
        if extra.get("refresh_token"):
            # the connection's refresh token stays the source of truth: AAD rotates refresh
            # tokens but keeps the old ones valid, and a hook cannot write back to a connection
            form.update(grant_type="refresh_token", refresh_token=str(extra["refresh_token"]))
        else:
            form["grant_type"] = "client_credentials"
        if "/v2.0/" in self.token_url:
            form["scope"] = str(extra.get("scope") or f"{RESOURCE}/.default")
        else:
            form["resource"] = str(extra.get("resource") or RESOURCE)

        def request_token() -> requests.Response:
            response = self.get_conn().post(self.token_url, data=form, timeout=self.timeout,
                                            headers={"Accept": "application/json"})
            if response.status_code == 429 or response.status_code >= 500:
                code, message = error_details(response)
                raise PartnerCenterTransientError(response.status_code, code, message, retry_after_seconds(response))
            return response

        # no retry loop here: a transient failure fails the attempt of the call that needed the
        # token, and that call's retry loop tries again
        response = request_token()
        if response.status_code != 200:
            code, message = error_details(response)
            raise PartnerCenterAuthError(response.status_code, code, f"token request refused: {message}")
        body = response.json()
        access_token = str(body["access_token"])
        mask_secret(access_token, "access_token")
        if body.get("refresh_token"):
            mask_secret(str(body["refresh_token"]), "refresh_token")
        lifetime = float(body.get("expires_in") or 3600)
        margin = min(TOKEN_MARGIN_S, lifetime / 2)
        self.log.info("Partner Center token acquired (%s grant, valid %.0f s)", form["grant_type"], lifetime)
        return _CachedToken(access_token, time.monotonic() + lifetime - margin)

    # ------------------------------------------------------------------ requests
    def _wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, PartnerCenterTransientError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        return tenacity.wait_exponential_jitter(initial=self.backoff_initial, max=self.backoff_max)(retry_state)

    def _log_retry(self, retry_state: tenacity.RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        self.log.warning(
            "Partner Center call failed (%s: %s); attempt %s of %s, retrying in %.1f s",
            type(exc).__name__, exc, retry_state.attempt_number, self.max_attempts, wait,
        )

    def _retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_is_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def call(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        referral_id: str | None = None,
    ) -> requests.Response:
        """One logical API call: retried as a whole under a single ``MS-RequestId``."""
        session = self.get_conn()
        url = path_or_url if "://" in path_or_url else f"{self.base_url.rstrip('/')}{path_or_url}"
        request_id = request_id or str(uuid.uuid4())

        def attempt() -> requests.Response:
            limiter("partner_center", PACE_LIMIT, PACE_WINDOW_S).acquire()
            token = self.access_token()
            response = self._send(session, method, url, token, params, json, headers, request_id)
            if response.status_code == 401 and not self._uses_static_token:
                self.log.info("Partner Center answered 401; refreshing the access token once")
                token = self.access_token(stale=token)
                response = self._send(session, method, url, token, params, json, headers, request_id)
            return self._check(response, referral_id)

        return self._retrying()(attempt)

    def _send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        token: str,
        params: dict[str, Any] | None,
        json: Any,
        headers: dict[str, str] | None,
        request_id: str,
    ) -> requests.Response:
        correlation_id = str(uuid.uuid4())
        request_headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": correlation_id,
            **(headers or {}),
        }
        response = session.request(
            method, url, params=params, json=json, headers=request_headers, timeout=self.timeout
        )
        self.log.debug(
            "Partner Center %s %s -> %s (MS-RequestId %s, MS-CorrelationId %s)",
            method, urlsplit(url).path, response.status_code, request_id, correlation_id,
        )
        return response

    def _check(self, response: requests.Response, referral_id: str | None) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        code, message = error_details(response)
        if status == 429:
            retry_after = retry_after_seconds(response)
            if retry_after:
                limiter("partner_center", PACE_LIMIT, PACE_WINDOW_S).penalise(retry_after)
            raise PartnerCenterTransientError(status, code, message, retry_after)
        if status >= 500:
            raise PartnerCenterTransientError(status, code, message)
        if status == 412:
            raise PreconditionFailed(status, code, message, referral_id)
        if status == 404:
            raise ReferralNotFound(status, code, message, referral_id)
        if status == 401:
            raise PartnerCenterAuthError(status, code, message, referral_id)
        raise PartnerCenterError(status, code, message, referral_id)

    # ------------------------------------------------------------------ operations
    def create_referral(self, referral: dict[str, Any], request_id: str | None = None) -> dict[str, Any]:
        """POST a referral; returns it as created.

        ``request_id`` is the idempotency key: pass one reserved per deal so a retried task
        cannot create a second referral. A non-GUID key is turned into a stable GUID.
        """
        if request_id is not None:
            try:
                request_id = str(uuid.UUID(request_id))
            except ValueError:
                request_id = str(uuid.uuid5(REQUEST_ID_NAMESPACE, request_id))
        response = self.call("POST", REFERRALS_PATH, json=referral, request_id=request_id)
        return response.json()

    def get_referral(self, referral_id: str) -> dict[str, Any]:
        return self.call("GET", f"{REFERRALS_PATH}/{referral_id}", referral_id=referral_id).json()

    def iter_referrals(
        self, filter: str | None = None, orderby: str | None = None, top: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every referral matching ``filter``, page by page, following ``@odata.nextLink``."""
        params: dict[str, Any] | None = {"$top": top}
        if filter:
            params["$filter"] = filter
        if orderby:
            params["$orderby"] = orderby
        next_url: str | None = REFERRALS_PATH
        pages = 0
        while next_url:
            page = self.call("GET", next_url, params=params).json()
            pages += 1
            yield from page.get("value", [])
            next_url = page.get("@odata.nextLink")
            params = None  # the next link carries the whole query
        self.log.info("Listed Partner Center referrals in %s page(s)", pages)

    def patch_referral(
        self, referral_id: str, operations: list[dict[str, Any]], etag: str | None = None
    ) -> dict[str, Any]:
        """Apply JSON Patch ``replace``/``add`` operations; returns the updated referral.

        With ``etag`` the change only applies to that version (412 → :class:`PreconditionFailed`).
        """
        headers = {"Prefer": "return=representation", "Content-Type": "application/json"}
        if etag:
            headers["If-Match"] = etag
        response = self.call(
            "PATCH", f"{REFERRALS_PATH}/{referral_id}", json=operations, headers=headers, referral_id=referral_id
        )
        if response.status_code == 204 or not response.content:
            return self.get_referral(referral_id)
        return response.json()

    def replace_referral(self, referral_id: str, referral: dict[str, Any], etag: str) -> dict[str, Any]:
        """PUT a full referral (``If-Match`` required). Prefer :meth:`patch_referral` ([MU] may be
        superseded, UNCONFIRMED)."""
        body = {k: v for k, v in referral.items() if k != "links"}
        response = self.call(
            "PUT", f"{REFERRALS_PATH}/{referral_id}", json=body, headers={"If-Match": etag}, referral_id=referral_id
        )
        return response.json()

    def test_connection(self) -> tuple[bool, str]:
        """For the Airflow UI: a token and a one-referral list."""
        try:
            next(iter(self.iter_referrals(top=1)), None)
        except Exception as exc:
            return False, str(exc)
        return True, "Connection to Partner Center succeeded"
