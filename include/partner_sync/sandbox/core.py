"""Shared machinery of the three emulators: state, admin endpoints, stats, rate limits, faults.

Every emulator is a Starlette app built from :class:`Emulator`. API handlers are declared with
:meth:`Emulator.route`, which gives each one a *route key* (``"POST /crm/v3/objects/deals"`` or,
for Partner Central, the operation name), and runs every API request through :meth:`Emulator.guard`
before the handler: count it in ``/_sandbox/stats``, inject configured faults, enforce the rate
limits. Admin endpoints under ``/_sandbox`` are never counted, limited or faulted.

Handlers are ``async`` and the whole sandbox runs on one event loop, so state mutations need no
locks.
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_now(millis: bool = True) -> str:
    """Current UTC time as ISO 8601 with a ``Z`` suffix."""
    now = utc_now()
    if millis:
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass
class RateLimit:
    """At most ``limit`` requests of a bucket in any rolling ``window_s`` seconds."""

    limit: int
    window_s: float


@dataclass
class Faults:
    """Fault injection settings, as posted to ``/_sandbox/faults``."""

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 5.0
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Faults:
        faults = cls()
        for name in ("error_rate", "throttle_rate", "timeout_rate", "timeout_seconds"):
            if name in body:
                value = body[name]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{name} must be a non-negative number")
                if name.endswith("_rate") and value > 1:
                    raise ValueError(f"{name} must be between 0 and 1")
                setattr(faults, name, float(value))
        if body.get("seed") is not None:
            if not isinstance(body["seed"], int):
                raise ValueError("seed must be an integer")
            faults.seed = body["seed"]
        faults.rng = random.Random(faults.seed)
        return faults

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_rate": self.error_rate,
            "throttle_rate": self.throttle_rate,
            "timeout_rate": self.timeout_rate,
            "timeout_seconds": self.timeout_seconds,
            "seed": self.seed,
        }


class Emulator:
    """Base class of an emulated API: subclasses add routes, error shapes, seeding and demo data."""

    #: short name, used in logs and by the ``serve`` command
    name: str = "emulator"
    #: collection names exposed by ``/_sandbox/state`` (in this order)
    collections: tuple[str, ...] = ()
    #: rate-limit buckets: bucket name -> RateLimit. Each route names the buckets it draws on.
    rate_limit_buckets: dict[str, RateLimit] = {}

    def __init__(self, rate_limits: bool = True) -> None:
        self.rate_limits_enabled = rate_limits
        self.state: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in self.collections}
        self.stats: collections.Counter[str] = collections.Counter()
        self.faults = Faults()
        self._windows: dict[str, collections.deque[float]] = {
            b: collections.deque() for b in self.rate_limit_buckets
        }
        self._routes: list[Route] = []
        self.register_routes()
        self.app = Starlette(routes=self._admin_routes() + self._routes)
        self.app.state.emulator = self

    # ----------------------------------------------------------------- subclass hooks
    def register_routes(self) -> None:
        """Declare the API's routes with :meth:`route`."""
        raise NotImplementedError

    def throttle_response(self, bucket: str, retry_after: float) -> Response:
        """The API's own answer to a request over a rate limit (or an injected throttle)."""
        return JSONResponse(
            {"message": f"rate limit exceeded ({bucket})"},
            status_code=429,
            headers={"Retry-After": str(max(1, round(retry_after)))},
        )

    def server_error_response(self) -> Response:
        """The API's own answer to an injected internal error."""
        return JSONResponse({"message": "injected internal error"}, status_code=500)

    def seed_objects(self, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        """Insert objects as the API would return them; fill missing ids and timestamps.

        An object whose id exists replaces it, as a change made on the service's side.
        Returns the ids stored, by collection.
        """
        raise NotImplementedError

    def seed_demo(self) -> None:
        """Load the demo scenario."""

    def state_view(self) -> dict[str, list[dict[str, Any]]]:
        return {c: list(self.state[c].values()) for c in self.collections}

    def reset(self) -> None:
        self.state = {c: {} for c in self.collections}
        self.stats.clear()
        self.faults = Faults()
        for window in self._windows.values():
            window.clear()

    # ----------------------------------------------------------------- routing
    def route(
        self,
        path: str,
        methods: list[str],
        handler: Handler,
        key: str | Callable[[Request], str] | None = None,
        buckets: tuple[str, ...] = (),
        write: bool = False,
    ) -> None:
        """Register an API route.

        ``key`` is the stats key (default ``"METHOD path"``; a callable receives the request).
        ``buckets`` are the rate-limit buckets it draws on. ``write`` routes apply the operation
        before an injected timeout (the worst case for clients: done, but unanswered).
        """

        async def endpoint(request: Request) -> Response:
            route_key = key(request) if callable(key) else (key or f"{request.method} {path}")
            blocked = self.guard(route_key, buckets)
            if blocked is not None:
                return blocked
            timeout = self.faults.timeout_rate and self.faults.rng.random() < self.faults.timeout_rate
            if timeout and not write:
                await asyncio.sleep(self.faults.timeout_seconds)
            response = await handler(request)
            if timeout and write:
                await asyncio.sleep(self.faults.timeout_seconds)
            return response

        self._routes.append(Route(path, endpoint, methods=methods))

    def guard(self, route_key: str, buckets: tuple[str, ...]) -> Response | None:
        """Count a request; return an error response if a fault or a rate limit stops it."""
        self.stats[route_key] += 1
        faults = self.faults
        if faults.error_rate and faults.rng.random() < faults.error_rate:
            return self.server_error_response()
        if faults.throttle_rate and faults.rng.random() < faults.throttle_rate:
            return self.throttle_response("injected", 1.0)
        if self.rate_limits_enabled:
            now = time.monotonic()
            for bucket in buckets:
                limit = self.rate_limit_buckets[bucket]
                window = self._windows[bucket]
                while window and window[0] <= now - limit.window_s:
                    window.popleft()
                if len(window) >= limit.limit:
                    retry_after = max(0.05, window[0] + limit.window_s - now)
                    return self.throttle_response(bucket, retry_after)
            for bucket in buckets:
                self._windows[bucket].append(now)
        return None

    # ----------------------------------------------------------------- admin endpoints
    def _admin_routes(self) -> list[Route]:
        async def stats(request: Request) -> Response:
            return JSONResponse({"total": sum(self.stats.values()), "by_route": dict(self.stats)})

        async def state(request: Request) -> Response:
            return JSONResponse(self.state_view())

        async def reset(request: Request) -> Response:
            self.reset()
            return JSONResponse({"reset": True})

        async def seed(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "body must be an object"}, status_code=400)
            if body.get("scenario") == "demo":
                self.seed_demo()
                return JSONResponse({"seeded": "demo"})
            if body.get("scenario") == "empty":
                self.reset()
                return JSONResponse({"seeded": "empty"})
            objects = body.get("objects")
            if not isinstance(objects, dict):
                return JSONResponse(
                    {"error": "give {'scenario': 'demo'} or {'objects': {collection: [...]}}"},
                    status_code=400,
                )
            unknown = sorted(set(objects) - set(self.collections))
            if unknown:
                return JSONResponse(
                    {"error": f"unknown collections {unknown}; known: {list(self.collections)}"},
                    status_code=400,
                )
            for collection, items in objects.items():
                if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                    return JSONResponse(
                        {"error": f"objects.{collection} must be a list of objects"}, status_code=400
                    )
            try:
                ids = self.seed_objects(objects)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse({"seeded": ids})

        async def faults(request: Request) -> Response:
            if request.method == "GET":
                return JSONResponse(self.faults.as_dict())
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be an object")
                self.faults = Faults.from_body(body)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            return JSONResponse(self.faults.as_dict())

        return [
            Route("/_sandbox/stats", stats, methods=["GET"]),
            Route("/_sandbox/state", state, methods=["GET"]),
            Route("/_sandbox/reset", reset, methods=["POST"]),
            Route("/_sandbox/seed", seed, methods=["POST"]),
            Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        ]
