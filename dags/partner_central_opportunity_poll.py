"""
### partner_central_opportunity_poll

Every 5 minutes:

1. pending engagement invitations are accepted (StartEngagementByAcceptingInvitationTask) and
   become HubSpot deals tagged `#AWS` (never twice, whatever repeats);
2. opportunities modified in the data interval (review status, stage, …) update their deals;
3. edits held back while an opportunity was locked in review are replayed once it leaves review.

conf `{"full_sync": true}` sweeps every opportunity and invitation instead.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT


@dag(
    dag_id="partner_central_opportunity_poll",
    schedule=CronDataIntervalTimetable("*/5 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_AWS, TAGS_HUBSPOT],
    doc_md=__doc__,
    params={"full_sync": Param(False, type="boolean", title="Full sync")},
)
def partner_central_opportunity_poll():
    @task(pool="partner_central_api")
    def accept_invitations() -> dict:
        from partner_sync.sync.aws_poll import accept_invitations as accept
        from partner_sync.sync.runtime import SyncRun

        run = SyncRun.current()
        return accept(run, run.window(get_current_context()))

    @task(pool="partner_central_api")
    def poll_opportunities() -> dict:
        from partner_sync.sync.aws_poll import poll_opportunities as poll
        from partner_sync.sync.runtime import SyncRun

        run = SyncRun.current()
        return poll(run, run.window(get_current_context()))

    @task(pool="partner_central_api")
    def replay_deferred_edits() -> dict:
        from partner_sync.sync.aws_push import replay_deferred_edits as replay
        from partner_sync.sync.runtime import SyncRun

        return replay(SyncRun.current())

    accept_invitations() >> poll_opportunities() >> replay_deferred_edits()


partner_central_opportunity_poll()
