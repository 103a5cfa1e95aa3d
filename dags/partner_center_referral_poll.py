"""
### partner_center_referral_poll

Every 15 minutes: the Microsoft Partner Center referrals changed in the run's data interval,
whatever their status (a referral that closes reaches its deal), become or update HubSpot
deals tagged `#Microsoft`. All pages, no cap; HubSpot writes in batches of 100.

conf `{"full_sync": true}` sweeps every referral instead (first sync, or a repair). A backfill
over an old window re-syncs exactly that window and writes nothing that is already in sync.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_HUBSPOT, TAGS_MICROSOFT


@dag(
    dag_id="partner_center_referral_poll",
    schedule=CronDataIntervalTimetable("*/15 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_MICROSOFT, TAGS_HUBSPOT],
    doc_md=__doc__,
    params={"full_sync": Param(False, type="boolean", title="Full sync")},
)
def partner_center_referral_poll():
    @task(pool="partner_center_api")
    def poll_referrals() -> dict:
        from partner_sync.sync.microsoft_poll import poll_referrals as poll
        from partner_sync.sync.runtime import SyncRun

        run = SyncRun.current()
        return poll(run, run.window(get_current_context()))

    poll_referrals()


partner_center_referral_poll()
