"""Partner Central emulator: opportunity operations (create, full-replace update, read, list,
assign, associate, submit, and the StartEngagementFromOpportunityTask that submits to AWS).

Rules beyond the model follow api-facts §1.4; where AWS documents no answer the choice is
marked UNCONFIRMED.
"""

from __future__ import annotations

import copy
from typing import Any

from partner_sync import ace_model
from partner_sync.ace_model import (
    ACTION_NOT_PERMITTED,
    ACTION_REQUIRED,
    INVALID_RESOURCE_STATE,
    INVALID_VALUE,
    REQUIRED_FIELD_MISSING,
    REVIEW_LOCKED_STATUSES,
    TOO_MANY_VALUES,
    FieldProblem,
)
from partner_sync.sandbox.partner_central_support import (
    PartnerCentralStore,
    arn,
    business_error,
    conflict,
    dig,
    instant,
    leaves,
    matches_any,
    not_found,
    operation,
    page,
    random_suffix,
    sort_items,
    validation_error,
    with_token,
)

PENDING_SUBMISSION = "Pending Submission"
SUBMITTED = "Submitted"
#: how many entities of each type one opportunity may have [AQ]; offers: one private offer.
ASSOCIATION_LIMITS = {
    "Solutions": 10,
    "AwsProducts": 20,
    "AwsMarketplaceSolutions": 10,
    "AwsMarketplaceProducts": 10,
    "AwsMarketplaceOffers": 1,
    "AwsMarketplaceOfferSets": 1,
}
#: request members that are not part of the stored opportunity
_REQUEST_ONLY = ("Catalog", "ClientToken", "Identifier", "LastModifiedDate")


class OpportunityOperations(PartnerCentralStore):
    """The opportunity half of :class:`PartnerCentralEmulator`."""

    # ----------------------------------------------------------------- helpers
    def opportunity(self, params: dict[str, Any], key: str = "Identifier") -> dict[str, Any]:
        return self.find("opportunities", params["Catalog"], params[key], "Opportunity")

    def touch(self, opportunity: dict[str, Any]) -> str:
        """Record a change: a new LastModifiedDate (strictly later than the last one)."""
        opportunity["LastModifiedDate"] = self.clock.stamp()
        return opportunity["LastModifiedDate"]

    def record_next_steps(self, lifecycle: dict[str, Any], previous: dict[str, Any]) -> None:
        """Keep LifeCycle.NextStepsHistory as AWS does: one entry per new NextSteps value."""
        history = list(previous.get("NextStepsHistory") or [])
        next_steps = lifecycle.get("NextSteps")
        if next_steps and (not history or history[-1]["Value"] != next_steps):
            history.append({"Value": next_steps, "Time": self.clock.stamp()})
        if history:
            lifecycle["NextStepsHistory"] = history[-50:]

    def opportunity_view(self, opportunity: dict[str, Any]) -> dict[str, Any]:
        """The opportunity as GetOpportunity returns it."""
        return ace_model.project(ace_model.output_shape("GetOpportunity"), opportunity)

    # ----------------------------------------------------------------- create / update
    @operation("CreateOpportunity")
    def create_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.idempotent("CreateOpportunity", params, lambda: self._create(params))

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        catalog = params["Catalog"]
        origin = params.get("Origin", "Partner Referral")
        if catalog == "AWS" and origin != "Partner Referral":
            raise business_error(
                "Origin", INVALID_VALUE,
                "Origin must be Partner Referral in the AWS catalog; only Sandbox may "
                "simulate AWS Referral.",
            )
        body = ace_model.drop_read_only(
            {k: copy.deepcopy(v) for k, v in params.items() if k not in _REQUEST_ONLY}
        )
        identifier = self.new_opportunity_id()
        lifecycle = dict(body.get("LifeCycle") or {})
        lifecycle["ReviewStatus"] = PENDING_SUBMISSION
        self.record_next_steps(lifecycle, {})
        now = self.clock.stamp()
        opportunity = {
            **body,
            "Catalog": catalog,
            "Origin": origin,
            "Id": identifier,
            "Arn": arn(catalog, "opportunity", identifier),
            "LifeCycle": lifecycle,
            "RelatedEntityIdentifiers": {},
            "CreatedDate": now,
            "LastModifiedDate": now,
        }
        self.state["opportunities"][identifier] = opportunity
        response = {"Id": identifier, "LastModifiedDate": now}
        if opportunity.get("PartnerOpportunityIdentifier"):
            response["PartnerOpportunityIdentifier"] = opportunity["PartnerOpportunityIdentifier"]
        return response

    @operation("UpdateOpportunity")
    def update_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        """Full replace: every updatable member not sent is cleared."""
        current = self.opportunity(params)
        if instant(params["LastModifiedDate"]) != instant(current["LastModifiedDate"]):
            raise conflict(
                f"Opportunity {current['Id']} was modified since LastModifiedDate "
                f"{params['LastModifiedDate']}; the current value is {current['LastModifiedDate']}. "
                "Call GetOpportunity and retry with the current LastModifiedDate."
            )
        review_status = dig(current, "LifeCycle.ReviewStatus")
        # UNCONFIRMED: the exact error AWS returns for a locked opportunity; the docs only say
        # "read-only". We answer as ACE answers other state violations.
        if review_status in REVIEW_LOCKED_STATUSES:
            raise business_error(
                "LifeCycle.ReviewStatus", INVALID_RESOURCE_STATE,
                f"Opportunity {current['Id']} is in review status {review_status!r} and "
                "can't be updated until AWS completes the review.",
            )
        replacement = ace_model.drop_read_only(
            {k: copy.deepcopy(v) for k, v in params.items() if k not in _REQUEST_ONLY}
        )
        self._check_title_kept(current, replacement)
        if review_status == ACTION_REQUIRED:
            self._check_action_required_edits(current, replacement)
        updatable = ace_model.update_members()
        kept = {k: v for k, v in current.items() if k not in updatable or k == "Catalog"}
        lifecycle = dict(replacement.get("LifeCycle") or {})
        for path in ace_model.READ_ONLY_MEMBERS:
            member = path.split(".", 1)[1]
            if dig(current, path) is not None:
                lifecycle[member] = copy.deepcopy(current["LifeCycle"][member])
        self.record_next_steps(lifecycle, current.get("LifeCycle") or {})
        if review_status == ACTION_REQUIRED:
            # "After updates, the opportunity re-enters the validation phase." [BM]
            lifecycle["ReviewStatus"] = SUBMITTED
        updated = {**replacement, **kept, "LifeCycle": lifecycle}
        self.state["opportunities"][current["Id"]] = updated
        self.touch(updated)
        self.run_snapshot_jobs(updated)
        return {"Id": updated["Id"], "LastModifiedDate": updated["LastModifiedDate"]}

    def _check_title_kept(self, current: dict[str, Any], replacement: dict[str, Any]) -> None:
        submitted = current.get("Submitted") or dig(current, "LifeCycle.ReviewStatus") not in (
            None, PENDING_SUBMISSION,
        )
        if submitted and dig(current, "Project.Title") != dig(replacement, "Project.Title"):
            raise business_error(
                "Project.Title", ACTION_NOT_PERMITTED,
                "Project.Title can't be changed after the opportunity has been submitted.",
            )

    def _check_action_required_edits(
        self, current: dict[str, Any], replacement: dict[str, Any]
    ) -> None:
        before = leaves(
            ace_model.drop_read_only(
                ace_model.project(ace_model.input_shape("UpdateOpportunity"), current)
            )
        )
        after = leaves(replacement)
        for name in _REQUEST_ONLY:
            before.pop(name, None)
        changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
        refused = [p for p in changed if not ace_model.action_required_editable(p)]
        if refused:
            # UNCONFIRMED: the code ACE uses here; ACTION_NOT_PERMITTED names the rule best.
            raise ace_error_for(refused)

    # ----------------------------------------------------------------- read
    @operation("GetOpportunity")
    def get_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.opportunity_view(self.opportunity(params))

    @operation("ListOpportunities")
    def list_opportunities(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = [o for o in self.in_catalog("opportunities", params["Catalog"]) if _listed(o, params)]
        # The default SortBy is LastModifiedDate [BM]; the default order is UNCONFIRMED.
        ordered = sort_items(
            wanted, params.get("Sort"),
            {
                "LastModifiedDate": lambda o: instant(o["LastModifiedDate"]),
                "CreatedDate": lambda o: instant(o["CreatedDate"]),
                "Identifier": lambda o: int(o["Id"][1:]),
                "CustomerCompanyName": lambda o: dig(o, "Customer.Account.CompanyName"),
                "TargetCloseDate": lambda o: dig(o, "LifeCycle.TargetCloseDate"),
            },
            default=("LastModifiedDate", "DESCENDING"),
        )
        chunk, token = page(ordered, params, maximum=100, default=20)
        summary = ace_model.service_model().shape_for("OpportunitySummary")
        return with_token(
            {"OpportunitySummaries": [ace_model.project(summary, o) for o in chunk]}, token
        )

    # ----------------------------------------------------------------- assign / associate
    @operation("AssignOpportunity")
    def assign_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        opportunity = self.opportunity(params)
        assignee = params["Assignee"]
        if assignee["Email"].lower() not in self.state["users"]:
            # the error text the aws-samples repository shows for an unknown owner [G3]
            raise business_error(
                "Assignee.Email", INVALID_VALUE,
                f"User not found for Opportunity Owner email {assignee['Email']}.",
            )
        owner = ace_model.project("Contact", assignee)
        # the owner leads OpportunityTeam; the previous owner (first member) is replaced
        others = [m for m in (opportunity.get("OpportunityTeam") or [])[1:]
                  if m.get("Email", "").lower() != assignee["Email"].lower()]
        opportunity["OpportunityTeam"] = [owner, *others][:10]
        self.touch(opportunity)
        return {}

    @operation("AssociateOpportunity")
    def associate_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        opportunity = self.opportunity(params, key="OpportunityIdentifier")
        kind, identifier = params["RelatedEntityType"], params["RelatedEntityIdentifier"]
        self._check_entity_identifier(kind, identifier)
        if kind == "Solutions":
            solution = self.state["solutions"].get(identifier)
            if solution is None or solution.get("Catalog") != params["Catalog"]:
                raise not_found(f"Solution {identifier} not found in catalog {params['Catalog']}.")
            if solution.get("Status") != "Active":
                raise business_error(
                    "RelatedEntityIdentifier", INVALID_VALUE,
                    f"Solution {identifier} is {solution.get('Status')}; only Active solutions "
                    "can be associated.",
                )
        related = opportunity.setdefault("RelatedEntityIdentifiers", {})
        linked = related.setdefault(kind, [])
        if identifier not in linked:
            if len(linked) >= ASSOCIATION_LIMITS[kind]:
                raise business_error(
                    f"RelatedEntityIdentifiers.{kind}", TOO_MANY_VALUES,
                    f"An opportunity can have at most {ASSOCIATION_LIMITS[kind]} {kind}.",
                )
            linked.append(identifier)
            self.touch(opportunity)
        return {}

    @operation("DisassociateOpportunity")
    def disassociate_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        opportunity = self.opportunity(params, key="OpportunityIdentifier")
        kind, identifier = params["RelatedEntityType"], params["RelatedEntityIdentifier"]
        linked = (opportunity.get("RelatedEntityIdentifiers") or {}).get(kind) or []
        if identifier not in linked:
            raise not_found(f"{kind} {identifier} is not associated with {opportunity['Id']}.")
        linked.remove(identifier)
        if not linked:
            del opportunity["RelatedEntityIdentifiers"][kind]
        self.touch(opportunity)
        return {}

    def _check_entity_identifier(self, kind: str, identifier: str) -> None:
        shape = ace_model.service_model().shape_for("RelatedEntityIdentifiers").members[kind]
        problems = ace_model.validate_shape(shape.member, identifier, "RelatedEntityIdentifier")
        if problems:
            raise validation_error(problems)

    # ----------------------------------------------------------------- submit to AWS
    def submission_problem(self, opportunity: dict[str, Any]) -> FieldProblem | None:
        """Why this opportunity cannot be submitted now, or None."""
        status = dig(opportunity, "LifeCycle.ReviewStatus")
        if status not in (PENDING_SUBMISSION, None) or opportunity.get("Submitted"):
            return FieldProblem(
                "LifeCycle.ReviewStatus", INVALID_RESOURCE_STATE,
                f"Opportunity {opportunity['Id']} has review status {status!r}; only an "
                "opportunity in Pending Submission can be submitted.",
            )
        if not dig(opportunity, "RelatedEntityIdentifiers.Solutions"):
            return FieldProblem(
                "RelatedEntityIdentifiers.Solutions", REQUIRED_FIELD_MISSING,
                "Associate at least one solution (AssociateOpportunity) before submitting.",
            )
        return None

    def mark_submitted(self, opportunity: dict[str, Any], submission: dict[str, Any]) -> None:
        opportunity.setdefault("LifeCycle", {})["ReviewStatus"] = SUBMITTED
        opportunity["Submitted"] = True
        opportunity["AwsSubmission"] = dict(submission)
        self.touch(opportunity)

    @operation("SubmitOpportunity")
    def submit_opportunity(self, params: dict[str, Any]) -> dict[str, Any]:
        opportunity = self.opportunity(params)
        problem = self.submission_problem(opportunity)
        if problem:
            raise business_error(problem.field, problem.code, problem.message)
        submission = {"InvolvementType": params["InvolvementType"],
                      "Visibility": params.get("Visibility", "Full")}
        self.mark_submitted(opportunity, submission)
        return {}

    @operation("StartEngagementFromOpportunityTask")
    def start_engagement_from_opportunity_task(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.idempotent(
            "StartEngagementFromOpportunityTask", params, lambda: self._engage(params)
        )

    def _engage(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetOpportunity, CreateEngagement, CreateResourceSnapshotJob, CreateEngagementInvitation
        and SubmitOpportunity in one task, as AWS describes it; done at once (COMPLETE)."""
        opportunity = self.opportunity(params)
        task = self.new_task("from_opportunity", params["Catalog"], OpportunityId=opportunity["Id"])
        problem = self.submission_problem(opportunity)
        if problem is None:
            context, problems = self.customer_project_context(opportunity)
            if problems:
                problem = problems[0]
                problem = FieldProblem(
                    problem.field, problem.code, ace_model.describe(problems)
                )
        if problem is not None:
            reason = ("OpportunitySubmissionFailed" if problem.code == INVALID_RESOURCE_STATE
                      else "OpportunityValidationFailed")
            task.update(TaskStatus="FAILED", ReasonCode=reason, Message=problem.message)
            return self.task_view(task)
        engagement = self.create_engagement_for(opportunity, context)
        invitation = self.invite_aws(opportunity, engagement)
        job = self.create_snapshot_job(
            params["Catalog"], engagement["Id"], opportunity["Id"],
        )
        self.mark_submitted(opportunity, params["AwsSubmission"])
        task.update(
            TaskStatus="COMPLETE", EngagementId=engagement["Id"],
            EngagementInvitationId=invitation["Id"], ResourceSnapshotJobId=job["Id"],
        )
        return self.task_view(task)

    def new_task(self, kind: str, catalog: str, **fields: Any) -> dict[str, Any]:
        identifier = f"task-{random_suffix(13)}"
        task = {
            "Kind": kind, "Catalog": catalog, "TaskId": identifier,
            "TaskArn": arn(catalog, "engagement-task", identifier),
            "StartTime": self.clock.stamp(), "TaskStatus": "IN_PROGRESS", **fields,
        }
        self.tasks[identifier] = task
        return task

    def task_view(self, task: dict[str, Any]) -> dict[str, Any]:
        return ace_model.project("ListEngagementFromOpportunityTaskSummary", task)

    @operation("ListEngagementFromOpportunityTasks")
    def list_engagement_from_opportunity_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.list_tasks("from_opportunity", params, "EngagementIdentifier", "EngagementId")

    def list_tasks(
        self, kind: str, params: dict[str, Any], filter_name: str, task_member: str
    ) -> dict[str, Any]:
        wanted_ids = {i.rsplit("/", 1)[-1] for i in params.get("TaskIdentifier") or []}
        wanted_other = {i.rsplit("/", 1)[-1] for i in params.get(filter_name) or []}
        tasks = [
            t for t in self.tasks.values()
            if t["Kind"] == kind and t["Catalog"] == params["Catalog"]
            and matches_any(t["TaskStatus"], params.get("TaskStatus"))
            and matches_any(t.get("OpportunityId"), params.get("OpportunityIdentifier"))
            and (not wanted_ids or t["TaskId"] in wanted_ids)
            and (not wanted_other or t.get(task_member) in wanted_other)
        ]
        ordered = sort_items(
            tasks, params.get("Sort"), {"StartTime": lambda t: instant(t["StartTime"])},
            default=("StartTime", "DESCENDING"),
        )
        chunk, token = page(ordered, params, maximum=1000)
        return with_token({"TaskSummaries": [self.task_view(t) for t in chunk]}, token)


def ace_error_for(paths: list[str]) -> Exception:
    """The BUSINESS_VALIDATION_FAILED error for edits outside the Action Required whitelist."""
    problems = [
        FieldProblem(path, ACTION_NOT_PERMITTED,
                     "can't be changed while the opportunity is in Action Required")
        for path in paths
    ]
    return validation_error(
        problems, reason="BUSINESS_VALIDATION_FAILED",
        message="While LifeCycle.ReviewStatus is Action Required only these fields can be "
        "edited: " + ", ".join(ace_model.ACTION_REQUIRED_EDITABLE),
    )


def _listed(opportunity: dict[str, Any], params: dict[str, Any]) -> bool:
    """The ListOpportunities filters. AfterLastModifiedDate is inclusive ("on or after" [BM]);
    the Before bounds are exclusive (UNCONFIRMED)."""
    if not matches_any(opportunity["Id"], params.get("Identifier")):
        return False
    if not matches_any(dig(opportunity, "LifeCycle.Stage"), params.get("LifeCycleStage")):
        return False
    if not matches_any(dig(opportunity, "LifeCycle.ReviewStatus"), params.get("LifeCycleReviewStatus")):
        return False
    if not matches_any(dig(opportunity, "Customer.Account.CompanyName"), params.get("CustomerCompanyName")):
        return False
    for member, stored, after_key, before_key in (
        ("LastModifiedDate", "LastModifiedDate", "AfterLastModifiedDate", "BeforeLastModifiedDate"),
        ("CreatedDate", "CreatedDate", "AfterCreatedDate", "BeforeCreatedDate"),
    ):
        bounds = params.get(member) or {}
        moment = instant(opportunity[stored])
        if bounds.get(after_key) and moment < instant(bounds[after_key]):
            return False
        if bounds.get(before_key) and moment >= instant(bounds[before_key]):
            return False
    close = params.get("TargetCloseDate") or {}
    target = dig(opportunity, "LifeCycle.TargetCloseDate")
    if close.get("AfterTargetCloseDate") and (target is None or target < close["AfterTargetCloseDate"]):
        return False
    if close.get("BeforeTargetCloseDate") and (target is None or target >= close["BeforeTargetCloseDate"]):
        return False
    return True
