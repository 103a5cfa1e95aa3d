"""The end-to-end scenario every executor must pass, and the views used to check its outcome.

:func:`run_core_flows` drives a started stack the way its users do — HubSpot edits arrive as
signed webhooks, partner-side changes are picked up by the polls, people trigger DAGs through
the REST API — and records what happened in a :class:`FlowReport` for the tests to assert on.
It asserts only what a step needs in order to go on; the tests check the outcome.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.e2e.scenario import HubSpotBatch, hubspot_deals, incoming_referrals, invitations
from tests.e2e.airflow_rest import wait_for
from tests.e2e.stack import E2EStack

DEAL_SYNC = "hubspot_deal_sync"
REFERRAL_POLL = "partner_center_referral_poll"
OPPORTUNITY_POLL = "partner_central_opportunity_poll"
CONTACT_SYNC = "contact_company_sync"
ENGAGEMENT_SYNC = "partner_central_engagement_sync"
RESOURCE_SYNC = "partner_resource_sync"
CONFLICT_REVIEW = "sync_conflict_review"
AUDIT_EXPORT = "audit_export"
SCHEDULED_DAGS = (REFERRAL_POLL, OPPORTUNITY_POLL, CONTACT_SYNC, ENGAGEMENT_SYNC, RESOURCE_SYNC,
                  CONFLICT_REVIEW, AUDIT_EXPORT)
ALL_DAGS = (DEAL_SYNC, *SCHEDULED_DAGS, "hubspot_properties_setup")


@dataclass
class FlowReport:
    """What :func:`run_core_flows` did: the seeded ids, the expected edits, timings."""

    label: str
    batch: HubSpotBatch
    referral_ids: list[str] = field(default_factory=list)
    invitation_ids: list[str] = field(default_factory=list)
    #: deal id -> {deal property: value} that must be on the deal and its partner record
    hubspot_edits: dict[str, dict[str, str]] = field(default_factory=dict)
    #: partner record id -> (system, {deal property: value}) edited on the partner side
    partner_edits: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    contact_edits: dict[str, dict[str, str]] = field(default_factory=dict)
    triggered: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    timings: dict[str, float] = field(default_factory=dict)
    audit_window: tuple[datetime, datetime] | None = None


# --------------------------------------------------------------------------- views


class SandboxView:
    """The three emulators' state, indexed the way the checks need it."""

    def __init__(self, stack: E2EStack) -> None:
        self.hubspot = stack.sandbox.state("hubspot")
        self.partner_center = stack.sandbox.state("partner_center")
        self.partner_central = stack.sandbox.state("partner_central")
        self.deals = {deal["id"]: deal["properties"] for deal in self.hubspot["deals"]}
        self.contacts = {contact["id"]: contact["properties"] for contact in self.hubspot["contacts"]}
        self.referrals = {referral["id"]: referral for referral in self.partner_center["referrals"]}
        self.opportunities = {opportunity["Id"]: opportunity for opportunity in self.partner_central["opportunities"]}
        self.invitations = {invitation["Id"]: invitation for invitation in self.partner_central["invitations"]}

    def opportunities_of_deal(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for opportunity in self.opportunities.values():
            if opportunity.get("PartnerOpportunityIdentifier"):
                found[opportunity["PartnerOpportunityIdentifier"]].append(opportunity["Id"])
        return found

    def referrals_of_deal(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for referral in self.referrals.values():
            if referral.get("externalReferenceId"):
                found[str(referral["externalReferenceId"])].append(referral["id"])
        return found

    def deals_with(self, prop: str, value: str) -> list[str]:
        return [deal_id for deal_id, props in self.deals.items() if props.get(prop) == value]

    def notes_of(self, deal_id: str) -> list[str]:
        """Bodies of the notes associated with the deal."""
        note_ids = {
            str(a["fromObjectId"]) for a in self.hubspot.get("associations", [])
            if a.get("fromObjectType") == "notes" and a.get("toObjectType") == "deals" and str(a["toObjectId"]) == deal_id
        } | {
            str(a["toObjectId"]) for a in self.hubspot.get("associations", [])
            if a.get("fromObjectType") == "deals" and a.get("toObjectType") == "notes" and str(a["fromObjectId"]) == deal_id
        }
        return [n["properties"].get("hs_note_body", "") for n in self.hubspot["notes"] if n["id"] in note_ids]


# --------------------------------------------------------------------------- steps


def timed(report: FlowReport, name: str):  # noqa: ANN201 - context manager
    """``with timed(report, "step"):`` records the step's wall time in ``report.timings``."""

    class _Timer:
        def __enter__(self) -> None:
            self.started = time.monotonic()

        def __exit__(self, *exc: object) -> None:
            report.timings[name] = round(time.monotonic() - self.started, 1)

    return _Timer()


def trigger(stack: E2EStack, report: FlowReport, dag_id: str, conf: dict[str, Any] | None = None,
            run_id: str | None = None, logical_date: str | None = None,
            data_interval: tuple[str, str] | None = None) -> str:
    run_id = stack.rest.trigger_ok(dag_id, run_id or f"e2e__{report.label}__{dag_id}__{len(report.triggered[dag_id])}",
                                   conf, logical_date, data_interval)
    report.triggered[dag_id].append(run_id)
    return run_id


def trigger_and_wait(stack: E2EStack, report: FlowReport, dag_id: str, conf: dict[str, Any] | None = None,
                     timeout: float = 240.0) -> dict[str, Any]:
    return stack.rest.wait_run(dag_id, trigger(stack, report, dag_id, conf), timeout=timeout)


def wait_webhook_runs(stack: E2EStack, timeout: float = 300.0) -> list[dict[str, Any]]:
    """Every delivery made, then every run of the webhook-triggered DAGs finished."""
    flushed = stack.flush_webhooks(timeout=60)
    assert flushed.get("flushed"), f"webhook deliveries did not drain: {flushed}"
    return stack.rest.wait_runs_settled([DEAL_SYNC, CONTACT_SYNC], timeout=timeout)


def seed_hubspot(stack: E2EStack, objects: dict[str, list[dict[str, Any]]]) -> None:
    stack.seed("hubspot", objects)


def run_core_flows(stack: E2EStack, label: str, start: int) -> FlowReport:
    """The whole product once, on a few records of each kind (see the module docstring)."""
    report = FlowReport(label=label, batch=hubspot_deals(start, {"#AWS": 3, "#Microsoft": 3}, label))
    stack.configure_webhooks()

    # 1. deals tagged in HubSpot -> signed webhooks -> receiver -> hubspot_deal_sync runs
    with timed(report, "deal push via webhooks"):
        seed_hubspot(stack, report.batch.objects)
        wait_webhook_runs(stack)

    # 2. partner-side records arrive -> polls (as a person would: full sync through the API)
    with timed(report, "incoming referrals and invitations"):
        referrals = incoming_referrals(2, label)
        report.referral_ids = [r["id"] for r in referrals]
        stack.seed("partner_center", {"referrals": referrals})
        pending = invitations(2, label)
        report.invitation_ids = [i["Id"] for i in pending]
        stack.seed("partner_central", {"invitations": pending})
        trigger_and_wait(stack, report, REFERRAL_POLL, {"full_sync": True})
        trigger_and_wait(stack, report, OPPORTUNITY_POLL, {"full_sync": True})
        wait_webhook_runs(stack)  # the new deals' own creation events come back as webhooks

    # 3. edits on both sides
    with timed(report, "edits on both sides"):
        view = SandboxView(stack)
        aws_deal, ms_deal = report.batch.deal_ids["#AWS"][0], report.batch.deal_ids["#Microsoft"][0]
        report.hubspot_edits = {aws_deal: {"amount": "77777"}, ms_deal: {"amount": "88888"}}
        contact_id = report.batch.contact_of[report.batch.deal_ids["#AWS"][1]]
        report.contact_edits = {contact_id: {"jobtitle": "Chief Data Officer", "phone": "+1 206 555 0177"}}
        seed_hubspot(stack, {
            "deals": [{"id": deal_id, "properties": props} for deal_id, props in report.hubspot_edits.items()],
            "contacts": [{"id": cid, "properties": props} for cid, props in report.contact_edits.items()],
        })
        wait_webhook_runs(stack)
        # partner side: AWS moves an opportunity's stage, Microsoft accepts a referral
        opportunity_id = view.deals[report.batch.deal_ids["#AWS"][2]].get("aws_opportunity_id")
        assert opportunity_id, "the third #AWS deal has no opportunity id: the push did not write it back"
        opportunity = dict(view.opportunities[opportunity_id])
        opportunity["LifeCycle"] = {**opportunity["LifeCycle"], "Stage": "Technical Validation"}
        stack.seed("partner_central", {"opportunities": [opportunity]})
        report.partner_edits[opportunity_id] = ("aws", {"dealstage": "presentationscheduled"})
        referral = dict(SandboxView(stack).referrals[report.referral_ids[0]])
        referral.update(status="Active", substatus="Accepted")
        stack.seed("partner_center", {"referrals": [referral]})
        report.partner_edits[referral["id"]] = ("microsoft", {"dealstage": "qualifiedtobuy"})
        trigger_and_wait(stack, report, OPPORTUNITY_POLL, {"full_sync": True})
        trigger_and_wait(stack, report, REFERRAL_POLL, {"full_sync": True})
        wait_webhook_runs(stack)

    # 4. the AWS extras: engagements, resources, conflict review (nothing pending: no question)
    with timed(report, "engagements, resources, conflicts"):
        trigger_and_wait(stack, report, ENGAGEMENT_SYNC)
        trigger_and_wait(stack, report, RESOURCE_SYNC)
        trigger_and_wait(stack, report, CONFLICT_REVIEW)

    # 5. audit export of today (so far): a run over the data interval [today, tomorrow)
    with timed(report, "audit export"):
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        report.audit_window = (today, today + timedelta(days=1))
        interval = (today.isoformat(), (today + timedelta(days=1)).isoformat())
        run_id = trigger(stack, report, AUDIT_EXPORT, run_id=f"e2e__{label}__audit_export",
                         logical_date=datetime.now(timezone.utc).isoformat(), data_interval=interval)
        stack.rest.wait_run(AUDIT_EXPORT, run_id)
    return report


def wait_scheduled_runs(stack: E2EStack, dag_ids: tuple[str, ...] = SCHEDULED_DAGS, timeout: float = 240.0) -> dict[str, list[dict[str, Any]]]:
    """The scheduled runs the scheduler made by itself (catchup off: the latest interval)."""

    def scheduled() -> dict[str, list[dict[str, Any]]] | None:
        found = {}
        for dag_id in dag_ids:
            runs = [run for run in stack.rest.runs(dag_id) if run["run_type"] == "scheduled"]
            if not runs or any(run["state"] not in ("success", "failed") for run in runs):
                return None
            found[dag_id] = runs
        return found

    return wait_for(scheduled, timeout, f"scheduled runs of {dag_ids}", interval=2)
