"""Checks on the final state of a stack: the three emulators, the store, and Airflow itself.

Shared by the LocalExecutor and Celery suites (same scenario, same outcome) and the soak.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any

from partner_sync.mapping.deals import has_tag
from tests.e2e.flows import FlowReport, SandboxView
from tests.e2e.stack import E2EStack

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=timezone.utc)


def written_by_us(system: str, record: dict[str, Any]) -> bool:
    """Whether the package must have written this partner record: every opportunity we know
    (created by a push, or accepted from an invitation), every outgoing referral."""
    return system == "aws" or record.get("direction") == "Outgoing"


def store_links(stack: E2EStack) -> dict[str, dict[str, str]]:
    """``{system: {deal id: partner id}}`` from the sync store."""
    store = stack.store()
    return {system: {link.deal_id: link.partner_id for link in store.all_links(system)} for system in ("aws", "microsoft")}


def all_audit_entries(stack: E2EStack) -> list[dict[str, Any]]:
    return list(stack.store().iter_audit(EPOCH, FAR_FUTURE))


def check_core_outcome(stack: E2EStack, report: FlowReport) -> None:
    """Deals pushed once with ids written back, partner records pulled once, store and audit
    consistent with the emulators."""
    view = SandboxView(stack)
    opportunities_of, referrals_of = view.opportunities_of_deal(), view.referrals_of_deal()
    problems: list[str] = []
    for deal_id in report.batch.deal_ids["#AWS"]:
        deal = view.deals[deal_id]
        if len(opportunities_of.get(deal_id, [])) != 1:
            problems.append(f"#AWS deal {deal_id} has opportunities {opportunities_of.get(deal_id)}")
        elif deal.get("aws_opportunity_id") != opportunities_of[deal_id][0]:
            problems.append(f"#AWS deal {deal_id}: aws_opportunity_id {deal.get('aws_opportunity_id')!r} not written back")
        if deal.get("aws_sync_status") != "synced":
            problems.append(f"#AWS deal {deal_id}: aws_sync_status {deal.get('aws_sync_status')!r}")
    for deal_id in report.batch.deal_ids["#Microsoft"]:
        deal = view.deals[deal_id]
        if len(referrals_of.get(deal_id, [])) != 1:
            problems.append(f"#Microsoft deal {deal_id} has referrals {referrals_of.get(deal_id)}")
        elif deal.get("microsoft_referral_id") != referrals_of[deal_id][0]:
            problems.append(f"#Microsoft deal {deal_id}: microsoft_referral_id {deal.get('microsoft_referral_id')!r}")
        if deal.get("microsoft_sync_status") != "synced":
            problems.append(f"#Microsoft deal {deal_id}: microsoft_sync_status {deal.get('microsoft_sync_status')!r}")
    for referral_id in report.referral_ids:
        deals = view.deals_with("microsoft_referral_id", referral_id)
        if len(deals) != 1 or not has_tag(view.deals[deals[0]].get("dealname"), "#Microsoft"):
            problems.append(f"incoming referral {referral_id} has deals {deals}")
    for invitation_id in report.invitation_ids:
        deals = view.deals_with("aws_invitation_id", invitation_id)
        if len(deals) != 1 or not has_tag(view.deals[deals[0]].get("dealname"), "#AWS"):
            problems.append(f"invitation {invitation_id} has deals {deals}")
        elif view.deals[deals[0]].get("aws_opportunity_id") not in view.opportunities:
            problems.append(f"invitation {invitation_id}: deal {deals[0]} names no existing opportunity")
        if view.invitations[invitation_id].get("Status") != "ACCEPTED":
            problems.append(f"invitation {invitation_id} is {view.invitations[invitation_id].get('Status')}")
    problems.extend(store_problems(stack, view))
    assert not problems, "\n".join(problems)


def store_problems(stack: E2EStack, view: SandboxView) -> list[str]:
    """Links agree with the ids on the deals; no ClientToken left pending; every partner record
    the package wrote has an audit entry; every audit chain verifies."""
    problems: list[str] = []
    links = store_links(stack)
    for system, id_property in (("aws", "aws_opportunity_id"), ("microsoft", "microsoft_referral_id")):
        for deal_id, props in view.deals.items():
            partner_id = props.get(id_property)
            if partner_id and links[system].get(deal_id) != partner_id:
                problems.append(f"deal {deal_id}: {id_property}={partner_id} but the store links {links[system].get(deal_id)}")
        for deal_id, partner_id in links[system].items():
            if deal_id not in view.deals:
                problems.append(f"store links missing deal {deal_id} to {system} {partner_id}")
    store = stack.store()
    pending = store.pending_client_tokens()
    if pending:
        problems.append(f"{len(pending)} ClientToken(s) left pending: {[(t.system, t.deal_id, t.operation) for t in pending[:5]]}")
    entries = all_audit_entries(stack)
    audited = {entry["entity_id"] for entry in entries if entry["success"]} | {
        entry["deal_id"] for entry in entries if entry["success"] and entry["deal_id"]}
    for system, kind in (("aws", "opportunity"), ("microsoft", "referral")):
        for deal_id, partner_id in links[system].items():
            if deal_id not in audited:
                problems.append(f"deal {deal_id} (linked to {kind} {partner_id}) has no audit entry")
            record = view.opportunities.get(partner_id) if system == "aws" else view.referrals.get(partner_id)
            if record is None:
                problems.append(f"deal {deal_id} is linked to {kind} {partner_id}, which does not exist")
            elif written_by_us(system, record) and partner_id not in audited:
                problems.append(f"{kind} {partner_id} (deal {deal_id}) was written without an audit entry")
    broken = {entity: seqs for entity in {e["entity_id"] for e in entries} if (seqs := store.verify_audit_chain(entity))}
    if broken:
        problems.append(f"audit chains broken: {dict(list(broken.items())[:5])}")
    return problems


#: run ids of runs made to fail on purpose (the bad-input module's)
EXPECTED_FAILURES_PREFIX = "bad_input__"


def airflow_figures(stack: E2EStack) -> dict[str, Any]:
    """Runs by DAG and state, task instances, retries (try_number > 1), and the failed runs
    (other than those the bad-input tests make fail on purpose)."""
    runs = stack.rest.runs()
    task_instances = stack.rest.task_instances()
    retried = [ti for ti in task_instances if (ti.get("try_number") or 0) > 1]
    return {
        "runs": len(runs),
        "runs_by_state": dict(Counter(run["state"] for run in runs)),
        "runs_by_dag": dict(sorted(Counter(run["dag_id"] for run in runs).items())),
        "task_instances": len(task_instances),
        "retried_task_instances": len(retried),
        "retries": sum(ti["try_number"] - 1 for ti in retried),
        "failed_runs": [f"{run['dag_id']}/{run['dag_run_id']}" for run in runs
                        if run["state"] == "failed" and not run["dag_run_id"].startswith(EXPECTED_FAILURES_PREFIX)],
    }
