"""Emulator of AWS Partner Central Selling (boto3 ``partnercentral-selling``).

It speaks the AWS JSON 1.0 protocol exactly as a boto3 client sends it to ``endpoint_url``:
every operation is ``POST /`` with ``X-Amz-Target: AWSPartnerCentralSelling.<Operation>``,
``Content-Type: application/x-amz-json-1.0`` and a SigV4 ``Authorization`` header (present,
not verified). Every request is validated with :mod:`partner_sync.ace_model` (botocore's own
model: enums, patterns, lengths, required members), failures answer
``400 {"__type": "ValidationException", "Reason": "REQUEST_VALIDATION_FAILED", "ErrorList":
[...]}``; every response is validated too, and a response the model rejects is an emulator
bug: it is logged, kept in ``response_violations`` and answered with a 500
``SandboxInvalidResponse``. Errors have the real shapes (ConflictException,
ResourceNotFoundException, AccessDeniedException, ThrottlingException (400),
InternalServerException (500, injected faults), UnknownOperationException). Stats are keyed by
operation name. Rate limits follow the documented quotas: reads 10/s and 100k/24 h, writes
1/s and 10k/24 h (:func:`partner_sync.ace_model.quota_class`); other operations are not
limited (their quotas are UNCONFIRMED).

Operations: see the ``@operation`` handlers in ``partner_central_opportunities``,
``partner_central_engagements`` and ``partner_central_resources``; any other operation answers
UnknownOperationException.

Seeding (``POST /_sandbox/seed`` ``{"objects": {collection: [object, ...]}}``) — objects in
the shape the API returns them; missing ids, ARNs and dates are filled in; an object whose id
exists replaces it as a change made on AWS's side (fresh LastModifiedDate/ModifiedAt):

- ``opportunities``: a GetOpportunity response (``Catalog`` defaults to Sandbox). Extra keys
  the API never returns: ``Origin``, ``Tags``, ``AwsSubmission``, ``Submitted``. Seed an
  existing opportunity back with a new ``LifeCycle.ReviewStatus`` to move it through review.
- ``invitations``: a GetEngagementInvitation response (``Status`` defaults to PENDING,
  ``PayloadType`` from the Payload key). Extra keys: ``ParticipantType`` (RECEIVER default;
  SENDER for ones we sent) and ``OpportunityDetails`` (opportunity members revealed on
  acceptance, e.g. ``{"Customer": {"Contacts": [...]}}``).
- ``engagements``: a GetEngagement response plus ``Members`` (a list of
  ``{"CompanyName", "WebsiteUrl", "AccountId"}``: ListEngagementMembers pages through it and
  MemberCount counts it) and ``Resources`` (``[{"ResourceType": "Opportunity",
  "ResourceId": "O…", "CreatedBy": "…"}]``: ListEngagementResourceAssociations lists them).
- ``resource_snapshots``: a GetResourceSnapshot response (keyed by Arn).
- ``solutions``: a ListSolutions summary (``{"Id": "S-0000001", "Name", "Status",
  "Category"}``).
- ``users``: Partner Central users an opportunity can be assigned to (``{"Email",
  "FirstName", "LastName", "BusinessTitle"}``, keyed by lower-cased email).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from partner_sync import ace_model
from partner_sync.sandbox.core import Emulator, RateLimit, new_uuid
from partner_sync.sandbox.partner_central_engagements import EngagementOperations
from partner_sync.sandbox.partner_central_opportunities import OpportunityOperations
from partner_sync.sandbox.partner_central_resources import ResourceOperations
from partner_sync.sandbox.partner_central_support import (
    CATALOGS,
    ApiError,
    arn,
    random_suffix,
    unknown_operation,
    validation_error,
)

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSPartnerCentralSelling."
CONTENT_TYPE = "application/x-amz-json-1.0"
#: stored keys the API never returns, allowed in seeds (per collection)
SEED_EXTRAS = {
    "opportunities": {"Origin", "Tags", "AwsSubmission", "Submitted"},
    "invitations": {"ParticipantType", "OpportunityDetails"},
    "engagements": {"Members", "Resources", "Catalog", "ContextTypes"},
    "resource_snapshots": set(),
    "solutions": set(),
    "users": set(),
}


def _operation_key(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    return target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else "UnknownOperation"


class PartnerCentralEmulator(
    OpportunityOperations, EngagementOperations, ResourceOperations, Emulator
):
    """Partner Central Selling over HTTP (see the module docstring)."""

    name = "partner_central"
    collections = ("opportunities", "invitations", "engagements", "resource_snapshots",
                   "solutions", "users")
    rate_limit_buckets = {
        "read": RateLimit(10, 1.0),
        "read_daily": RateLimit(100_000, 86_400.0),
        "write": RateLimit(1, 1.0),
        "write_daily": RateLimit(10_000, 86_400.0),
    }

    def __init__(self, rate_limits: bool = True) -> None:
        self.init_store()
        #: responses the model rejected and handler crashes: emulator bugs, for tests to assert
        self.response_violations: list[str] = []
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {}
        for klass in type(self).__mro__:
            for attribute, member in vars(klass).items():
                name = getattr(member, "ace_operation", None)
                if name and name not in self.operations:
                    self.operations[name] = getattr(self, attribute)
        super().__init__(rate_limits=rate_limits)

    # ----------------------------------------------------------------- protocol
    def register_routes(self) -> None:
        # write=True: an injected timeout answers after the operation ran (the worst case)
        self.route("/", ["POST"], self._dispatch, key=_operation_key, write=True)

    def guard(self, route_key: str, buckets: tuple[str, ...]) -> Response | None:
        quota = ace_model.quota_class(route_key)
        return super().guard(route_key, (quota, f"{quota}_daily") if quota else ())

    def throttle_response(self, bucket: str, retry_after: float) -> Response:
        return self._error_response(ApiError("ThrottlingException", "Rate exceeded"))

    def server_error_response(self) -> Response:
        return self._error_response(
            ApiError("InternalServerException", "An internal error occurred (injected).", status=500)
        )

    def _error_response(self, error: ApiError) -> Response:
        return JSONResponse(
            error.body(), status_code=error.status, media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": new_uuid(), "x-amzn-ErrorType": error.error_type},
        )

    async def _dispatch(self, request: Request) -> Response:
        operation_name = _operation_key(request)
        try:
            params = self._read_request(request, await request.body())
            handler = self.operations.get(operation_name)
            if handler is None:
                if operation_name in ace_model.operation_names():
                    raise unknown_operation(
                        f"{operation_name} is part of the API but not emulated by the sandbox."
                    )
                raise unknown_operation(f"Unknown operation {operation_name}.")
            problems = ace_model.validate_input(operation_name, params)
            if problems:
                raise validation_error(problems)
            if params.get("Catalog") not in CATALOGS:
                raise validation_error([ace_model.FieldProblem(
                    "Catalog", ace_model.INVALID_VALUE, f"must be one of {', '.join(CATALOGS)}")])
            result = handler(params) or {}
        except ApiError as error:
            return self._error_response(error)
        except Exception:  # an emulator bug: answer loudly, never silently
            log.exception("partner_central emulator failed on %s", operation_name)
            self.response_violations.append(f"{operation_name}: handler crashed")
            return self._error_response(
                ApiError("SandboxInternalError", f"emulator crashed on {operation_name}", status=500)
            )
        problems = ace_model.validate_output(operation_name, result)
        if problems:
            detail = ace_model.describe(problems)
            log.error("partner_central emulator produced an invalid %s response: %s",
                      operation_name, detail)
            self.response_violations.append(f"{operation_name}: {detail}")
            return self._error_response(
                ApiError("SandboxInvalidResponse", f"{operation_name} response: {detail}", status=500)
            )
        return JSONResponse(result, media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": new_uuid()})

    def _read_request(self, request: Request, raw: bytes) -> dict[str, Any]:
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256") or "/partnercentral-selling/" not in authorization:
            raise ApiError("MissingAuthenticationTokenException",
                           "Request is missing a SigV4 signature for partnercentral-selling.",
                           status=403)
        if not request.headers.get("x-amz-target", "").startswith(TARGET_PREFIX):
            raise unknown_operation("X-Amz-Target must be AWSPartnerCentralSelling.<Operation>.")
        try:
            params = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise ApiError("SerializationException", "The request body must be a JSON object.")
        return params

    # ----------------------------------------------------------------- admin
    def reset(self) -> None:
        super().reset()
        self.init_store()
        self.response_violations.clear()

    def state_view(self) -> dict[str, list[dict[str, Any]]]:
        snapshot_shape = ace_model.output_shape("GetResourceSnapshot")
        for invitation in self.state["invitations"].values():
            self.expire(invitation)
        return {
            "opportunities": [self.opportunity_view(o) for o in self.state["opportunities"].values()],
            "invitations": [self.invitation_view(i) for i in self.state["invitations"].values()],
            "engagements": [self.engagement_view(e) for e in self.state["engagements"].values()],
            "resource_snapshots": [ace_model.project(snapshot_shape, s)
                                   for s in self.state["resource_snapshots"].values()],
            "solutions": [ace_model.project("SolutionBase", s) for s in self.state["solutions"].values()],
            "users": [dict(u) for u in self.state["users"].values()],
        }

    def seed_demo(self) -> None:
        from partner_sync.sandbox.partner_central_demo import demo_objects

        self.seed_objects(demo_objects())

    def seed_objects(self, objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        seeders = {
            "opportunities": self._seed_opportunity, "invitations": self._seed_invitation,
            "engagements": self._seed_engagement, "resource_snapshots": self._seed_snapshot,
            "solutions": self._seed_solution, "users": self._seed_user,
        }
        stored: dict[str, list[str]] = {}
        for collection, items in objects.items():
            for item in items:
                _check_seed_keys(collection, item)
                stored.setdefault(collection, []).append(seeders[collection](copy.deepcopy(item)))
        return stored

    def _seed_opportunity(self, item: dict[str, Any]) -> str:
        identifier = item.get("Id") or self.new_opportunity_id()
        existing = self.state["opportunities"].get(identifier) or {}
        catalog = item.get("Catalog") or existing.get("Catalog") or "Sandbox"
        now = self.clock.stamp()
        opportunity = {
            **{k: existing[k] for k in ("Origin", "Tags", "AwsSubmission", "Submitted") if k in existing},
            "RelatedEntityIdentifiers": existing.get("RelatedEntityIdentifiers", {}),
            "CreatedDate": existing.get("CreatedDate", now),
            **item,
            "Id": identifier, "Catalog": catalog,
        }
        opportunity.setdefault("Arn", arn(catalog, "opportunity", identifier))
        if existing or "LastModifiedDate" not in item:
            opportunity["LastModifiedDate"] = now
        _check_seed(self.opportunity_view(opportunity), "GetOpportunity", f"opportunity {identifier}")
        self.state["opportunities"][identifier] = opportunity
        self.run_snapshot_jobs(opportunity)
        return identifier

    def _seed_invitation(self, item: dict[str, Any]) -> str:
        existing = self.state["invitations"].get(item.get("Id") or "") or {}
        kept = {k: existing[k] for k in ("InvitationDate", "ExpirationDate", "Arn", "Catalog") if k in existing}
        invitation = self.store_invitation({**kept, **item})
        _check_seed(self.invitation_view(invitation), "GetEngagementInvitation",
                    f"invitation {invitation['Id']}")
        if invitation.get("ParticipantType", "RECEIVER") not in ("RECEIVER", "SENDER"):
            raise ValueError("invitation ParticipantType must be RECEIVER or SENDER")
        return invitation["Id"]

    def _seed_engagement(self, item: dict[str, Any]) -> str:
        identifier = item.get("Id") or f"eng-{random_suffix(14)}"
        existing = self.state["engagements"].get(identifier) or {}
        catalog = item.get("Catalog") or existing.get("Catalog") or "Sandbox"
        now = self.clock.stamp()
        engagement = {
            "Members": existing.get("Members", []), "Resources": existing.get("Resources", []),
            "CreatedAt": existing.get("CreatedAt", now), "CreatedBy": existing.get("CreatedBy", "AWS"),
            **item, "Id": identifier, "Catalog": catalog, "ModifiedAt": now,
        }
        engagement.pop("MemberCount", None)
        engagement.pop("ContextTypes", None)
        engagement.setdefault("Arn", arn(catalog, "engagement", identifier))
        _check_seed(self.engagement_view(engagement), "GetEngagement", f"engagement {identifier}")
        for index, member in enumerate(engagement["Members"]):
            _raise_problems(ace_model.validate_shape("EngagementMember", member, f"Members[{index}]"),
                            f"engagement {identifier}")
        for index, resource in enumerate(engagement["Resources"]):
            _raise_problems(ace_model.validate_shape(
                "EngagementResourceAssociationSummary", {"Catalog": catalog, **resource},
                f"Resources[{index}]"), f"engagement {identifier}")
        self.state["engagements"][identifier] = engagement
        return identifier

    def _seed_snapshot(self, item: dict[str, Any]) -> str:
        catalog = item.get("Catalog") or "Sandbox"
        snapshot = {"Catalog": catalog, "CreatedAt": self.clock.stamp(), "Revision": 1,
                    "ResourceType": "Opportunity", "CreatedBy": "AWS", **item}
        snapshot.setdefault("Arn", arn(catalog, "engagement",
                                       f"{snapshot.get('EngagementId')}/resource/Opportunity/"
                                       f"{snapshot.get('ResourceId')}/template/"
                                       f"{snapshot.get('ResourceSnapshotTemplateName')}/"
                                       f"revision/{snapshot['Revision']}"))
        for required in ("EngagementId", "ResourceId", "ResourceSnapshotTemplateName"):
            if not snapshot.get(required):
                raise ValueError(f"resource snapshot needs {required}")
        _check_seed(ace_model.project(ace_model.output_shape("GetResourceSnapshot"), snapshot),
                    "GetResourceSnapshot", f"resource snapshot {snapshot['Arn']}")
        self.state["resource_snapshots"][snapshot["Arn"]] = snapshot
        return snapshot["Arn"]

    def _seed_solution(self, item: dict[str, Any]) -> str:
        if not item.get("Id"):
            numbers = [int(s[2:]) for s in self.state["solutions"]] or [0]
            item["Id"] = f"S-{max(numbers) + 1:07d}"
        solution = {"Catalog": "Sandbox", "Status": "Active", "Category": "Software Product",
                    "CreatedDate": self.clock.stamp(), **item}
        _raise_problems(ace_model.validate_shape("SolutionBase", ace_model.project("SolutionBase", solution)),
                        f"solution {solution['Id']}")
        self.state["solutions"][solution["Id"]] = solution
        return solution["Id"]

    def _seed_user(self, item: dict[str, Any]) -> str:
        _raise_problems(ace_model.validate_shape("AssigneeContact", item), "user")
        self.state["users"][item["Email"].lower()] = item
        return item["Email"]


def _check_seed_keys(collection: str, item: dict[str, Any]) -> None:
    """Reject keys the collection's API shape does not have (catches typos in seeds)."""
    shapes = {
        "opportunities": ace_model.output_shape("GetOpportunity"),
        "invitations": ace_model.output_shape("GetEngagementInvitation"),
        "engagements": ace_model.output_shape("GetEngagement"),
        "resource_snapshots": ace_model.output_shape("GetResourceSnapshot"),
        "solutions": ace_model.service_model().shape_for("SolutionBase"),
        "users": ace_model.service_model().shape_for("AssigneeContact"),
    }
    unknown = set(item) - set(shapes[collection].members) - SEED_EXTRAS[collection]
    if unknown:
        raise ValueError(f"{collection}: unknown keys {sorted(unknown)}")


def _check_seed(view: dict[str, Any], operation_name: str, label: str) -> None:
    _raise_problems(ace_model.validate_output(operation_name, view), label)


def _raise_problems(problems: list[ace_model.FieldProblem], label: str) -> None:
    if problems:
        raise ValueError(f"{label} is not valid under the model: {ace_model.describe(problems)}")
