"""Signed webhook delivery for the HubSpot emulator.

Configured through ``POST /_sandbox/webhooks``; afterwards every CRM change the emulator makes
becomes an event (``reference/api-facts.md`` §3.2) that is delivered asynchronously, in batches
of at most 100 events, as a JSON array POSTed to ``target_url`` with v3 signature headers:
``X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client_secret, "POST" + target_url + body +
timestamp))`` and ``X-HubSpot-Request-Timestamp`` (epoch ms). A delivery that fails to connect,
answers 4xx/5xx or takes longer than 5 s is retried with ``attemptNumber + 1`` (the real service
retries up to 10 times over 24 h; the sandbox retries ``MAX_ATTEMPTS`` times within seconds).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

log = logging.getLogger(__name__)

SUBSCRIPTION_TYPES = tuple(
    f"{object_name}.{change}"
    for object_name in ("contact", "company", "deal")
    for change in ("creation", "deletion", "propertyChange", "associationChange", "merge", "restore")
)
MAX_EVENTS_PER_REQUEST = 100
MAX_ATTEMPTS = 4
RETRY_DELAYS_S = (0.2, 0.5, 1.0)
DELIVERY_TIMEOUT_S = 5.0
MAX_IN_FLIGHT = 10
DELIVERY_LOG_SIZE = 2000


def v3_signature(client_secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    source = f"{method}{uri}{body}{timestamp}".encode()
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class WebhookDispatcher:
    """Webhook configuration, the queue of undelivered events and the delivery log."""

    def __init__(self) -> None:
        self.config: dict[str, Any] | None = None
        self.subscription_ids: dict[str, int] = {}
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.deliveries: collections.deque[dict[str, Any]] = collections.deque(maxlen=DELIVERY_LOG_SIZE)
        self._next_event_id = 1
        self._next_delivery_id = 1
        self._in_flight = 0
        self._generation = 0
        self._worker: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None

    # ----------------------------------------------------------------- configuration
    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        target_url = body.get("target_url")
        client_secret = body.get("client_secret")
        subscriptions = body.get("subscriptions", list(SUBSCRIPTION_TYPES))
        if not isinstance(target_url, str) or not target_url.startswith(("http://", "https://")):
            raise ValueError("target_url must be an http(s) URL")
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret must be a non-empty string")
        if not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions):
            raise ValueError("subscriptions must be a list of strings")
        unknown = sorted(set(subscriptions) - set(SUBSCRIPTION_TYPES))
        if unknown:
            raise ValueError(f"unknown subscriptions {unknown}; known: {list(SUBSCRIPTION_TYPES)}")
        for name in ("portal_id", "app_id"):
            if name in body and not isinstance(body[name], int):
                raise ValueError(f"{name} must be an integer")
        self.config = {
            "target_url": target_url,
            "client_secret": client_secret,
            "subscriptions": list(dict.fromkeys(subscriptions)),
            "portal_id": body.get("portal_id", 62515),
            "app_id": body.get("app_id", 54321),
        }
        self.subscription_ids = {name: 1000 + i for i, name in enumerate(SUBSCRIPTION_TYPES)}
        return self.public_config()

    def public_config(self) -> dict[str, Any]:
        if self.config is None:
            return {"configured": False}
        return {"configured": True, **{k: v for k, v in self.config.items() if k != "client_secret"}}

    def reset(self) -> None:
        self._generation += 1
        self.config = None
        self.queue.clear()
        self.deliveries.clear()
        self._next_event_id = 1
        self._next_delivery_id = 1

    # ----------------------------------------------------------------- events
    def emit(self, subscription_type: str, object_id: str, change_source: str, **fields: Any) -> None:
        """Queue one event, if a subscription asks for it."""
        if self.config is None or subscription_type not in self.config["subscriptions"]:
            return
        event = {
            "eventId": self._next_event_id,
            "subscriptionId": self.subscription_ids[subscription_type],
            "portalId": self.config["portal_id"],
            "appId": self.config["app_id"],
            "occurredAt": int(time.time() * 1000),
            "subscriptionType": subscription_type,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": change_source,
            **fields,
        }
        self._next_event_id += 1
        self.queue.append(event)
        self._kick()

    def _kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # delivered once the server's loop runs (next emit or flush)
        if self._wake is None or self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._run())
        self._wake.set()

    @property
    def idle(self) -> bool:
        return not self.queue and self._in_flight == 0

    async def flush(self, timeout_s: float) -> bool:
        """Wait until every queued event is delivered or given up; False on timeout."""
        self._kick()
        deadline = time.monotonic() + timeout_s
        while not self.idle:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    # ----------------------------------------------------------------- delivery
    async def _run(self) -> None:
        semaphore = asyncio.Semaphore(MAX_IN_FLIGHT)
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0.02)  # let a burst of changes share a request
            while self.queue and self.config is not None:
                batch = [self.queue.popleft() for _ in range(min(MAX_EVENTS_PER_REQUEST, len(self.queue)))]
                self._in_flight += 1
                await semaphore.acquire()
                asyncio.get_running_loop().create_task(
                    self._deliver(batch, dict(self.config), self._generation, semaphore)
                )
            if self.config is None:
                self.queue.clear()

    async def _deliver(
        self,
        batch: list[dict[str, Any]],
        config: dict[str, Any],
        generation: int,
        semaphore: asyncio.Semaphore,
    ) -> None:
        try:
            async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S) as client:
                for attempt in range(MAX_ATTEMPTS):
                    if generation != self._generation:
                        return
                    if await self._attempt(client, batch, config, attempt, generation):
                        return
                    if attempt < MAX_ATTEMPTS - 1:
                        await asyncio.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])
        finally:
            semaphore.release()
            self._in_flight -= 1

    async def _attempt(
        self, client: httpx.AsyncClient, batch: list[dict[str, Any]], config: dict[str, Any],
        attempt: int, generation: int,
    ) -> bool:
        events = [{**event, "attemptNumber": attempt} for event in batch]
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(int(time.time() * 1000))
        signature = v3_signature(config["client_secret"], "POST", config["target_url"], body, timestamp)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        record: dict[str, Any] = {
            "deliveryId": self._next_delivery_id,
            "target_url": config["target_url"],
            "attemptNumber": attempt,
            "eventIds": [event["eventId"] for event in events],
            "events": events,
            "timestamp": timestamp,
            "signature": signature,
        }
        self._next_delivery_id += 1
        started = time.monotonic()
        try:
            response = await client.post(config["target_url"], content=body.encode(), headers=headers)
            record.update(status=response.status_code, response=response.text[:2000], error=None)
            delivered = 200 <= response.status_code < 300
        except httpx.HTTPError as exc:
            record.update(status=None, response=None, error=f"{type(exc).__name__}: {exc}")
            delivered = False
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        record["delivered"] = delivered
        if generation == self._generation:
            self.deliveries.append(record)
        if not delivered:
            log.info("webhook delivery %s attempt %s failed: %s", record["deliveryId"], attempt,
                     record["error"] or record["status"])
        return delivered
