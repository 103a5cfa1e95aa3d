"""Emulator of the Microsoft Partner Center Referrals API (api-facts §2).

Serves ``/v1.0/engagements/referrals``: create (POST, idempotent per ``MS-RequestId``), read,
list with OData ``$filter``/``$orderby``/``$top`` and ``@odata.nextLink`` paging, JSON Patch
PATCH and full-replace PUT with eTag/``If-Match`` concurrency, the status transition rules and
the 14-day expiry of unanswered incoming referrals; plus the Entra token endpoint
(``partner_center_auth``). Rules live in ``partner_center_rules``, OData in
``partner_center_odata``.

Choices the docs leave open (UNCONFIRMED, chosen to be strict rather than lenient):
- error bodies use Partner Center's generic ``{code, description, data[], source}``; the ``code``
  values here are descriptive strings, Microsoft's own codes for referrals are not documented;
- ``$top`` defaults to and is capped at 100 (a larger value is clamped, not refused);
- rate limit: 300 requests per rolling 60 s for the referrals API (no public figure);
- a create may carry any valid status/substatus pair (default New/Pending).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from partner_sync.sandbox.core import Emulator, RateLimit, utc_now
from partner_sync.sandbox.partner_center_auth import TokenIssuer
from partner_sync.sandbox.partner_center_demo import demo_referrals
from partner_sync.sandbox.partner_center_odata import ODataError, parse_datetime, parse_filter, parse_orderby
from partner_sync.sandbox.partner_center_rules import (
    READ_ONLY,
    ReferralInvalid,
    apply_patch,
    check_status,
    check_transition,
    default_substatus,
    etag_matches,
    expire_if_due,
    format_datetime,
    new_etag,
    normalise_datetime,
    validate_referral,
)

BASE = "/v1.0/engagements/referrals"
MAX_TOP = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_QUERY_OPTIONS = ("$filter", "$orderby", "$top", "$skiptoken", "$count", "$select")


def error_response(
    status: int, code: str, description: str, target: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Partner Center's generic error body (whether referrals use it is UNCONFIRMED)."""
    data = [{"target": target}] if target else []
    return JSONResponse(
        {"code": code, "description": description, "data": data, "source": "PartnerCenter.Referrals"},
        status_code=status,
        headers=headers,
    )


def _micros(value: str) -> int:
    return (parse_datetime(value) - _EPOCH) // timedelta(microseconds=1)


class PartnerCenterEmulator(Emulator):
    """Referrals API + token endpoint, in memory."""

    name = "partner_center"
    collections = ("referrals",)
    # numeric limits are UNCONFIRMED [MT]: one bucket for the referrals API
    rate_limit_buckets = {"referrals": RateLimit(limit=300, window_s=60.0)}

    def __init__(self, rate_limits: bool = True) -> None:
        self.tokens = TokenIssuer()
        #: (method, MS-RequestId) -> referral id: a repeated request replays, it does not redo
        self.request_ids: dict[tuple[str, str], str] = {}
        super().__init__(rate_limits=rate_limits)

    # ------------------------------------------------------------------ wiring
    def register_routes(self) -> None:
        referrals = ("referrals",)
        for version in ("", "/v2.0"):
            self.route(f"/{{tenant}}/oauth2{version}/token", ["POST"], self.issue_token)
        self.route(BASE, ["POST"], self.create_referral, buckets=referrals, write=True)
        self.route(BASE, ["GET"], self.list_referrals, buckets=referrals)
        self.route(f"{BASE}/{{id}}", ["GET"], self.get_referral, buckets=referrals)
        self.route(f"{BASE}/{{id}}", ["PATCH"], self.patch_referral, buckets=referrals, write=True)
        self.route(f"{BASE}/{{id}}", ["PUT"], self.put_referral, buckets=referrals, write=True)
        self._routes.append(Route("/_sandbox/tokens", self.admin_tokens, methods=["GET", "POST"]))

    def throttle_response(self, bucket: str, retry_after: float) -> Response:
        seconds = str(max(1, int(retry_after + 0.999)))
        return error_response(
            429, "TooManyRequests", f"Rate limit exceeded; retry after {seconds} s",
            headers={"Retry-After": seconds},
        )

    def server_error_response(self) -> Response:
        return error_response(500, "InternalServerError", "An internal error occurred (injected)")

    def reset(self) -> None:
        super().reset()
        self.request_ids.clear()
        self.tokens.reset_settings()

    # ------------------------------------------------------------------ state
    def referrals(self) -> dict[str, dict[str, Any]]:
        """The stored referrals, with overdue incoming ones expired first (lazy expiry)."""
        now = utc_now()
        for referral in self.state["referrals"].values():
            expire_if_due(referral, now)
        return self.state["referrals"]

    def state_view(self) -> dict[str, list[dict[str, Any]]]:
        return {"referrals": [copy.deepcopy(r) for r in self.referrals().values()]}

    def seed_objects(self, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        """Store referrals as Microsoft would return them: incoming by default; an existing id is
        replaced as a change on Microsoft's side (fresh eTag and updatedDateTime unless given)."""
        prepared = [self._prepare_seeded(dict(item)) for item in objects.get("referrals", [])]
        for referral in prepared:
            self.state["referrals"][referral["id"]] = referral
        return {"referrals": [r["id"] for r in prepared]}

    def _prepare_seeded(self, referral: dict[str, Any]) -> dict[str, Any]:
        now = format_datetime(utc_now())
        referral_id = str(referral.get("id") or uuid.uuid4())
        existing = self.state["referrals"].get(referral_id, {})
        referral["id"] = referral_id
        referral.setdefault("engagementId", existing.get("engagementId") or str(uuid.uuid4()))
        referral.setdefault("direction", "Incoming")
        referral.setdefault("status", "New")
        referral.setdefault("substatus", default_substatus(referral["status"]))
        referral.setdefault("type", "Independent")
        referral.setdefault("name", referral.get("customerProfile", {}).get("name", "Referral"))
        referral.setdefault("customerProfile", {"name": referral["name"]})
        referral.setdefault("consent", {"consentToContact": True, "consentToToShareInfoWithOthers": True})
        referral.setdefault("details", {})
        referral.setdefault("team", [])
        try:
            check_status(referral["status"], referral["substatus"])
            created = referral.get("createdDateTime") or existing.get("createdDateTime") or now
            referral["createdDateTime"] = normalise_datetime(created, "createdDateTime")
            referral["updatedDateTime"] = normalise_datetime(referral.get("updatedDateTime") or now, "updatedDateTime")
            if referral.get("expirationDateTime"):
                referral["expirationDateTime"] = normalise_datetime(referral["expirationDateTime"], "expirationDateTime")
        except ReferralInvalid as exc:
            raise ValueError(f"referral {referral_id}: {exc.message}") from exc
        referral["eTag"] = new_etag()
        return referral

    def seed_demo(self) -> None:
        self.seed_objects({"referrals": demo_referrals(utc_now())})

    # ------------------------------------------------------------------ helpers
    def unauthorised(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token and self.tokens.is_valid(token.strip()):
            return None
        return error_response(
            401, "Unauthorized", "The access token is missing, invalid or expired",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )

    @staticmethod
    async def json_body(request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except ValueError as exc:
            raise ReferralInvalid("body", "request body must be JSON") from exc

    def request_id(self, request: Request) -> str | None:
        value = request.headers.get("ms-requestid")
        if value is None:
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise ReferralInvalid("MS-RequestId", "MS-RequestId must be a GUID") from exc

    def replayed(self, method: str, request_id: str | None) -> dict[str, Any] | None:
        if request_id is None:
            return None
        referral_id = self.request_ids.get((method, request_id))
        return self.referrals().get(referral_id) if referral_id else None

    def touch(self, referral: dict[str, Any]) -> None:
        referral["updatedDateTime"] = format_datetime(utc_now())
        referral["eTag"] = new_etag()

    def precondition(self, request: Request, referral: dict[str, Any], required: bool) -> Response | None:
        if_match = request.headers.get("if-match")
        if if_match is None:
            if required:
                return error_response(428, "PreconditionRequired", "If-Match header is required", "If-Match")
            return None
        if not etag_matches(if_match, referral["eTag"]):
            return error_response(
                412, "PreconditionFailed",
                f"If-Match {if_match} does not match the current eTag of referral {referral['id']}",
                "If-Match",
            )
        return None

    @staticmethod
    def invalid(exc: ReferralInvalid) -> Response:
        return error_response(400, "InvalidInput", exc.message, exc.target)

    # ------------------------------------------------------------------ handlers
    async def issue_token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = self.tokens.token(form, v2="/v2.0/" in request.url.path)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def admin_tokens(self, request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(self.tokens.settings())
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
            return JSONResponse(self.tokens.configure(body))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def create_referral(self, request: Request) -> Response:
        if (denied := self.unauthorised(request)) is not None:
            return denied
        try:
            request_id = self.request_id(request)
            if (existing := self.replayed("POST", request_id)) is not None:
                return JSONResponse(existing, status_code=201)
            body = await self.json_body(request)
            if not isinstance(body, dict):
                raise ReferralInvalid("body", "request body must be a referral object")
            referral = {k: v for k, v in copy.deepcopy(body).items() if k not in READ_ONLY}
            referral.setdefault("status", "New")
            referral.setdefault("substatus", default_substatus(referral["status"]))
            referral.setdefault("team", [])
            referral["direction"] = "Outgoing"
            validate_referral(referral)
        except ReferralInvalid as exc:
            return self.invalid(exc)
        now = format_datetime(utc_now())
        referral.update(
            id=str(uuid.uuid4()), engagementId=str(uuid.uuid4()), createdDateTime=now, updatedDateTime=now,
            eTag=new_etag(),
        )
        if referral["status"] == "Active":
            referral["acceptedDateTime"] = now
        self.state["referrals"][referral["id"]] = referral
        if request_id is not None:
            self.request_ids[("POST", request_id)] = referral["id"]
        return JSONResponse(referral, status_code=201, headers={"Location": f"{BASE}/{referral['id']}"})

    async def get_referral(self, request: Request) -> Response:
        if (denied := self.unauthorised(request)) is not None:
            return denied
        referral = self.referrals().get(request.path_params["id"])
        if referral is None:
            return error_response(404, "NotFound", f"referral {request.path_params['id']} not found")
        return JSONResponse(referral, headers={"ETag": referral["eTag"]})

    async def list_referrals(self, request: Request) -> Response:
        if (denied := self.unauthorised(request)) is not None:
            return denied
        params = dict(request.query_params)
        try:
            unknown = sorted(k for k in params if k.startswith("$") and k not in _QUERY_OPTIONS)
            if unknown:
                raise ODataError(f"query option {', '.join(unknown)} is not supported")
            predicate = parse_filter(params["$filter"]) if params.get("$filter") else None
            order = parse_orderby(params.get("$orderby"))
            top = self._top(params.get("$top"))
            after = self._decode_skiptoken(params.get("$skiptoken"))
            selected = self._select(params.get("$select"))
            matching = [r for r in self.referrals().values() if predicate is None or predicate(r)]
        except ODataError as exc:
            return error_response(400, "InvalidODataQuery", str(exc))

        def sort_key(referral: dict[str, Any]) -> list[Any]:
            key: list[Any] = [-_micros(referral[f]) if desc else _micros(referral[f]) for f, desc in order]
            return key + [referral["id"]]

        ranked = sorted(((sort_key(r), r) for r in matching), key=lambda pair: pair[0])
        if after is not None:
            ranked = [pair for pair in ranked if pair[0] > after]
        page = ranked[:top]
        body: dict[str, Any] = {"@odata.context": f"{request.base_url}v1.0/$metadata#referrals"}
        if params.get("$count", "").lower() == "true":
            body["@odata.count"] = len(matching)
        body["value"] = [self._project(r, selected) for _, r in page]
        if len(ranked) > top:
            token = base64.urlsafe_b64encode(json.dumps(page[-1][0]).encode()).decode().rstrip("=")
            query = {k: v for k, v in params.items() if k != "$skiptoken"}
            query["$skiptoken"] = token
            body["@odata.nextLink"] = f"{request.base_url}{BASE.lstrip('/')}?{urlencode(query, quote_via=quote)}"
        return JSONResponse(body)

    @staticmethod
    def _top(value: str | None) -> int:
        if value is None:
            return MAX_TOP
        if not value.isdigit() or int(value) < 1:
            raise ODataError(f"$top must be a positive integer, not {value!r}")
        return min(int(value), MAX_TOP)

    @staticmethod
    def _decode_skiptoken(value: str | None) -> list[Any] | None:
        if not value:
            return None
        try:
            decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            if not isinstance(decoded, list):
                raise ValueError
            return decoded
        except ValueError as exc:
            raise ODataError("$skiptoken is invalid; follow @odata.nextLink as given") from exc

    @staticmethod
    def _select(value: str | None) -> list[str] | None:
        if not value:
            return None
        return [name.strip() for name in value.split(",") if name.strip()]

    @staticmethod
    def _project(referral: dict[str, Any], selected: list[str] | None) -> dict[str, Any]:
        if selected is None:
            return referral
        return {k: referral[k] for k in dict.fromkeys(["id", "eTag", *selected]) if k in referral}

    async def patch_referral(self, request: Request) -> Response:
        if (denied := self.unauthorised(request)) is not None:
            return denied
        referral_id = request.path_params["id"]
        representation = "return=representation" in request.headers.get("prefer", "").replace(" ", "")
        try:
            request_id = self.request_id(request)
            referral = self.replayed("PATCH", request_id)
            if referral is None:
                referral = self.referrals().get(referral_id)
                if referral is None:
                    return error_response(404, "NotFound", f"referral {referral_id} not found")
                if (failed := self.precondition(request, referral, required=False)) is not None:
                    return failed
                operations = await self.json_body(request)
                changed = apply_patch(referral, operations)
                check_transition(referral, changed)
                validate_referral(changed)
                self._commit(referral, changed, request_id, "PATCH")
                referral = changed
        except ReferralInvalid as exc:
            return self.invalid(exc)
        if representation:
            return JSONResponse(referral, headers={"ETag": referral["eTag"]})
        return Response(status_code=204, headers={"ETag": referral["eTag"]})

    async def put_referral(self, request: Request) -> Response:
        if (denied := self.unauthorised(request)) is not None:
            return denied
        referral_id = request.path_params["id"]
        try:
            request_id = self.request_id(request)
            referral = self.replayed("PUT", request_id)
            if referral is None:
                referral = self.referrals().get(referral_id)
                if referral is None:
                    return error_response(404, "NotFound", f"referral {referral_id} not found")
                if (failed := self.precondition(request, referral, required=True)) is not None:
                    return failed
                body = await self.json_body(request)
                if not isinstance(body, dict):
                    raise ReferralInvalid("body", "request body must be a referral object")
                changed = {k: v for k, v in copy.deepcopy(body).items() if k not in READ_ONLY}
                changed.update({k: referral[k] for k in READ_ONLY if k in referral})
                check_transition(referral, changed)
                validate_referral(changed)
                self._commit(referral, changed, request_id, "PUT")
                referral = changed
        except ReferralInvalid as exc:
            return self.invalid(exc)
        return JSONResponse(referral, headers={"ETag": referral["eTag"]})

    def _commit(self, before: dict[str, Any], after: dict[str, Any], request_id: str | None, method: str) -> None:
        """Store a changed referral: new eTag and updatedDateTime when anything changed."""
        if after != before:
            if before.get("status") != "Active" and after.get("status") == "Active":
                after["acceptedDateTime"] = format_datetime(utc_now())
            self.touch(after)
        self.state["referrals"][after["id"]] = after
        if request_id is not None:
            self.request_ids[(method, request_id)] = after["id"]
