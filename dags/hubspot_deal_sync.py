"""
### hubspot_deal_sync

Pushes HubSpot deals to the partner systems. Triggered through the REST API (the webhook
receiver does this) or by hand with the form:

- conf `{"deal_ids": ["123", ...]}` or `{"events": [<HubSpot webhook events>]}`;
- deals tagged `#Microsoft` become or update a Partner Center referral;
- deals tagged `#AWS` become or update a Partner Central opportunity;
- a deal-owner change reassigns the opportunity (AssignOpportunity);
- `assign` (the form's manual assignment) assigns one opportunity to a named partner user.

Ids and statuses are written back to the deals; per-deal failures land on the deal (status
property and a note) and in the audit without stopping the rest.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT, TAGS_MICROSOFT


@dag(
    dag_id="hubspot_deal_sync",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=8,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_HUBSPOT, TAGS_AWS, TAGS_MICROSOFT],
    doc_md=__doc__,
    params={
        "deal_ids": Param([], type="array", items={"type": "string", "pattern": "^[0-9]{1,20}$"},
                          maxItems=10000, title="Deal ids", description="HubSpot deal ids to push"),
        "events": Param([], type="array", maxItems=100, title="Webhook events",
                        description="HubSpot webhook events (the receiver fills this in)"),
        "assign": Param(
            None,
            type=["null", "object"],
            title="Manual assignment",
            description="Assign one opportunity to a Partner Central user",
            properties={
                "deal_id": {"type": "string", "pattern": "^[0-9]{1,20}$"},
                "opportunity_id": {"type": "string", "pattern": "^O[0-9]{1,19}$"},
                "email": {"type": "string", "format": "email", "maxLength": 80},
                "first_name": {"type": "string", "minLength": 1, "maxLength": 80},
                "last_name": {"type": "string", "minLength": 1, "maxLength": 80},
                "title": {"type": "string", "minLength": 1, "maxLength": 80},
            },
            required=["email", "first_name", "last_name", "title"],
        ),
    },
)
def hubspot_deal_sync():
    @task(pool="hubspot_api")
    def plan() -> dict:
        """Validate the conf and split the deals by partner system (ids only)."""
        from partner_sync.sync.deal_push import plan_push
        from partner_sync.sync.runtime import SyncRun

        return plan_push(SyncRun.current(), get_current_context()["params"])

    @task(pool="partner_center_api")
    def push_microsoft(push_plan: dict) -> dict:
        from partner_sync.sync.microsoft_push import push_deals
        from partner_sync.sync.runtime import SyncRun

        return push_deals(SyncRun.current(), push_plan["microsoft"])

    @task(pool="partner_central_api")
    def push_aws(push_plan: dict) -> dict:
        from partner_sync.sync.aws_push import push_deals
        from partner_sync.sync.runtime import SyncRun

        return push_deals(SyncRun.current(), push_plan["aws"])

    @task(pool="partner_central_api")
    def assign_opportunities(push_plan: dict) -> dict:
        """Owner changes and the form's manual assignment -> AssignOpportunity."""
        from partner_sync.sync.assignment import assign_opportunities as assign
        from partner_sync.sync.runtime import SyncRun

        return assign(SyncRun.current(), push_plan["owner_changed"], push_plan["assign"])

    push_plan = plan()
    aws = push_aws(push_plan)
    push_microsoft(push_plan)
    aws >> assign_opportunities(push_plan)


hubspot_deal_sync()
