"""End to end on real Airflow (LocalExecutor, Postgres): the core scenario's outcome.

The scenario (:func:`tests.e2e.flows.run_core_flows`) runs once per session; each test checks
one part of the final state of the three emulators, the store and Airflow.
"""

from __future__ import annotations

import gzip
import json

import pytest

from partner_sync.mapping.aws import deal_fields_from_opportunity
from partner_sync.mapping.microsoft import deal_fields_from_referral
from tests.e2e.checks import airflow_figures, check_core_outcome
from tests.e2e.figures import record
from tests.e2e.flows import AUDIT_EXPORT, DEAL_SYNC, SCHEDULED_DAGS, FlowReport, SandboxView, wait_scheduled_runs
from tests.e2e.stack import E2EStack

pytestmark = pytest.mark.e2e


def test_the_readmes_demo_command_started_the_stack(local_stack: E2EStack) -> None:
    """The set-up ran ``bash scripts/demo.sh``; it printed what the README promises."""
    banner = (local_stack.airflow_home / "process-logs" / "demo.log").read_text(errors="replace")
    assert f"Airflow UI:  {local_stack.info['api_url']}   (login: admin / admin)" in banner, banner[-2000:]
    assert f"Webhooks:    POST {local_stack.webhook_url}" in banner
    assert local_stack.demo.poll() is None, "the demo command is not running"


def test_webhooks_are_signed_accepted_and_trigger_deal_sync(local_stack: E2EStack, core_report: FlowReport) -> None:
    deliveries = local_stack.webhook_deliveries()
    assert deliveries, "the HubSpot emulator delivered no webhook"
    refused = [(d["deliveryId"], d["status"], d["response"]) for d in deliveries if not d["delivered"]]
    assert not refused, f"the receiver refused deliveries: {refused[:5]}"
    runs = local_stack.rest.runs(DEAL_SYNC)
    from_webhooks = [run for run in runs if run["dag_run_id"].startswith("webhook__")]
    assert from_webhooks, "no hubspot_deal_sync run was triggered by the webhook receiver"
    assert all(run["state"] == "success" for run in from_webhooks), [
        (run["dag_run_id"], run["state"]) for run in from_webhooks if run["state"] != "success"]


def test_core_outcome_on_all_three_systems_and_the_store(local_stack: E2EStack, core_report: FlowReport) -> None:
    check_core_outcome(local_stack, core_report)


def test_partner_edits_reach_hubspot_and_hubspot_edits_reach_partners(local_stack: E2EStack, core_report: FlowReport) -> None:
    view = SandboxView(local_stack)
    for deal_id, edit in core_report.hubspot_edits.items():
        deal = view.deals[deal_id]
        for prop, value in edit.items():
            assert deal.get(prop) == value, (deal_id, prop, deal.get(prop))
        if deal.get("aws_opportunity_id"):
            partner = deal_fields_from_opportunity(view.opportunities[deal["aws_opportunity_id"]])
        else:
            partner = deal_fields_from_referral(view.referrals[deal["microsoft_referral_id"]])
        for prop, value in edit.items():
            assert partner[prop] == value, (deal_id, prop, partner[prop], value)
    for partner_id, (system, edit) in core_report.partner_edits.items():
        id_property = "aws_opportunity_id" if system == "aws" else "microsoft_referral_id"
        deals = view.deals_with(id_property, partner_id)
        assert len(deals) == 1, (partner_id, deals)
        for prop, value in edit.items():
            assert view.deals[deals[0]].get(prop) == value, (partner_id, deals[0], prop, view.deals[deals[0]].get(prop))


def test_contact_edits_reach_every_linked_opportunity(local_stack: E2EStack, core_report: FlowReport) -> None:
    view = SandboxView(local_stack)
    for contact_id, edit in core_report.contact_edits.items():
        deal_id = next(d for d, c in core_report.batch.contact_of.items() if c == contact_id)
        opportunity = view.opportunities[view.deals[deal_id]["aws_opportunity_id"]]
        contacts = (opportunity.get("Customer") or {}).get("Contacts") or []
        titles = {c.get("BusinessTitle") for c in contacts}
        phones = {c.get("Phone") for c in contacts}
        assert edit["jobtitle"] in titles, (contact_id, contacts)
        assert "+12065550177" in phones, (contact_id, contacts)


def test_schedules_fire_by_themselves(local_stack: E2EStack, core_report: FlowReport) -> None:
    """Unpaused, catchup off, start date in the past: the scheduler runs each scheduled DAG's
    latest interval by itself, and those runs succeed."""
    scheduled = wait_scheduled_runs(local_stack)
    failed = {dag_id: [r["dag_run_id"] for r in runs if r["state"] != "success"] for dag_id, runs in scheduled.items()}
    assert not any(failed.values()), failed
    assert set(scheduled) == set(SCHEDULED_DAGS)
    assert all(run["data_interval_start"] and run["data_interval_end"] for runs in scheduled.values() for run in runs)


def test_audit_export_archives_the_scenario_writes(local_stack: E2EStack, core_report: FlowReport) -> None:
    start, _end = core_report.audit_window
    archive = local_stack.airflow_home / "partner-sync-audit" / f"date={start.date().isoformat()}" / "part-0.jsonl.gz"
    assert archive.exists(), f"audit_export wrote no {archive}"
    exported = [json.loads(line) for line in gzip.decompress(archive.read_bytes()).decode().splitlines() if line]
    exported_deals = {entry.get("deal_id") for entry in exported}
    missing = [deal_id for deal_id in core_report.batch.all_deal_ids if deal_id not in exported_deals]
    assert not missing, f"deals without an exported audit entry: {missing}"
    assert local_stack.rest.runs(AUDIT_EXPORT)


def test_every_run_of_the_scenario_succeeded(local_stack: E2EStack, core_report: FlowReport) -> None:
    figures = airflow_figures(local_stack)
    record("core scenario (LocalExecutor)", **figures)
    assert not figures["failed_runs"], figures["failed_runs"]
