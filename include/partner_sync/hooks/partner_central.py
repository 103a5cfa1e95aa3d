"""Airflow hook for AWS Partner Central Selling (ACE): a thin boto3 ``partnercentral-selling``
adapter on the ``aws_partner_central`` connection.

Each method is one boto3 call with the service's own parameter names; ``Catalog`` is filled
in from the connection extra ``catalog`` (``Sandbox`` by default, ``AWS`` in production) and
``ResponseMetadata`` is dropped from results. ``iter_*`` methods page through every result
with boto3's paginators. botocore ``ClientError`` propagates unchanged; :func:`error_code`,
:func:`error_reason` and :func:`error_fields` read it.

Resilience, all configurable in the connection extra:

- ``endpoint_url``: honoured by the provider's ``AwsConnectionWrapper`` (the sandbox uses it).
- retries: botocore ``standard`` mode (``max_attempts``, default 6) retries
  ThrottlingException, 5xx and timeouts with jittered exponential backoff; ClientTokens are
  generated before the first attempt, so a retried create cannot duplicate.
- ``timeout`` (seconds, default 30): connect and read timeouts.
- ``pacing`` (default true): every HTTP attempt first takes a slot from the process-wide
  limiters of :mod:`partner_sync.rate_limit`, ``partner_central_write`` (1 per 1.05 s) or
  ``partner_central_read`` (10 per 1.05 s), so a task stays under ACE's quotas instead of
  discovering them through ThrottlingException. Turn it off only against a sandbox without
  rate limits.

Business rules are not checked here: :meth:`PartnerCentralHook.preflight` checks a request
against botocore's model only (:mod:`partner_sync.ace_model`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
from botocore.config import Config
from botocore.exceptions import ClientError

from partner_sync import ace_model
from partner_sync.ace_model import FieldProblem
from partner_sync.rate_limit import RateLimiter, limiter

log = logging.getLogger(__name__)

DEFAULT_CATALOG = "Sandbox"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ATTEMPTS = 6
#: ACE allows 1 write/s and 10 reads/s; the extra 5 % keeps clock jitter from tipping us over
#: (reads paced at exactly 10 per 1 s drew ThrottlingException on ~5 % of a run of GetOpportunity)
WRITE_LIMIT = (1, 1.05)
READ_LIMIT = (10, 1.05)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


class PartnerCentralHook(AwsGenericHook):
    """Interact with AWS Partner Central Selling through boto3.

    :param aws_conn_id: the AWS connection (``aws_partner_central``).
    :param catalog: override the connection's ``catalog`` extra.
    :param pacing: override the connection's ``pacing`` extra (client-side rate limiting).
    """

    default_conn_name = "aws_partner_central"
    hook_name = "AWS Partner Central Selling"

    def __init__(
        self,
        aws_conn_id: str | None = default_conn_name,
        catalog: str | None = None,
        pacing: bool | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs["client_type"] = "partnercentral-selling"
        super().__init__(aws_conn_id=aws_conn_id, **kwargs)
        self._catalog = catalog
        self._pacing = pacing

    # ----------------------------------------------------------------- connection
    @property
    def _extra(self) -> dict[str, Any]:
        return self.conn_config.extra_config or {}

    @property
    def catalog(self) -> str:
        return self._catalog or self._extra.get("catalog") or DEFAULT_CATALOG

    @property
    def pacing(self) -> bool:
        return self._pacing if self._pacing is not None else _truthy(self._extra.get("pacing", True))

    @property
    def config(self) -> Config:
        """Standard-mode retries and timeouts from the extra, overridden by an explicit config
        (hook argument or ``config_kwargs`` extra) where that sets them."""
        timeout = float(self._extra.get("timeout", DEFAULT_TIMEOUT_S))
        attempts = int(self._extra.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
        ours = Config(
            retries={"mode": "standard", "max_attempts": attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        explicit = self.conn_config.botocore_config
        return ours.merge(explicit) if explicit is not None else ours

    def get_client_type(self, *args: Any, **kwargs: Any) -> Any:
        client = super().get_client_type(*args, **kwargs)
        if self.pacing:
            # before-send fires once per HTTP attempt, so retries are paced too
            client.meta.events.register("before-send.partnercentral-selling", self._pace)
        return client

    @staticmethod
    def limiter_for(operation: str) -> RateLimiter:
        """The process-wide limiter an operation draws on (:func:`ace_model.pacing_class`)."""
        if ace_model.pacing_class(operation) == "write":
            return limiter("partner_central_write", *WRITE_LIMIT)
        return limiter("partner_central_read", *READ_LIMIT)

    def _pace(self, event_name: str = "", **kwargs: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        waited = self.limiter_for(operation).acquire()
        if waited > 0.5:
            log.debug("Paced %s for %.2f s to stay under the Partner Central quota", operation, waited)
        return None  # a non-None value from before-send would replace the HTTP response

    def test_connection(self) -> tuple[bool, str]:
        """Airflow UI "Test": one ListSolutions call in the configured catalog."""
        try:
            self.conn.list_solutions(Catalog=self.catalog, MaxResults=1)
        except Exception as error:  # the UI shows the message
            return False, str(error)
        return True, f"Connected to Partner Central ({self.catalog} catalog)."

    # ----------------------------------------------------------------- plumbing
    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = getattr(self.conn, method)(**{"Catalog": self.catalog, **params})
        response.pop("ResponseMetadata", None)
        return response

    def _iterate(self, method: str, result_key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        paginator = self.conn.get_paginator(method)
        for page in paginator.paginate(**{"Catalog": self.catalog, **params}):
            yield from page.get(result_key) or []

    def preflight(self, operation: str, params: dict[str, Any]) -> list[FieldProblem]:
        """What botocore's model rejects in a request (``Catalog`` and a ClientToken placeholder
        filled in as the call would), before any call is made. Business rules are
        ``partner_sync.mapping.ace_rules``'s."""
        request = {"Catalog": self.catalog, **params}
        members = ace_model.input_shape(operation).members
        for name, member in members.items():
            if member.metadata.get("idempotencyToken") and name not in request:
                request[name] = "preflight-token"
        return ace_model.validate_input(operation, request)

    # ----------------------------------------------------------------- opportunities
    def create_opportunity(self, **params: Any) -> dict[str, Any]:
        """CreateOpportunity; pass a deterministic ``ClientToken`` so a retry cannot duplicate."""
        return self._call("create_opportunity", params)

    def update_opportunity(self, **params: Any) -> dict[str, Any]:
        """UpdateOpportunity: a full replace; send every member plus the current LastModifiedDate
        (see :func:`partner_sync.ace_model.update_request_from_opportunity`)."""
        return self._call("update_opportunity", params)

    def get_opportunity(self, Identifier: str) -> dict[str, Any]:  # noqa: N803 (API name)
        return self._call("get_opportunity", {"Identifier": Identifier})

    def iter_opportunities(self, **params: Any) -> Iterator[dict[str, Any]]:
        """ListOpportunities, every page (filters as the API names them)."""
        return self._iterate("list_opportunities", "OpportunitySummaries", params)

    def assign_opportunity(self, **params: Any) -> dict[str, Any]:
        return self._call("assign_opportunity", params)

    def associate_opportunity(self, **params: Any) -> dict[str, Any]:
        return self._call("associate_opportunity", params)

    def disassociate_opportunity(self, **params: Any) -> dict[str, Any]:
        return self._call("disassociate_opportunity", params)

    def submit_opportunity(self, **params: Any) -> dict[str, Any]:
        return self._call("submit_opportunity", params)

    def start_engagement_from_opportunity_task(self, **params: Any) -> dict[str, Any]:
        return self._call("start_engagement_from_opportunity_task", params)

    def list_engagement_from_opportunity_tasks(self, **params: Any) -> dict[str, Any]:
        return self._call("list_engagement_from_opportunity_tasks", params)

    # ----------------------------------------------------------------- invitations
    def iter_engagement_invitations(self, **params: Any) -> Iterator[dict[str, Any]]:
        """ListEngagementInvitations, every page (``ParticipantType`` defaults to RECEIVER)."""
        params.setdefault("ParticipantType", "RECEIVER")
        return self._iterate("list_engagement_invitations", "EngagementInvitationSummaries", params)

    def get_engagement_invitation(self, Identifier: str) -> dict[str, Any]:  # noqa: N803
        return self._call("get_engagement_invitation", {"Identifier": Identifier})

    def start_engagement_by_accepting_invitation_task(self, **params: Any) -> dict[str, Any]:
        return self._call("start_engagement_by_accepting_invitation_task", params)

    def list_engagement_by_accepting_invitation_tasks(self, **params: Any) -> dict[str, Any]:
        return self._call("list_engagement_by_accepting_invitation_tasks", params)

    def reject_engagement_invitation(self, **params: Any) -> dict[str, Any]:
        return self._call("reject_engagement_invitation", params)

    # ----------------------------------------------------------------- engagements
    def iter_engagements(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._iterate("list_engagements", "EngagementSummaryList", params)

    def get_engagement(self, Identifier: str) -> dict[str, Any]:  # noqa: N803
        return self._call("get_engagement", {"Identifier": Identifier})

    def iter_engagement_members(self, Identifier: str, **params: Any) -> Iterator[dict[str, Any]]:  # noqa: N803
        return self._iterate(
            "list_engagement_members", "EngagementMemberList", {"Identifier": Identifier, **params}
        )

    def iter_engagement_resource_associations(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._iterate(
            "list_engagement_resource_associations", "EngagementResourceAssociationSummaries", params
        )

    # ----------------------------------------------------------------- snapshots, solutions
    def create_resource_snapshot(self, **params: Any) -> dict[str, Any]:
        return self._call("create_resource_snapshot", params)

    def create_resource_snapshot_job(self, **params: Any) -> dict[str, Any]:
        return self._call("create_resource_snapshot_job", params)

    def get_resource_snapshot(self, **params: Any) -> dict[str, Any]:
        """GetResourceSnapshot (the latest revision unless ``Revision`` is given)."""
        return self._call("get_resource_snapshot", params)

    def iter_resource_snapshots(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._iterate("list_resource_snapshots", "ResourceSnapshotSummaries", params)

    def iter_solutions(self, **params: Any) -> Iterator[dict[str, Any]]:
        return self._iterate("list_solutions", "SolutionSummaries", params)


# --------------------------------------------------------------------------- errors
def error_code(error: BaseException) -> str | None:
    """``"ConflictException"``, ``"ValidationException"``… of a ClientError, else None."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def error_reason(error: BaseException) -> str | None:
    """ValidationException's ``Reason`` (REQUEST_/BUSINESS_VALIDATION_FAILED), else None."""
    if isinstance(error, ClientError):
        return error.response.get("Reason")
    return None


def error_fields(error: BaseException) -> list[FieldProblem]:
    """ValidationException's ``ErrorList`` as :class:`FieldProblem` items (empty otherwise)."""
    if not isinstance(error, ClientError):
        return []
    return [
        FieldProblem(item.get("FieldName", ""), item.get("Code", ""), item.get("Message", ""))
        for item in error.response.get("ErrorList") or []
    ]
