"""
### audit_export

Daily: the audit entries of each UTC day → gzip JSON Lines at
`<archive>/date=YYYY-MM-DD/part-0.jsonl.gz` on Airflow's ObjectStoragePath, where `<archive>`
is the Variable `partner_sync_audit_archive` (`s3://…` in production, `file://…` by default).
`s3://bucket/prefix` writes through the Airflow connection `aws_default`,
`s3://my_conn@bucket/prefix` through `my_conn`.

The run at 01:00 exports the UTC day that ended an hour before (every day whose end falls in
the data interval), so late commits are in. A re-run rewrites the same bytes, so a backfill
over a year produces the same files; a day without entries gets an empty file.
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="audit_export",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["audit"],
    doc_md=__doc__,
)
def audit_export():
    @task
    def export_interval() -> dict:
        from partner_sync.sync.audit_export import export_window
        from partner_sync.sync.runtime import SyncRun

        run = SyncRun.current()
        return export_window(run, run.window(get_current_context()))

    export_interval()


audit_export()
