"""Emulator of the HubSpot CRM API (v3 objects, batch, search, properties, associations v4,
owners, deal pipelines) with signed webhook delivery. Facts: ``reference/api-facts.md`` §3.

The rules live in sibling modules: ``hubspot_schema`` (default properties, value validation),
``hubspot_store`` (what a write does), ``hubspot_objects`` / ``hubspot_meta`` (the routes),
``hubspot_search``, ``hubspot_webhooks`` and ``hubspot_demo``. This module wires them into an
:class:`~partner_sync.sandbox.core.Emulator`: authentication, error bodies, rate-limit headers,
seeding and the webhook admin endpoints.

Every API request needs ``Authorization: Bearer <non-empty token>`` (any token is accepted).
Rate limits: bucket ``all`` (100 requests per rolling 10 s, every API request) and ``search``
(5 per second, search requests). A 429 carries the documented body (``policyName``
``TEN_SECONDLY_ROLLING`` or ``SECONDLY``) and ``X-HubSpot-RateLimit-*`` headers; it also
carries ``Retry-After`` in seconds, which is UNCONFIRMED for the real API.

Admin (never counted, limited or faulted), besides the base class's:

- ``POST /_sandbox/webhooks`` ``{"target_url", "client_secret", "subscriptions": [...],
  "portal_id"?, "app_id"?}`` starts delivery; ``GET`` shows it; ``DELETE`` stops it.
- ``GET /_sandbox/webhooks/deliveries`` -> ``{"deliveries": [{deliveryId, attemptNumber,
  eventIds, events, status, response, error, delivered, duration_ms, ...}], "pending": n}``.
- ``POST /_sandbox/webhooks/flush`` ``{"timeout": 30}``: answers once every queued event was
  delivered or given up (504 if that takes longer than the timeout).

Seeding (``POST /_sandbox/seed`` ``{"objects": {...}}``):

- ``deals``/``contacts``/``companies``/``notes``: ``{"id"?, "properties": {...}, "createdAt"?,
  "updatedAt"?}``, validated like an API write. A new id is created (missing ids and timestamps
  filled in); an existing id is an edit made in HubSpot: the given properties are **merged** into
  the stored ones (``""`` clears one), ``hs_lastmodifieddate`` is fresh, and webhooks report it
  with ``changeSource`` ``CRM``.
- ``owners``: ``{"id"?, "email", "firstName", "lastName", "userId"?}``.
- ``properties``: a property definition plus ``"objectType"`` (created or replaced).
- ``associations``: ``{"fromObjectType", "fromObjectId", "toObjectType", "toObjectId",
  "associationTypes"?: [{"associationCategory", "associationTypeId"}]}`` (default type if absent).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from partner_sync.sandbox.core import Emulator, RateLimit, new_uuid
from partner_sync.sandbox.hubspot_demo import demo_objects
from partner_sync.sandbox.hubspot_meta import MetaRoutes
from partner_sync.sandbox.hubspot_objects import ObjectRoutes
from partner_sync.sandbox.hubspot_schema import (
    GROUP_NAMES,
    canonical_object_type,
    default_pipelines,
    default_property_definitions,
    iso_millis,
    property_definition,
)
from partner_sync.sandbox.hubspot_store import OBJECT_COLLECTIONS, CrmError, CrmStore
from partner_sync.sandbox.hubspot_webhooks import WebhookDispatcher

ApiHandler = Callable[[Request], Awaitable[Response]]

DAILY_LIMIT = 250_000
_PATH_PARAMS_BY_TYPE = ("objectType", "fromObjectType", "toObjectType")


class HubSpotEmulator(CrmStore, ObjectRoutes, MetaRoutes, Emulator):
    """HubSpot CRM as the sync sees it; see the module docstring for the admin endpoints."""

    name = "hubspot"
    collections = ("deals", "contacts", "companies", "notes", "owners", "properties", "associations")
    rate_limit_buckets = {"all": RateLimit(100, 10.0), "search": RateLimit(5, 1.0)}
    #: results one search query can page through (tests may lower it on an instance)
    search_result_cap = 10_000

    def __init__(self, rate_limits: bool = True) -> None:
        self.webhooks = WebhookDispatcher()
        self.id_counters: dict[str, int] = {}
        self.property_groups: dict[str, dict[str, dict[str, Any]]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.daily_requests = 0
        super().__init__(rate_limits=rate_limits)
        self._load_defaults()

    def _load_defaults(self) -> None:
        now = iso_millis(datetime.now(timezone.utc))
        for object_type, definitions in default_property_definitions(now).items():
            for name, definition in definitions.items():
                self.state["properties"][f"{object_type}/{name}"] = definition
        self.property_groups = {
            object_type: {group: {"name": group, "label": group.title(), "displayOrder": -1, "archived": False}}
            for object_type, group in GROUP_NAMES.items()
        }
        self.pipelines = default_pipelines(now)

    def reset(self) -> None:
        super().reset()
        self.webhooks.reset()
        self.id_counters = {}
        self.daily_requests = 0
        self._load_defaults()

    # ----------------------------------------------------------------- routing
    def register_routes(self) -> None:
        self.register_object_routes()
        self.register_meta_routes()
        self._routes.extend(self._webhook_admin_routes())

    def api_route(
        self,
        path: str,
        methods: list[str],
        handler: ApiHandler,
        template: str | None = None,
        search: bool = False,
        write: bool = False,
    ) -> None:
        """Register an API route: stats key ``"METHOD template"`` with object types filled in,
        bearer auth, standard error bodies, rate-limit headers."""
        template = template or path

        def key(request: Request) -> str:
            filled = template
            for param in _PATH_PARAMS_BY_TYPE:
                raw = request.path_params.get(param)
                if raw is not None:
                    filled = filled.replace("{" + param + "}", canonical_object_type(raw) or raw)
            return f"{request.method} {filled}"

        async def guarded(request: Request) -> Response:
            self.daily_requests += 1
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or not auth[len("Bearer "):].strip():
                return JSONResponse(_unauthenticated_body(), status_code=401)
            try:
                response = await handler(request)
            except CrmError as exc:
                response = JSONResponse(exc.body(), status_code=exc.status)
            if not search:
                response.headers.update(self._rate_limit_headers())
            return response

        buckets = ("all", "search") if search else ("all",)
        self.route(path, methods, guarded, key=key, buckets=buckets, write=write)

    def _rate_limit_headers(self) -> dict[str, str]:
        limit = self.rate_limit_buckets["all"]
        cutoff = time.monotonic() - limit.window_s
        used = sum(1 for stamp in self._windows["all"] if stamp > cutoff) if self.rate_limits_enabled else 0
        return {
            "X-HubSpot-RateLimit-Max": str(limit.limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, limit.limit - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(limit.window_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(DAILY_LIMIT),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY_LIMIT - self.daily_requests)),
        }

    def object_type_param(self, request: Request, param: str = "objectType") -> str:
        raw = request.path_params[param]
        object_type = canonical_object_type(raw)
        if object_type is None:
            raise CrmError(400, "VALIDATION_ERROR", f"Unable to infer object type from: {raw}")
        return object_type

    async def json_body(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw or b"null")
        except ValueError as exc:
            raise CrmError(400, "VALIDATION_ERROR", f"Invalid input JSON: {exc}") from exc

    # ----------------------------------------------------------------- error shapes
    def throttle_response(self, bucket: str, retry_after: float) -> Response:
        secondly = bucket == "search"
        policy = "SECONDLY" if secondly else "TEN_SECONDLY_ROLLING"
        body = {
            "status": "error",
            "message": f"You have reached your {policy.lower()} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": new_uuid(),
            "policyName": policy,
        }
        headers = {"Retry-After": str(max(1, math.ceil(retry_after)))}
        if not secondly:
            headers.update(self._rate_limit_headers())
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
        return JSONResponse(body, status_code=429, headers=headers)

    def server_error_response(self) -> Response:
        return JSONResponse(
            {"status": "error", "message": "internal error", "correlationId": new_uuid(), "category": "INTERNAL_ERROR"},
            status_code=500,
        )

    # ----------------------------------------------------------------- state and seeding
    def state_view(self) -> dict[str, list[dict[str, Any]]]:
        view = super().state_view()
        view["properties"] = [
            {"objectType": key.split("/", 1)[0], **definition} for key, definition in self.state["properties"].items()
        ]
        return view

    def seed_demo(self) -> None:
        self.seed_objects(demo_objects())

    def seed_objects(self, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        order = ("owners", "properties", "companies", "contacts", "deals", "notes", "associations")
        seeded: dict[str, list[str]] = {}
        try:
            for collection in sorted(objects, key=order.index):
                seeded[collection] = [self._seed_one(collection, item) for item in objects[collection]]
        except CrmError as exc:
            raise ValueError(f"{collection}: {exc.message}") from exc
        return seeded

    def _seed_one(self, collection: str, item: dict[str, Any]) -> str:
        now = iso_millis(datetime.now(timezone.utc))
        if collection in OBJECT_COLLECTIONS:
            object_id = str(item["id"]) if item.get("id") is not None else None
            existing = self.state[collection].get(object_id) if object_id else None
            raw = item.get("properties") or {}
            values = self.validate_properties(
                collection, raw, existing["properties"] if existing else None, seeding=True
            )
            self.unique_conflict(collection, values, object_id)
            if existing:
                self.update_record(collection, existing, values, source="CRM")
                return existing["id"]
            record = self.create_record(
                collection, values, source="CRM", object_id=object_id,
                created_at=item.get("createdAt") or raw.get("createdate"),
                updated_at=item.get("updatedAt") or raw.get("hs_lastmodifieddate"),
            )
            return record["id"]
        if collection == "owners":
            owner_id = str(item.get("id") or 100_000_000 + len(self.state["owners"]) + 1)
            self.state["owners"][owner_id] = {
                "id": owner_id,
                "email": item.get("email", ""),
                "firstName": item.get("firstName", ""),
                "lastName": item.get("lastName", ""),
                "userId": item.get("userId", int(owner_id) + 1000),
                "createdAt": item.get("createdAt", now),
                "updatedAt": now,
                "archived": bool(item.get("archived", False)),
                "teams": item.get("teams", []),
            }
            return owner_id
        if collection == "properties":
            object_type = canonical_object_type(str(item.get("objectType", "")))
            if object_type is None or not item.get("name"):
                raise ValueError("a seeded property needs objectType and name")
            body = {"label": item["name"], "type": "string", "fieldType": "text",
                    "groupName": GROUP_NAMES[object_type], **item}
            self.state["properties"][f"{object_type}/{item['name']}"] = property_definition(body, now)
            return f"{object_type}/{item['name']}"
        # associations
        from_type = canonical_object_type(str(item.get("fromObjectType", "")))
        to_type = canonical_object_type(str(item.get("toObjectType", "")))
        if from_type is None or to_type is None:
            raise ValueError("an association needs fromObjectType and toObjectType")
        specs = item.get("associationTypes")
        specs = (self.check_association_specs(from_type, to_type, specs) if specs
                 else self.default_association_spec(from_type, to_type))
        from_id, to_id = str(item.get("fromObjectId")), str(item.get("toObjectId"))
        self.associate(from_type, from_id, to_type, to_id, specs, source="CRM")
        return f"{from_type}/{from_id}/{to_type}/{to_id}"

    # ----------------------------------------------------------------- webhook admin
    def _webhook_admin_routes(self) -> list[Route]:
        async def configure(request: Request) -> Response:
            if request.method == "GET":
                return JSONResponse(self.webhooks.public_config())
            if request.method == "DELETE":
                self.webhooks.config = None
                return JSONResponse(self.webhooks.public_config())
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be an object")
                return JSONResponse(self.webhooks.configure(body))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        async def deliveries(request: Request) -> Response:
            return JSONResponse({
                "deliveries": list(self.webhooks.deliveries),
                "pending": len(self.webhooks.queue),
            })

        async def flush(request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else {}
                timeout = float(body.get("timeout", 30))
            except (ValueError, TypeError, AttributeError):
                return JSONResponse({"error": "body must be {\"timeout\": seconds}"}, status_code=400)
            flushed = await self.webhooks.flush(timeout)
            return JSONResponse(
                {"flushed": flushed, "pending": len(self.webhooks.queue),
                 "deliveries": len(self.webhooks.deliveries)},
                status_code=200 if flushed else 504,
            )

        return [
            Route("/_sandbox/webhooks", configure, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/webhooks/deliveries", deliveries, methods=["GET"]),
            Route("/_sandbox/webhooks/flush", flush, methods=["POST"]),
        ]


def _unauthenticated_body() -> dict[str, Any]:
    return {
        "status": "error",
        "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                   "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "correlationId": new_uuid(),
        "category": "INVALID_AUTHENTICATION",
    }
