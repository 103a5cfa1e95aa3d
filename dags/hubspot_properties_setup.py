"""
### hubspot_properties_setup

Creates, idempotently, the `partner_sync` property group and every custom deal property the
package writes (Microsoft, AWS core and seed 003's). Run it once per HubSpot account before
the first sync; re-running changes nothing that is already right.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_HUBSPOT


@dag(
    dag_id="hubspot_properties_setup",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_HUBSPOT],
    doc_md=__doc__,
)
def hubspot_properties_setup():
    @task(pool="hubspot_api")
    def create_properties() -> dict:
        from partner_sync.sync.properties_setup import create_properties as create
        from partner_sync.sync.runtime import SyncRun

        return create(SyncRun.current())

    create_properties()


hubspot_properties_setup()
