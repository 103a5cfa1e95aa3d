"""
### partner_central_engagement_sync

Every 30 minutes, for every deal linked to a Partner Central opportunity: its engagement
(ListEngagements / GetEngagement / ListEngagementMembers, all pages) → `aws_engagement_id`,
`aws_engagement_status`, `aws_engagement_team`, `aws_engagement_kickoff_date`,
`aws_last_engagement_sync`, and one note on the deal when the engagement status changes.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT


@dag(
    dag_id="partner_central_engagement_sync",
    schedule=CronDataIntervalTimetable("*/30 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_AWS, TAGS_HUBSPOT],
    doc_md=__doc__,
)
def partner_central_engagement_sync():
    @task(pool="partner_central_api")
    def sync_engagements() -> dict:
        from partner_sync.sync.engagements import sync_engagements as sync
        from partner_sync.sync.runtime import SyncRun

        return sync(SyncRun.current())

    sync_engagements()


partner_central_engagement_sync()
