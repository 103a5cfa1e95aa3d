"""HubSpot webhook deliveries: signature v3 verification, payload validation, routing to DAGs.

Pure functions, no I/O: the FastAPI receiver (``partner_sync.web_app``) reads the request and
the connection, calls these, and hands the resulting :class:`DagRunRequest` objects to the
Airflow REST API. Facts used here (``reference/api-facts.md`` §3.1–3.2):

- ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(secret, method + uri + raw body + timestamp)),
  ``X-HubSpot-Request-Timestamp`` in epoch milliseconds, rejected when older than 5 minutes.
- A delivery is a JSON array of at most 100 events; ``eventId`` is not unique, duplicates and
  redeliveries happen, order is not guaranteed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError, model_validator

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
#: a delivery larger than this is refused with 413
MAX_BODY_BYTES = 1024 * 1024
#: HubSpot batches at most 100 events per request
MAX_EVENTS = 100
#: HubSpot's documented replay window for v3 signatures
SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000

DEAL_SYNC_DAG = "hubspot_deal_sync"
CONTACT_COMPANY_SYNC_DAG = "contact_company_sync"

#: deal properties whose change is pushed to the partner side; other deal changes are ignored
DEAL_SYNC_PROPERTIES = frozenset(
    {
        "dealname",
        "dealstage",
        "amount",
        "closedate",
        "description",
        "hubspot_owner_id",
        "deal_currency_code",
        "pipeline",
    }
)
#: properties this integration writes itself: a change to one is an echo of our own write
ECHO_PROPERTY_PREFIXES = ("aws_", "microsoft_")
ECHO_PROPERTIES = frozenset({"customer_name"})

DEAL_SYNC_ACTIONS = frozenset({"creation", "propertyChange", "associationChange", "restore"})
#: objects whose associations the sync reads (a deal's company and contacts, a contact's
#: company); an association with anything else — a note above all, which the integration
#: itself adds to deals — changes nothing that is synced
SYNCED_ASSOCIATION_OBJECTS = frozenset({"DEAL", "CONTACT", "COMPANY"})
CONTACT_COMPANY_ACTIONS = frozenset({"propertyChange", "associationChange", "merge"})
DELETION_ACTIONS = frozenset({"deletion", "privacyDeletion"})

_EVENT_TYPE = re.compile(r"^[a-z][a-z_]*\.[a-zA-Z]+$")


class SignatureError(Exception):
    """The delivery's v3 signature is missing, stale or does not match (answer 401)."""


class PayloadError(ValueError):
    """The delivery's body is not a valid batch of HubSpot events (answer 400)."""


# --------------------------------------------------------------------------- signature v3


def signature_v3(secret: str, method: str, uri: str, raw_body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp)), as HubSpot signs."""
    message = method.upper().encode() + uri.encode() + raw_body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    raw_body: bytes,
    signature: str | None,
    timestamp: str | None,
    now_ms: int | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is HubSpot's v3 signature of the
    request and ``timestamp`` (epoch ms) is within :data:`SIGNATURE_MAX_AGE_MS` of now."""
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    try:
        timestamp_ms = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not epoch milliseconds") from None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now_ms - timestamp_ms) > SIGNATURE_MAX_AGE_MS:
        raise SignatureError(f"{TIMESTAMP_HEADER} is outside the 5-minute window")
    expected = signature_v3(secret, method, uri, raw_body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise SignatureError("signature does not match")


# --------------------------------------------------------------------------- payload


class HubSpotEvent(BaseModel):
    """One webhook event as HubSpot sends it; unknown fields are kept (HubSpot adds some)."""

    model_config = ConfigDict(extra="allow")

    eventId: StrictInt
    subscriptionId: StrictInt
    portalId: StrictInt
    occurredAt: StrictInt
    objectId: StrictInt
    attemptNumber: StrictInt
    subscriptionType: StrictStr | None = None
    eventType: StrictStr | None = None
    appId: StrictInt | None = None
    changeSource: StrictStr | None = None
    changeFlag: StrictStr | None = None
    sourceId: StrictStr | None = None
    propertyName: StrictStr | None = None
    propertyValue: StrictStr | None = None
    # associationChange
    associationType: StrictStr | None = None
    fromObjectId: StrictInt | None = None
    toObjectId: StrictInt | None = None
    associationRemoved: StrictBool | None = None
    isPrimaryAssociation: StrictBool | None = None
    # merge
    primaryObjectId: StrictInt | None = None
    mergedObjectIds: list[StrictInt] | None = None
    newObjectId: StrictInt | None = None

    @model_validator(mode="after")
    def _check_type_and_action_fields(self) -> HubSpotEvent:
        kind = self.subscriptionType if self.subscriptionType is not None else self.eventType
        if kind is None:
            raise ValueError("subscriptionType (or eventType) is required")
        if not _EVENT_TYPE.match(kind):
            raise ValueError(f"subscriptionType {kind!r} is not of the form object.action")
        action = kind.split(".", 1)[1]
        if action == "propertyChange" and self.propertyName is None:
            raise ValueError("propertyName is required for a propertyChange event")
        if action == "associationChange":
            missing = [
                name
                for name in ("associationType", "fromObjectId", "toObjectId")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} required for an associationChange event")
        if self.attemptNumber < 0:
            raise ValueError("attemptNumber must be >= 0")
        return self


def event_type(event: Mapping[str, Any]) -> str:
    """The event's ``object.action`` (``subscriptionType``, or ``eventType`` in newer docs)."""
    kind = event.get("subscriptionType")
    return kind if kind is not None else event.get("eventType", "")


def _describe_error(index: int, error: Mapping[str, Any]) -> str:
    """``event[3].eventId: Input should be a valid integer`` from one pydantic error."""
    path = ".".join(str(part) for part in error["loc"])
    where = f"event[{index}].{path}" if path else f"event[{index}]"
    return f"{where}: {error['msg']}"


def parse_events(raw_body: bytes) -> list[dict[str, Any]]:
    """The delivery's events, validated, as received (the original dicts, not normalised).

    Raises :class:`PayloadError` naming the event index and field on anything malformed.
    """
    try:
        events = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError) as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None
    if not isinstance(events, list):
        raise PayloadError("body must be a JSON array of events")
    if not 1 <= len(events) <= MAX_EVENTS:
        raise PayloadError(f"body must hold 1 to {MAX_EVENTS} events, got {len(events)}")
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise PayloadError(f"event[{index}]: must be a JSON object")
        try:
            HubSpotEvent.model_validate(event)
        except ValidationError as error:
            messages = [_describe_error(index, detail) for detail in error.errors()]
            raise PayloadError("; ".join(messages)) from None
    return events


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class RoutingDecision:
    """Where one event goes: a DAG id, or ``None`` with the reason it is ignored."""

    dag_id: str | None
    reason: str


def is_echo_property(property_name: str) -> bool:
    """Whether a property is one this integration writes (its change is our own echo)."""
    return property_name in ECHO_PROPERTIES or property_name.startswith(ECHO_PROPERTY_PREFIXES)


def is_synced_association(association_type: str) -> bool:
    """``DEAL_TO_COMPANY``, ``CONTACT_TO_COMPANY``… yes; ``DEAL_TO_NOTE``, ``DEAL_TO_LINE_ITEM``… no."""
    ends = association_type.upper().split("_TO_")
    return len(ends) == 2 and set(ends) <= SYNCED_ASSOCIATION_OBJECTS


def route_event(event: Mapping[str, Any]) -> RoutingDecision:
    """The DAG that handles ``event``, or why none does."""
    kind = event_type(event)
    object_type, _, action = kind.partition(".")
    if action in DELETION_ACTIONS:
        return RoutingDecision(None, f"{kind}: deletions are not synced")
    property_name = event.get("propertyName")
    if action == "propertyChange" and property_name and is_echo_property(property_name):
        return RoutingDecision(None, f"{kind} of {property_name}: echo of the integration's own write")
    association = event.get("associationType")
    if action == "associationChange" and association and not is_synced_association(str(association)):
        return RoutingDecision(None, f"{kind} {association}: not an association the sync reads")
    if object_type == "deal" and action in DEAL_SYNC_ACTIONS:
        if action == "propertyChange" and property_name not in DEAL_SYNC_PROPERTIES:
            return RoutingDecision(None, f"{kind} of {property_name}: property not synced")
        return RoutingDecision(DEAL_SYNC_DAG, kind)
    if object_type in ("contact", "company") and action in CONTACT_COMPANY_ACTIONS:
        return RoutingDecision(CONTACT_COMPANY_SYNC_DAG, kind)
    return RoutingDecision(None, f"{kind}: not a synced event type")


def event_key(event: Mapping[str, Any]) -> tuple[int, int, str, int]:
    """What identifies one event (HubSpot says ``eventId`` alone is not unique)."""
    return (event["eventId"], event["objectId"], event_type(event), event["occurredAt"])


def dag_run_id_for(events: Sequence[Mapping[str, Any]]) -> str:
    """A run id derived from the events only, so a redelivery maps to the same run (a 409)."""
    keys = sorted(set(event_key(event) for event in events))
    digest = hashlib.sha256(json.dumps(keys, separators=(",", ":")).encode()).hexdigest()
    return f"webhook__{digest[:32]}"


@dataclass(frozen=True)
class DagRunRequest:
    """One DAG run to trigger for a delivery: the events that DAG handles, as received."""

    dag_id: str
    dag_run_id: str
    conf: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryPlan:
    """The runs one delivery triggers (at most one per DAG) and the events it ignores."""

    dag_runs: list[DagRunRequest]
    ignored: list[tuple[Mapping[str, Any], str]]


def plan_delivery(events: Sequence[Mapping[str, Any]]) -> DeliveryPlan:
    """Group a delivery's events by target DAG: one run request per DAG, ignored events apart."""
    by_dag: dict[str, list[Mapping[str, Any]]] = {}
    ignored: list[tuple[Mapping[str, Any], str]] = []
    for event in events:
        decision = route_event(event)
        if decision.dag_id is None:
            log.info(
                "Ignoring HubSpot event %s on object %s: %s", event.get("eventId"), event.get("objectId"), decision.reason
            )
            ignored.append((event, decision.reason))
        else:
            by_dag.setdefault(decision.dag_id, []).append(event)
    dag_runs = [
        DagRunRequest(dag_id=dag_id, dag_run_id=dag_run_id_for(dag_events), conf={"events": list(dag_events)})
        for dag_id, dag_events in sorted(by_dag.items())
    ]
    return DeliveryPlan(dag_runs=dag_runs, ignored=ignored)
