"""Partner Central emulator: engagement invitations, engagements, their members and resource
associations (snapshots and solutions are in ``partner_central_resources``).

Stored engagements carry two keys the API never returns: ``Members`` (what
ListEngagementMembers pages through; MemberCount is derived from it) and ``Resources``
(``[{"ResourceType": "Opportunity", "ResourceId": "O…", "CreatedBy": "…"}]``, what
ListEngagementResourceAssociations lists). Stored invitations may carry
``ParticipantType`` (RECEIVER unless we sent it) and ``OpportunityDetails``: members of an
opportunity that AWS reveals only on acceptance (e.g. ``Customer.Contacts``), merged into
the opportunity StartEngagementByAcceptingInvitationTask creates.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from partner_sync import ace_model
from partner_sync.ace_model import FieldProblem
from partner_sync.sandbox.partner_central_support import (
    AWS_ACCOUNT_ALIAS,
    PARTNER_ACCOUNT_ID,
    PARTNER_COMPANY_NAME,
    PARTNER_WEBSITE,
    PartnerCentralStore,
    arn,
    conflict,
    deep_merge,
    dig,
    format_timestamp,
    instant,
    matches_any,
    operation,
    page,
    random_suffix,
    resolve_id,
    sort_items,
    with_token,
)

#: how long an invitation stays PENDING (UNCONFIRMED; AWS documents no figure)
INVITATION_LIFETIME = timedelta(days=15)
OUR_MEMBER = {"CompanyName": PARTNER_COMPANY_NAME, "WebsiteUrl": PARTNER_WEBSITE,
              "AccountId": PARTNER_ACCOUNT_ID}


class EngagementOperations(PartnerCentralStore):
    """The engagement half of :class:`PartnerCentralEmulator`."""

    # ----------------------------------------------------------------- invitations
    def invitation(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self.find("invitations", params["Catalog"], params["Identifier"], "Engagement invitation")
        self.expire(found)
        return found

    def expire(self, invitation: dict[str, Any]) -> None:
        """PENDING invitations past their ExpirationDate become EXPIRED (checked on read)."""
        expires = instant(invitation.get("ExpirationDate"))
        if invitation.get("Status") == "PENDING" and expires and expires <= self.clock.now():
            invitation["Status"] = "EXPIRED"

    @operation("ListEngagementInvitations")
    def list_engagement_invitations(self, params: dict[str, Any]) -> dict[str, Any]:
        engagement_ids = {resolve_id(e) for e in params.get("EngagementIdentifier") or []}
        wanted = []
        for invitation in self.in_catalog("invitations", params["Catalog"]):
            self.expire(invitation)
            if (
                invitation.get("ParticipantType", "RECEIVER") == params["ParticipantType"]
                and matches_any(invitation.get("PayloadType"), params.get("PayloadType"))
                and matches_any(invitation.get("Status"), params.get("Status"))
                and matches_any(invitation.get("SenderAwsAccountId"), params.get("SenderAwsAccountId"))
                and (not engagement_ids or invitation.get("EngagementId") in engagement_ids)
            ):
                wanted.append(invitation)
        ordered = sort_items(
            wanted, params.get("Sort"), {"InvitationDate": lambda i: instant(i["InvitationDate"])},
            default=("InvitationDate", "DESCENDING"),
        )
        chunk, token = page(ordered, params, maximum=100)
        summary = ace_model.service_model().shape_for("EngagementInvitationSummary")
        summaries = [
            ace_model.project(summary, {"ParticipantType": "RECEIVER", **i}) for i in chunk
        ]
        return with_token({"EngagementInvitationSummaries": summaries}, token)

    @operation("GetEngagementInvitation")
    def get_engagement_invitation(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.invitation_view(self.invitation(params))

    def invitation_view(self, invitation: dict[str, Any]) -> dict[str, Any]:
        return ace_model.project(ace_model.output_shape("GetEngagementInvitation"), invitation)

    def _answer(self, invitation: dict[str, Any], status: str) -> None:
        if invitation.get("Status") != "PENDING":
            raise conflict(
                f"Engagement invitation {invitation['Id']} is {invitation.get('Status')}; "
                "only a PENDING invitation can be accepted or rejected."
            )
        invitation["Status"] = status

    @operation("AcceptEngagementInvitation")
    def accept_engagement_invitation(self, params: dict[str, Any]) -> dict[str, Any]:
        invitation = self.invitation(params)
        self._answer(invitation, "ACCEPTED")
        self.join_engagement(invitation)
        return {}

    @operation("RejectEngagementInvitation")
    def reject_engagement_invitation(self, params: dict[str, Any]) -> dict[str, Any]:
        invitation = self.invitation(params)
        self._answer(invitation, "REJECTED")
        if params.get("RejectionReason"):
            invitation["RejectionReason"] = params["RejectionReason"]
        return {}

    @operation("StartEngagementByAcceptingInvitationTask")
    def start_engagement_by_accepting_invitation_task(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.idempotent(
            "StartEngagementByAcceptingInvitationTask", params, lambda: self._accept(params)
        )

    def _accept(self, params: dict[str, Any]) -> dict[str, Any]:
        """Accept, create the opportunity from the invitation (Origin AWS Referral), join the
        engagement; done at once (COMPLETE). A non-PENDING invitation fails the task
        (UNCONFIRMED: AWS might raise ConflictException instead)."""
        invitation = self.invitation(params)
        task = self.new_task(
            "by_accepting_invitation", params["Catalog"], EngagementInvitationId=invitation["Id"]
        )
        if invitation.get("Status") != "PENDING":
            task.update(
                TaskStatus="FAILED",
                ReasonCode="EngagementInvitationConflict" if invitation.get("Status") != "EXPIRED"
                else "InvitationValidationFailed",
                Message=f"Engagement invitation {invitation['Id']} is {invitation.get('Status')}.",
            )
            return self.accept_task_view(task)
        invitation["Status"] = "ACCEPTED"
        engagement = self.join_engagement(invitation)
        offer = dig(invitation, "Payload.OpportunityInvitation")
        if offer is not None:
            opportunity = self.opportunity_from_invitation(invitation, offer)
            engagement.setdefault("Resources", []).append(
                {"ResourceType": "Opportunity", "ResourceId": opportunity["Id"],
                 "CreatedBy": PARTNER_ACCOUNT_ID}
            )
            task["OpportunityId"] = opportunity["Id"]
        task["TaskStatus"] = "COMPLETE"
        return self.accept_task_view(task)

    def opportunity_from_invitation(
        self, invitation: dict[str, Any], offer: dict[str, Any]
    ) -> dict[str, Any]:
        identifier = self.new_opportunity_id()
        now = self.clock.stamp()
        catalog = invitation["Catalog"]
        customer, project = offer.get("Customer") or {}, offer.get("Project") or {}
        opportunity = {
            "Catalog": catalog, "Origin": "AWS Referral", "OpportunityType": "Net New Business",
            "Id": identifier, "Arn": arn(catalog, "opportunity", identifier),
            "Customer": {"Account": {
                **{k: customer[k] for k in ("CompanyName", "Industry", "WebsiteUrl") if customer.get(k)},
                "Address": {"CountryCode": customer.get("CountryCode")},
            }},
            "Project": {
                "Title": project.get("Title"),
                "CustomerBusinessProblem": project.get("BusinessProblem"),
                "ExpectedCustomerSpend": copy.deepcopy(project.get("ExpectedCustomerSpend") or []),
            },
            # ReviewStatus applies to partner referrals only [BM], so an AWS referral has none.
            "LifeCycle": {"Stage": "Prospect", "TargetCloseDate": project.get("TargetCompletionDate")},
            "CreatedDate": now, "LastModifiedDate": now,
        }
        opportunity = _without_nulls(deep_merge(opportunity, invitation.get("OpportunityDetails") or {}))
        opportunity["RelatedEntityIdentifiers"] = {}
        self.state["opportunities"][identifier] = opportunity
        return opportunity

    def accept_task_view(self, task: dict[str, Any]) -> dict[str, Any]:
        return ace_model.project("ListEngagementByAcceptingInvitationTaskSummary", task)

    @operation("ListEngagementByAcceptingInvitationTasks")
    def list_engagement_by_accepting_invitation_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        body = self.list_tasks(
            "by_accepting_invitation", params, "EngagementInvitationIdentifier",
            "EngagementInvitationId",
        )
        body["TaskSummaries"] = [self.accept_task_view(t) for t in body["TaskSummaries"]]
        return body

    # ----------------------------------------------------------------- engagements
    def engagement(self, catalog: str, identifier: str) -> dict[str, Any]:
        return self.find("engagements", catalog, identifier, "Engagement")

    def engagement_view(self, engagement: dict[str, Any], shape: str = "") -> dict[str, Any]:
        members = engagement.get("Members") or []
        view = {**engagement, "MemberCount": len(members),
                "ContextTypes": [c["Type"] for c in engagement.get("Contexts") or []]}
        target = shape or ace_model.output_shape("GetEngagement")
        return ace_model.project(target, view)

    def new_engagement(self, catalog: str, title: str, **fields: Any) -> dict[str, Any]:
        identifier = f"eng-{random_suffix(14)}"
        now = self.clock.stamp()
        engagement = {
            "Catalog": catalog, "Id": identifier, "Arn": arn(catalog, "engagement", identifier),
            "Title": title[:40], "CreatedAt": now, "ModifiedAt": now,
            "Members": [], "Resources": [], **fields,
        }
        self.state["engagements"][identifier] = engagement
        return engagement

    def customer_project_context(
        self, opportunity: dict[str, Any]
    ) -> tuple[dict[str, Any], list[FieldProblem]]:
        """The CustomerProject context an engagement gets from an opportunity, and what keeps
        the opportunity from providing one (AWS then fails the task)."""
        account = dig(opportunity, "Customer.Account", {})
        payload = {
            "Customer": {"Industry": account.get("Industry"), "CompanyName": account.get("CompanyName"),
                         "WebsiteUrl": account.get("WebsiteUrl"),
                         "CountryCode": dig(account, "Address.CountryCode")},
            "Project": {"Title": dig(opportunity, "Project.Title"),
                        "BusinessProblem": dig(opportunity, "Project.CustomerBusinessProblem"),
                        "TargetCompletionDate": dig(opportunity, "LifeCycle.TargetCloseDate")},
        }
        payload = _without_nulls(payload)
        problems = ace_model.validate_shape("CustomerProjectsContext", payload)
        renamed = {"Customer.Industry": "Customer.Account.Industry",
                   "Customer.CompanyName": "Customer.Account.CompanyName",
                   "Customer.WebsiteUrl": "Customer.Account.WebsiteUrl",
                   "Customer.CountryCode": "Customer.Account.Address.CountryCode",
                   "Project.BusinessProblem": "Project.CustomerBusinessProblem",
                   "Project.TargetCompletionDate": "LifeCycle.TargetCloseDate"}
        problems = [FieldProblem(renamed.get(p.field, p.field), p.code, p.message) for p in problems]
        context = {"Id": "1", "Type": "CustomerProject", "Payload": {"CustomerProject": payload}}
        return context, problems

    def create_engagement_for(
        self, opportunity: dict[str, Any], context: dict[str, Any]
    ) -> dict[str, Any]:
        return self.new_engagement(
            opportunity["Catalog"], dig(opportunity, "Project.Title", opportunity["Id"]),
            Description=(dig(opportunity, "Project.CustomerBusinessProblem") or "")[:255],
            CreatedBy=PARTNER_ACCOUNT_ID, ModifiedBy=PARTNER_ACCOUNT_ID, Contexts=[context],
            Members=[dict(OUR_MEMBER)],
            Resources=[{"ResourceType": "Opportunity", "ResourceId": opportunity["Id"],
                        "CreatedBy": PARTNER_ACCOUNT_ID}],
        )

    def invite_aws(self, opportunity: dict[str, Any], engagement: dict[str, Any]) -> dict[str, Any]:
        """The invitation we send AWS when submitting (ParticipantType SENDER)."""
        project = dig(engagement, "Contexts", [{}])[0]["Payload"]["CustomerProject"]
        contacts = [ace_model.project("SenderContact", m) for m in opportunity.get("OpportunityTeam") or []
                    if m.get("Email")][:3]
        offer = {
            "ReceiverResponsibilities": ["Co-Sell Facilitator"],
            "Customer": project["Customer"],
            "Project": {**project["Project"], "ExpectedCustomerSpend": copy.deepcopy(
                dig(opportunity, "Project.ExpectedCustomerSpend", []))},
        }
        if contacts:
            offer["SenderContacts"] = contacts
        return self.store_invitation({
            "Catalog": opportunity["Catalog"], "ParticipantType": "SENDER",
            "PayloadType": "OpportunityInvitation", "EngagementId": engagement["Id"],
            "EngagementTitle": engagement["Title"], "Status": "PENDING",
            "SenderAwsAccountId": PARTNER_ACCOUNT_ID, "SenderCompanyName": PARTNER_COMPANY_NAME,
            "Receiver": {"Account": {"AwsAccountId": AWS_ACCOUNT_ALIAS}},
            "Payload": {"OpportunityInvitation": offer},
        })

    def store_invitation(self, invitation: dict[str, Any]) -> dict[str, Any]:
        """Fill an invitation's id, ARN and dates, and store it."""
        identifier = invitation.get("Id") or f"engi-{random_suffix(13)}"
        now = self.clock.now()
        filled = {
            "Catalog": "Sandbox", "Status": "PENDING",
            "InvitationDate": format_timestamp(now),
            "ExpirationDate": format_timestamp(now + INVITATION_LIFETIME),
            **invitation,
            "Id": identifier,
        }
        filled.setdefault("Arn", arn(filled["Catalog"], "engagement-invitation", identifier))
        if "PayloadType" not in filled and isinstance(filled.get("Payload"), dict) and filled["Payload"]:
            filled["PayloadType"] = next(iter(filled["Payload"]))
        self.state["invitations"][identifier] = filled
        return filled

    def join_engagement(self, invitation: dict[str, Any]) -> dict[str, Any]:
        """Make us a member of the invitation's engagement (created if the sandbox lacks it)."""
        catalog = invitation["Catalog"]
        engagement = self.state["engagements"].get(invitation.get("EngagementId") or "")
        if engagement is None:
            offer = dig(invitation, "Payload.OpportunityInvitation")
            contexts = []
            if offer:
                project = offer.get("Project") or {}
                contexts = [{"Id": "1", "Type": "CustomerProject", "Payload": {"CustomerProject": {
                    "Customer": offer.get("Customer"),
                    "Project": {k: project[k] for k in ("Title", "BusinessProblem", "TargetCompletionDate")
                                if k in project}}}}]
            sender = {"CompanyName": invitation.get("SenderCompanyName") or "AWS",
                      "AccountId": invitation.get("SenderAwsAccountId") or AWS_ACCOUNT_ALIAS}
            engagement = self.new_engagement(
                catalog, invitation.get("EngagementTitle") or invitation["Id"],
                CreatedBy=sender["AccountId"], ModifiedBy=sender["AccountId"],
                Contexts=_without_nulls(contexts), Members=[sender],
            )
            if invitation.get("EngagementId"):  # keep the id the invitation names
                del self.state["engagements"][engagement["Id"]]
                engagement["Id"] = invitation["EngagementId"]
                engagement["Arn"] = arn(catalog, "engagement", engagement["Id"])
                self.state["engagements"][engagement["Id"]] = engagement
            invitation["EngagementId"] = engagement["Id"]
        members = engagement.setdefault("Members", [])
        if not any(m.get("AccountId") == PARTNER_ACCOUNT_ID for m in members):
            members.append(dict(OUR_MEMBER))
            engagement["ModifiedAt"] = self.clock.stamp()
        return engagement

    @operation("ListEngagements")
    def list_engagements(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted_ids = {resolve_id(e) for e in params.get("EngagementIdentifier") or []}
        chosen = []
        for engagement in self.in_catalog("engagements", params["Catalog"]):
            types = {c["Type"] for c in engagement.get("Contexts") or []}
            if wanted_ids and engagement["Id"] not in wanted_ids:
                continue
            if not matches_any(engagement.get("CreatedBy"), params.get("CreatedBy")):
                continue
            if engagement.get("CreatedBy") in (params.get("ExcludeCreatedBy") or []):
                continue
            if params.get("ContextTypes") and not types & set(params["ContextTypes"]):
                continue
            if types & set(params.get("ExcludeContextTypes") or []):
                continue
            chosen.append(engagement)
        ordered = sort_items(
            chosen, params.get("Sort"), {"CreatedDate": lambda e: instant(e["CreatedAt"])},
            default=("CreatedDate", "DESCENDING"),
        )
        chunk, token = page(ordered, params, maximum=100)
        summary = ace_model.service_model().shape_for("EngagementSummary")
        return with_token(
            {"EngagementSummaryList": [self.engagement_view(e, summary) for e in chunk]}, token
        )

    @operation("GetEngagement")
    def get_engagement(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.engagement_view(self.engagement(params["Catalog"], params["Identifier"]))

    @operation("ListEngagementMembers")
    def list_engagement_members(self, params: dict[str, Any]) -> dict[str, Any]:
        engagement = self.engagement(params["Catalog"], params["Identifier"])
        chunk, token = page(engagement.get("Members") or [], params, maximum=10)
        member = ace_model.service_model().shape_for("EngagementMember")
        return with_token({"EngagementMemberList": [ace_model.project(member, m) for m in chunk]}, token)

    @operation("ListEngagementResourceAssociations")
    def list_engagement_resource_associations(self, params: dict[str, Any]) -> dict[str, Any]:
        associations = [
            {"Catalog": e["Catalog"], "EngagementId": e["Id"], **resource}
            for e in self.in_catalog("engagements", params["Catalog"])
            for resource in e.get("Resources") or []
        ]
        wanted = [
            a for a in associations
            if (not params.get("EngagementIdentifier") or a["EngagementId"] == params["EngagementIdentifier"])
            and (not params.get("ResourceType") or a["ResourceType"] == params["ResourceType"])
            and (not params.get("ResourceIdentifier") or a["ResourceId"] == params["ResourceIdentifier"])
            and (not params.get("CreatedBy") or a.get("CreatedBy") == params["CreatedBy"])
        ]
        chunk, token = page(wanted, params, maximum=1000)
        shape = ace_model.service_model().shape_for("EngagementResourceAssociationSummary")
        return with_token(
            {"EngagementResourceAssociationSummaries": [ace_model.project(shape, a) for a in chunk]},
            token,
        )

def _without_nulls(value: Any) -> Any:
    """``value`` without None members and empty objects (the API omits them)."""
    if isinstance(value, dict):
        cleaned = {k: _without_nulls(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in cleaned.items() if v != {}}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
