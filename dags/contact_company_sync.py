"""
### contact_company_sync

Contact and company changes reach every linked opportunity (and referral): contacts,
account name, address, industry and website, with every other field of the opportunity kept.

- triggered by the webhook receiver with conf `{"events": [...]}`, or by hand with
  `{"contact_ids": [...], "company_ids": [...]}`;
- hourly as reconciliation over the data interval (HubSpot search on `hs_lastmodifieddate`),
  so a change no webhook announced is still caught, and a backfill re-syncs its window.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT, TAGS_MICROSOFT


@dag(
    dag_id="contact_company_sync",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_HUBSPOT, TAGS_AWS, TAGS_MICROSOFT],
    doc_md=__doc__,
    params={
        "contact_ids": Param([], type="array", items={"type": "string", "pattern": "^[0-9]{1,20}$"}),
        "company_ids": Param([], type="array", items={"type": "string", "pattern": "^[0-9]{1,20}$"}),
        "events": Param([], type="array", maxItems=100),
    },
)
def contact_company_sync():
    @task(pool="hubspot_api")
    def find_affected_deals() -> dict:
        """Changed contacts/companies → the linked deals (ids only)."""
        from partner_sync.sync.contacts import find_affected_deals as find
        from partner_sync.sync.runtime import SyncRun

        context = get_current_context()
        run = SyncRun.current()
        return find(run, context["params"], run.window(context))

    @task(pool="partner_central_api")
    def update_opportunities(affected: dict) -> dict:
        from partner_sync.sync.contacts import update_opportunities as update
        from partner_sync.sync.runtime import SyncRun

        return update(SyncRun.current(), affected)

    @task(pool="partner_center_api")
    def update_referrals(affected: dict) -> dict:
        from partner_sync.sync.contacts import update_referrals as update
        from partner_sync.sync.runtime import SyncRun

        return update(SyncRun.current(), affected)

    affected = find_affected_deals()
    update_opportunities(affected)
    update_referrals(affected)


contact_company_sync()
