"""The fault soak: many records, injected faults, edits on both sides and a killed task.

Sizes come from the environment so a laptop can run a smaller soak; the defaults are the full
size the issue asks for, and the sizes used are printed with the figures:

- ``PARTNER_SYNC_SOAK_DEALS`` (300, half ``#AWS``, half ``#Microsoft``),
- ``PARTNER_SYNC_SOAK_REFERRALS`` (300 incoming referrals from Microsoft),
- ``PARTNER_SYNC_SOAK_INVITATIONS`` (50 engagement invitations from AWS),
- ``PARTNER_SYNC_SOAK_EDITS`` (10: percent of each kind of record edited mid-sync).

:func:`run_soak` runs the phases; :func:`soak_problems` checks the invariants afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from partner_sync.mapping.aws import deal_fields_from_opportunity, opportunity_fields_from_deal
from partner_sync.mapping.deals import has_tag
from partner_sync.mapping.microsoft import deal_fields_from_referral, referral_fields_from_deal
from partner_sync.store.models import iso
from tests.e2e.flows import (
    CONTACT_SYNC,
    DEAL_SYNC,
    OPPORTUNITY_POLL,
    REFERRAL_POLL,
    SandboxView,
    seed_hubspot,
)
from tests.e2e.scenario import HubSpotBatch, hubspot_deals, incoming_referrals, invitations
from tests.e2e.airflow_rest import wait_for
from tests.e2e.stack import API_TIMEOUT_S, E2EStack

SYSTEMS = ("hubspot", "partner_center", "partner_central")
FAULTS = {"error_rate": 0.10, "throttle_rate": 0.05, "timeout_rate": 0.02,
          "timeout_seconds": API_TIMEOUT_S + 1.0, "seed": 20261123}
NO_FAULTS = {"error_rate": 0.0, "throttle_rate": 0.0, "timeout_rate": 0.0}
SYNC_DAGS = [DEAL_SYNC, CONTACT_SYNC, REFERRAL_POLL, OPPORTUNITY_POLL]


@dataclass(frozen=True)
class SoakSize:
    deals: int = 300
    referrals: int = 300
    invitations: int = 50
    edit_percent: int = 10

    @classmethod
    def from_env(cls) -> SoakSize:
        return cls(
            deals=int(os.environ.get("PARTNER_SYNC_SOAK_DEALS", cls.deals)),
            referrals=int(os.environ.get("PARTNER_SYNC_SOAK_REFERRALS", cls.referrals)),
            invitations=int(os.environ.get("PARTNER_SYNC_SOAK_INVITATIONS", cls.invitations)),
            edit_percent=int(os.environ.get("PARTNER_SYNC_SOAK_EDITS", cls.edit_percent)),
        )

    def edits(self, count: int) -> int:
        return max(1, count * self.edit_percent // 100)


@dataclass
class SoakReport:
    label: str
    size: SoakSize
    batch: HubSpotBatch
    referral_ids: list[str] = field(default_factory=list)
    invitation_ids: list[str] = field(default_factory=list)
    #: deal id -> {deal property: value} edited in HubSpot while syncing
    hubspot_edits: dict[str, dict[str, str]] = field(default_factory=dict)
    #: (system, partner id) -> {deal property: value} edited on the partner side while syncing
    partner_edits: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    contact_edits: dict[str, dict[str, str]] = field(default_factory=dict)
    killed: dict[str, Any] = field(default_factory=dict)
    #: when the edits were made (ISO, as the audit writes ``occurred_at``)
    edited_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    triggered: list[tuple[str, str]] = field(default_factory=list)


def set_faults(stack: E2EStack, faults: dict[str, Any]) -> None:
    for system in SYSTEMS:
        stack.sandbox.set_faults(system, **faults)


def trigger(stack: E2EStack, report: SoakReport, dag_id: str, conf: dict[str, Any]) -> str:
    run_id = stack.rest.trigger_ok(dag_id, f"{report.label.lower()}__{dag_id}__{len(report.triggered)}", conf)
    report.triggered.append((dag_id, run_id))
    return run_id


def run_soak(stack: E2EStack, start: int, size: SoakSize, label: str = "Soak") -> SoakReport:
    """Faults on; seed; sync with edits on both sides and a SIGKILLed task; faults off; a
    final full sync of everything; wait until every run has finished."""
    half = size.deals // 2
    report = SoakReport(label=label, size=size, batch=hubspot_deals(start, {"#AWS": half, "#Microsoft": size.deals - half}, label))
    referrals = incoming_referrals(size.referrals, label)
    pending = invitations(size.invitations, label)
    report.referral_ids = [r["id"] for r in referrals]
    report.invitation_ids = [i["Id"] for i in pending]
    began = time.monotonic()
    stack.configure_webhooks()
    set_faults(stack, FAULTS)
    try:
        # 1. everything arrives at once: deals in HubSpot (webhooks), referrals, invitations
        seed_hubspot(stack, report.batch.objects)
        stack.seed("partner_center", {"referrals": referrals})
        stack.seed("partner_central", {"invitations": pending})
        trigger(stack, report, REFERRAL_POLL, {"full_sync": True})
        trigger(stack, report, OPPORTUNITY_POLL, {"full_sync": True})
        # 2. a push of every #AWS deal, killed (SIGKILL) in the middle of its batch
        kill_run = trigger(stack, report, DEAL_SYNC, {"deal_ids": report.batch.deal_ids["#AWS"]})
        report.killed = kill_task_mid_batch(stack, DEAL_SYNC, kill_run, "push_aws")
        # 3. edits on both sides while the runs above are still going (HubSpot's come back as
        # webhooks; Microsoft's are pulled by a second referral poll; AWS's by the final sync,
        # since an opportunity poll under faults takes minutes and one has run already)
        edit_both_sides(stack, report)
        trigger(stack, report, REFERRAL_POLL, {"full_sync": True})
        settle(stack, timeout=900)
        report.timings["with faults"] = round(time.monotonic() - began, 1)
    finally:
        set_faults(stack, NO_FAULTS)
    # 4. faults off: one final full sync of everything, as an operator would after an incident
    began_final = time.monotonic()
    trigger(stack, report, DEAL_SYNC, {"deal_ids": report.batch.all_deal_ids})
    settle(stack, timeout=600)
    trigger(stack, report, REFERRAL_POLL, {"full_sync": True})
    trigger(stack, report, OPPORTUNITY_POLL, {"full_sync": True})
    trigger(stack, report, CONTACT_SYNC, {"contact_ids": sorted(report.contact_edits)})
    settle(stack, timeout=600)
    report.timings["final full sync"] = round(time.monotonic() - began_final, 1)
    report.timings["soak total"] = round(time.monotonic() - began, 1)
    return report


#: the hooks' own retry warnings (Partner Central's are botocore's, which it does not log)
HOOK_RETRY_LINES = {"hubspot": re.compile(r"HubSpot \S+ \S+ failed .*; retry \d+ in"),
                    "partner_center": re.compile(r"Partner Center call failed .*retrying in")}


def logged_hook_retries(home: Path) -> dict[str, int]:
    """How many retries the hooks logged in all task logs so far, by API."""
    counts = dict.fromkeys(HOOK_RETRY_LINES, 0)
    for path in (home / "logs").rglob("attempt=*.log"):
        text = path.read_text(errors="replace")
        for api, pattern in HOOK_RETRY_LINES.items():
            counts[api] += len(pattern.findall(text))
    return counts


def runs_started_while_idle(stack: E2EStack, seconds: float = 10.0) -> list[str]:
    """Sync runs created during ``seconds`` of quiet (none: no echo loop keeps it busy)."""
    before = {run["dag_run_id"] for dag_id in SYNC_DAGS for run in stack.rest.runs(dag_id)}
    time.sleep(seconds)
    return [f"{run['dag_id']}/{run['dag_run_id']}" for dag_id in SYNC_DAGS for run in stack.rest.runs(dag_id)
            if run["dag_run_id"] not in before and run["run_type"] != "scheduled"]


def settle(stack: E2EStack, timeout: float) -> None:
    """Webhook deliveries drained and no sync run queued or running."""
    stack.flush_webhooks(timeout=60)
    stack.rest.wait_runs_settled(SYNC_DAGS, timeout=timeout)
    stack.flush_webhooks(timeout=60)
    stack.rest.wait_runs_settled(SYNC_DAGS, timeout=timeout)


def kill_task_mid_batch(stack: E2EStack, dag_id: str, run_id: str, task_id: str, calls: int = 20) -> dict[str, Any]:
    """SIGKILL the process running ``task_id`` of the run once it has made ``calls`` Partner
    Central calls (the task holds the only slot of the Partner Central pool: the calls are its
    own), i.e. in the middle of its batch."""

    def running() -> dict[str, Any] | None:
        for ti in stack.rest.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["state"] == "running":
                return ti
            if ti["task_id"] == task_id and ti["state"] in ("success", "failed", "upstream_failed"):
                raise AssertionError(f"{task_id} of {run_id} ended ({ti['state']}) before it could be killed")
        return None

    ti = wait_for(running, 600, f"{dag_id}.{task_id} of {run_id} to run", interval=0.5)
    base = stack.sandbox.stats("partner_central")["total"]
    deadline = time.monotonic() + 60
    while stack.sandbox.stats("partner_central")["total"] - base < calls and time.monotonic() < deadline:
        time.sleep(0.2)
    made = stack.sandbox.stats("partner_central")["total"] - base
    pids = kill_task_process(stack, ti["id"])
    assert pids, f"no process found running task instance {ti['id']} ({task_id})"
    return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "ti_id": ti["id"], "pids": pids,
            "try_number": ti["try_number"], "partner_central_calls_before_kill": made}


def kill_task_process(stack: E2EStack, ti_id: str) -> list[int]:
    """SIGKILL the task process (the child of the LocalExecutor worker that supervises the
    task instance ``ti_id``); only processes of this stack's scheduler process group."""
    group = stack.process_group("scheduler")
    killed = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(process.pid) != group or ti_id not in " ".join(process.info["cmdline"] or []):
                continue
            for child in process.children(recursive=False):
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return killed


def edit_both_sides(stack: E2EStack, report: SoakReport) -> None:
    """HubSpot: stage edits on some pushed deals and contact edits; partner side: stage edits
    on opportunities that exist by now and status edits on incoming referrals. The sets are
    disjoint, so each record's last edit is known."""
    size = report.size
    report.edited_at = iso(datetime.now(timezone.utc))
    aws_ids, ms_ids = report.batch.deal_ids["#AWS"], report.batch.deal_ids["#Microsoft"]
    n_aws, n_ms = size.edits(len(aws_ids)), size.edits(len(ms_ids))
    for deal_id in aws_ids[:n_aws] + ms_ids[:n_ms]:
        report.hubspot_edits[deal_id] = {"dealstage": "presentationscheduled"}
    for deal_id in aws_ids[n_aws:2 * n_aws]:
        contact_id = report.batch.contact_of[deal_id]
        report.contact_edits[contact_id] = {"jobtitle": "Head of Platform", "phone": "+1 206 555 0188"}
    seed_hubspot(stack, {
        "deals": [{"id": deal_id, "properties": props} for deal_id, props in report.hubspot_edits.items()],
        "contacts": [{"id": cid, "properties": props} for cid, props in report.contact_edits.items()],
    })
    view = SandboxView(stack)
    opportunities_of = view.opportunities_of_deal()
    candidates = [opportunities_of[d][0] for d in aws_ids[2 * n_aws:] if len(opportunities_of.get(d, [])) == 1]
    edited = []
    for opportunity_id in candidates[:n_aws]:
        opportunity = dict(view.opportunities[opportunity_id])
        opportunity["LifeCycle"] = {**opportunity["LifeCycle"], "Stage": "Technical Validation"}
        edited.append(opportunity)
        report.partner_edits[("aws", opportunity_id)] = {"dealstage": "presentationscheduled"}
    if edited:
        stack.seed("partner_central", {"opportunities": edited})
    referrals = []
    for referral_id in report.referral_ids[:size.edits(len(report.referral_ids))]:
        referral = dict(view.referrals[referral_id])
        referral.update(status="Active", substatus="Accepted")
        referrals.append(referral)
        report.partner_edits[("microsoft", referral_id)] = {"dealstage": "qualifiedtobuy"}
    stack.seed("partner_center", {"referrals": referrals})


# --------------------------------------------------------------------------- invariants


def soak_problems(stack: E2EStack, report: SoakReport) -> list[str]:
    """Exactly one partner record per deal and one deal per partner record, every last edit on
    both sides (see also :func:`tests.e2e.checks.store_problems` for tokens and audit)."""
    view = SandboxView(stack)
    problems: list[str] = []
    opportunities_of, referrals_of = view.opportunities_of_deal(), view.referrals_of_deal()
    for tag, id_property, partners_of, system in (
        ("#AWS", "aws_opportunity_id", opportunities_of, "aws"),
        ("#Microsoft", "microsoft_referral_id", referrals_of, "microsoft"),
    ):
        for deal_id in report.batch.deal_ids[tag]:
            partner_ids = partners_of.get(deal_id, [])
            deal = view.deals.get(deal_id, {})
            if len(partner_ids) != 1:
                problems.append(f"{tag} deal {deal_id}: {len(partner_ids)} partner records {partner_ids}")
            elif deal.get(id_property) != partner_ids[0]:
                problems.append(f"{tag} deal {deal_id}: {id_property}={deal.get(id_property)!r}, record {partner_ids[0]}")
            elif deal.get(f"{system}_sync_status") != "synced":
                problems.append(f"{tag} deal {deal_id}: {system}_sync_status={deal.get(f'{system}_sync_status')!r}")
    for referral_id in report.referral_ids:
        deals = view.deals_with("microsoft_referral_id", referral_id)
        if len(deals) != 1 or not has_tag(view.deals[deals[0]].get("dealname"), "#Microsoft"):
            problems.append(f"incoming referral {referral_id}: deals {deals}")
    for invitation_id in report.invitation_ids:
        deals = view.deals_with("aws_invitation_id", invitation_id)
        if len(deals) != 1:
            problems.append(f"invitation {invitation_id}: deals {deals}")
            continue
        opportunity_id = view.deals[deals[0]].get("aws_opportunity_id")
        if opportunity_id not in view.opportunities or len(view.deals_with("aws_opportunity_id", opportunity_id)) != 1:
            problems.append(f"invitation {invitation_id}: deal {deals[0]} -> opportunity {opportunity_id!r}")
    problems.extend(last_edit_problems(view, report))
    problems.extend(edit_audit_problems(stack.store(), view, report))
    return problems


def edit_audit_problems(store: Any, view: SandboxView, report: SoakReport) -> list[str]:
    """Every edit made its way into the audit: a successful entry, after the edit, on the
    record the edit had to be written to (the partner record for a HubSpot edit or a contact
    edit, the deal for a partner edit) — whether it was the record's creation or an update."""

    def written_since_edit(entity_id: str) -> bool:
        return any(entry["success"] and entry["occurred_at"] >= report.edited_at
                   for entry in store.audit_history(entity_id))

    problems = []
    for deal_id in report.hubspot_edits:
        deal = view.deals.get(deal_id, {})
        partner_id = deal.get("aws_opportunity_id") or deal.get("microsoft_referral_id")
        if partner_id and not written_since_edit(partner_id):
            problems.append(f"HubSpot edit of deal {deal_id}: no audited write to {partner_id} since the edit")
    for (system, partner_id) in report.partner_edits:
        id_property = "aws_opportunity_id" if system == "aws" else "microsoft_referral_id"
        for deal_id in view.deals_with(id_property, partner_id):
            if not written_since_edit(deal_id):
                problems.append(f"{system} edit of {partner_id}: no audited write to deal {deal_id} since the edit")
    for contact_id in report.contact_edits:
        deal_id = next(d for d, c in report.batch.contact_of.items() if c == contact_id)
        opportunity_id = view.deals.get(deal_id, {}).get("aws_opportunity_id")
        if opportunity_id and not written_since_edit(opportunity_id):
            problems.append(f"contact edit {contact_id}: no audited write to {opportunity_id} since the edit")
    return problems


def last_edit_problems(view: SandboxView, report: SoakReport) -> list[str]:
    problems = []
    for deal_id, edit in report.hubspot_edits.items():
        problems.extend(_pair_problems(view, deal_id, edit, f"HubSpot edit of deal {deal_id}"))
    for (system, partner_id), edit in report.partner_edits.items():
        id_property = "aws_opportunity_id" if system == "aws" else "microsoft_referral_id"
        deals = view.deals_with(id_property, partner_id)
        if len(deals) != 1:
            problems.append(f"partner edit of {partner_id}: deals {deals}")
            continue
        problems.extend(_pair_problems(view, deals[0], edit, f"{system} edit of {partner_id}"))
    for contact_id, edit in report.contact_edits.items():
        contact = view.contacts.get(contact_id, {})
        deal_id = next(d for d, c in report.batch.contact_of.items() if c == contact_id)
        opportunity = view.opportunities.get(view.deals[deal_id].get("aws_opportunity_id") or "", {})
        titles = {c.get("BusinessTitle") for c in (opportunity.get("Customer") or {}).get("Contacts") or []}
        if contact.get("jobtitle") != edit["jobtitle"] or edit["jobtitle"] not in titles:
            problems.append(f"contact edit {contact_id}: HubSpot {contact.get('jobtitle')!r}, opportunity titles {titles}")
    return problems


def _pair_problems(view: SandboxView, deal_id: str, edit: dict[str, str], what: str) -> list[str]:
    deal = view.deals.get(deal_id, {})
    problems = [f"{what}: deal has {prop}={deal.get(prop)!r}, expected {value!r}"
                for prop, value in edit.items() if deal.get(prop) != value]
    if deal.get("aws_opportunity_id") in view.opportunities:
        partner = deal_fields_from_opportunity(view.opportunities[deal["aws_opportunity_id"]])
        expected = opportunity_fields_from_deal({"properties": deal})
    elif deal.get("microsoft_referral_id") in view.referrals:
        partner = deal_fields_from_referral(view.referrals[deal["microsoft_referral_id"]])
        expected = referral_fields_from_deal({"properties": deal})
    else:
        return [*problems, f"{what}: deal {deal_id} has no partner record"]
    problems.extend(f"{what}: partner side has {prop}={partner.get(prop)!r}, deal side {expected.get(prop)!r}"
                    for prop in edit if partner.get(prop) != expected.get(prop))
    return problems
