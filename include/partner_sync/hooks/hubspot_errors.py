"""Errors of the HubSpot hook, how they are read from a response, and batch outcomes (which
input of a batch failed, matched through ``objectWriteTraceId`` or ``ids``).

Kept apart from ``hubspot.py`` (which re-exports them) so sync code can catch them without
reading the client. Every field of HubSpot's error body is optional (api-facts §3.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests


class HubSpotError(Exception):
    """A HubSpot request that failed: a 4xx, or a transient failure once the attempts ran out."""

    def __init__(
        self,
        status: int | None,
        message: str,
        category: str | None = None,
        correlation_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"HubSpot {status}{f' {category}' if category else ''}: {message}")
        self.status = status
        self.message = message
        self.category = category
        self.correlation_id = correlation_id
        self.body = body or {}

    @classmethod
    def from_response(cls, response: requests.Response) -> HubSpotError:
        body = response_body(response)
        message = str(body.get("message") or response.reason or "")[:2000]
        kind: type[HubSpotError] = cls
        if response.status_code == 429:
            kind = HubSpotRateLimitError
        elif response.status_code >= 500:
            kind = HubSpotServerError
        elif response.status_code == 404:
            kind = HubSpotNotFound
        elif response.status_code == 409:
            kind = HubSpotConflict
        error = kind(response.status_code, message, body.get("category") or body.get("errorType"),
                     body.get("correlationId"), body)
        if isinstance(error, HubSpotRateLimitError):
            error.retry_after = rate_limit_wait(response, body)
        return error


class HubSpotNotFound(HubSpotError):
    """404: no such object, property, owner or pipeline."""


class HubSpotConflict(HubSpotError):
    """409: a property or group that exists, or a unique value already taken."""


class HubSpotTransientError(HubSpotError):
    """Retried by the hook; raised when the attempts are used up (the task should retry)."""


class HubSpotRateLimitError(HubSpotTransientError):
    """429; ``retry_after`` is how long HubSpot asked us to wait (seconds), if it said."""

    retry_after: float | None = None


class HubSpotServerError(HubSpotTransientError):
    """5xx."""


class HubSpotWriteUncertain(HubSpotError):
    """A non-idempotent write (a create) timed out or lost its connection after being sent.

    HubSpot may or may not have applied it, so the hook does not retry it: the caller must look
    before writing again (e.g. search by a unique property) or use ``batch_upsert``.
    """


def response_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": (response.text or "")[:500]}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}


def rate_limit_wait(response: requests.Response, body: dict[str, Any]) -> float | None:
    """Seconds to wait after a 429: ``Retry-After`` (UNCONFIRMED that HubSpot sends it), else one
    second for the per-second search policy, else the rolling window's length, else None."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    if body.get("policyName") == "SECONDLY":
        return 1.0
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.isdigit():
        return int(interval) / 1000
    return None


@dataclass
class BatchResult:
    """Outcome of a batch write: the objects written and one error per failed input.

    Each error is ``{"index", "id", "status", "category", "message", "context"}`` where
    ``index`` is the position of the input in the list the caller passed and ``id`` its id
    (update/upsert) or None (create).
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def extend(self, other: BatchResult) -> None:
        self.results.extend(other.results)
        self.errors.extend(other.errors)


_CATEGORY_STATUS = {"VALIDATION_ERROR": 400, "OBJECT_NOT_FOUND": 404, "CONFLICT": 409}


def record_error(
    record: dict[str, Any], status: int | None, category: str | None, message: str, context: dict[str, Any]
) -> dict[str, Any]:
    index = record.get("objectWriteTraceId")
    return {
        "index": int(index) if index is not None and str(index).isdigit() else None,
        "id": record.get("id"),
        "status": status,
        "category": category,
        "message": message,
        "context": context,
    }


def chunk_errors(chunk: list[dict[str, Any]], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per failed input, matched through ``objectWriteTraceId`` or ``ids``."""
    by_trace = {str(record["objectWriteTraceId"]): record for record in chunk}
    by_id = {str(record["id"]): record for record in chunk if record.get("id") is not None}
    matched: list[dict[str, Any]] = []
    for error in errors:
        context = error.get("context") or {}
        records = [by_trace[t] for t in context.get("objectWriteTraceId", []) if t in by_trace]
        if not records:
            records = [by_id[i] for i in context.get("ids", []) if i in by_id]
        for record in records or [{}]:
            category = error.get("category")
            matched.append(record_error(record, _CATEGORY_STATUS.get(category), category,
                                         error.get("message", ""), context))
    return matched
