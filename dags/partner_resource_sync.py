"""
### partner_resource_sync

Daily, and on demand. Partner Central has no document upload (the seed's "upload resource"
does not exist in the API); what it offers is resource *snapshots* of an opportunity into its
engagement, and engagement resource associations. This DAG:

- with conf `{"snapshot": {"opportunity_id": "O123"}}` (or `"deal_id"`), snapshots that
  opportunity into its engagement (CreateResourceSnapshot, template from the Variable
  `partner_sync_aws_snapshot_template`), once per opportunity revision (the snapshot job
  started on submission already re-snapshots it after every change);
- lists every linked engagement's resource associations and snapshots into
  `aws_partner_resources` (JSON), `aws_total_resources`, `aws_last_resource_upload`.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT


@dag(
    dag_id="partner_resource_sync",
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_AWS, TAGS_HUBSPOT],
    doc_md=__doc__,
    params={
        "snapshot": Param(
            None,
            type=["null", "object"],
            title="Snapshot an opportunity into its engagement",
            properties={
                "opportunity_id": {"type": "string", "pattern": "^O[0-9]{1,19}$"},
                "deal_id": {"type": "string", "pattern": "^[0-9]{1,20}$"},
            },
        ),
    },
)
def partner_resource_sync():
    @task(pool="partner_central_api")
    def snapshot_opportunity() -> dict:
        from partner_sync.sync.resources import snapshot_opportunity as snapshot
        from partner_sync.sync.runtime import SyncRun

        return snapshot(SyncRun.current(), get_current_context()["params"].get("snapshot"))

    @task(pool="partner_central_api")
    def sync_resources() -> dict:
        from partner_sync.sync.resources import sync_resources as sync
        from partner_sync.sync.runtime import SyncRun

        return sync(SyncRun.current())

    snapshot_opportunity() >> sync_resources()


partner_resource_sync()
