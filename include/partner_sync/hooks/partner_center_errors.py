"""Errors of the Partner Center hook, and how they are read from a response.

Kept apart from ``partner_center.py`` (which re-exports the exception classes) so sync code
can catch them without reading the client, and so the hook module stays short.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone
from typing import Any

import requests


class PartnerCenterError(Exception):
    """A Partner Center request that failed (4xx, or a transient failure after all retries)."""

    def __init__(self, status: int, code: str | None, message: str, referral_id: str | None = None) -> None:
        super().__init__(f"Partner Center {status}{f' {code}' if code else ''}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.referral_id = referral_id


class PreconditionFailed(PartnerCenterError):
    """412: the eTag sent in ``If-Match`` is stale; re-read the referral and re-apply."""


class ReferralNotFound(PartnerCenterError):
    """404: no referral with this id."""


class PartnerCenterAuthError(PartnerCenterError):
    """The token endpoint refused the credentials, or the API refused a fresh token."""


class PartnerCenterTransientError(PartnerCenterError):
    """5xx or 429: retried; raised when the attempts are used up."""

    def __init__(self, status: int, code: str | None, message: str, retry_after: float | None = None) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


def error_details(response: requests.Response) -> tuple[str | None, str]:
    """``(code, message)`` from any error body: Partner Center's, OData's, AAD's or none."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or response.reason or "")[:500]
    if not isinstance(body, dict):
        return None, str(body)[:500]
    nested = body.get("error")
    if isinstance(nested, dict):  # OData style {"error": {"code", "message"}}
        return _text(nested.get("code")), _text(nested.get("message")) or str(nested)[:500]
    code = _text(body.get("code")) or _text(nested)
    message = (
        _text(body.get("description")) or _text(body.get("message")) or _text(body.get("error_description"))
    )
    return code, message or str(body)[:500]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (it may be a number or an HTTP date), or ``None``."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
