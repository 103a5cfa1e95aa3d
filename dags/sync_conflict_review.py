"""
### sync_conflict_review

Pending MANUAL conflicts (a field HubSpot and the partner both changed, to different values,
under the strategy `MANUAL`) are put to a person in the Airflow UI, one question per conflict
(*Browse → Required Actions*, or the task's *Required Actions* tab), and the answer is applied
to both systems.

1. `list_pending_conflicts` — the pending conflicts not already waiting in another run's
   question (or those of conf `{"conflict_ids": [...]}`), at most `max_questions`;
2. `review_conflict` — one human-in-the-loop question per conflict: the field, the HubSpot
   value and the partner value with when and by whom each was changed. Options: keep the
   HubSpot value, keep the partner value, or use the value typed into the form. It waits up
   to 24 h in the `awaiting_input` state (no worker or pool slot). There is **no default**:
   an unanswered question fails its task and the conflict stays pending, to be asked again;
3. `apply_decisions` (runs whatever the questions' outcome) — each answer is written to the
   deal and to the opportunity / referral, the conflict is resolved, the deal's
   `aws_conflict_status`, `aws_version`, `aws_last_sync_by` and `aws_last_conflict_date` are
   updated, and every write is audited with the responding user as the actor.

Hourly, and REST-triggerable. No pending conflicts: nothing is asked, the run succeeds.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, dag, get_current_context, task

from partner_sync.dag_defaults import DEFAULT_ARGS, START_DATE, TAGS_AWS, TAGS_HUBSPOT, TAGS_MICROSOFT

#: how long a question waits for a person; after that the conflict stays pending
RESPONSE_TIMEOUT = timedelta(hours=24)
#: the answers (must match partner_sync.sync.conflict_review.OPTIONS)
KEEP_HUBSPOT = "Keep the HubSpot value"
KEEP_PARTNER = "Keep the partner value"
USE_ENTERED = "Use the value entered below"


@dag(
    dag_id="sync_conflict_review",
    schedule=CronDataIntervalTimetable("45 * * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    # a run stays active while its questions wait (up to RESPONSE_TIMEOUT): one per hour
    max_active_runs=32,
    default_args=DEFAULT_ARGS,
    tags=[TAGS_HUBSPOT, TAGS_AWS, TAGS_MICROSOFT, "conflicts"],
    doc_md=__doc__,
    params={
        "conflict_ids": Param([], type="array", items={"type": "integer", "minimum": 1},
                              description="Ask about these conflicts only (even if asked elsewhere)."),
        "max_questions": Param(50, type="integer", minimum=1, maximum=500),
    },
)
def sync_conflict_review():
    @task(pool="hubspot_api")
    def list_pending_conflicts() -> list[dict]:
        """Pending conflicts → one question each (subject and body; ids only besides)."""
        from partner_sync.sync.conflict_review import pending_questions
        from partner_sync.sync.runtime import SyncRun

        context = get_current_context()
        return pending_questions(
            SyncRun.current(), context["params"], lease=RESPONSE_TIMEOUT + timedelta(hours=1)
        )

    questions = list_pending_conflicts()

    review_conflict = HITLOperator.partial(
        task_id="review_conflict",
        options=[KEEP_HUBSPOT, KEEP_PARTNER, USE_ENTERED],
        multiple=False,
        params={
            "value": Param(None, type=["null", "string"], maxLength=65536,
                           description=f"Only with '{USE_ENTERED}': the value to write to both sides."),
        },
        response_timeout=RESPONSE_TIMEOUT,
        retries=0,  # a question is asked once per run; the next run asks again
        map_index_template="{{ task.subject }}",
    ).expand_kwargs(questions.map(lambda question: {"subject": question["subject"], "body": question["body"]}))

    # writes to all three systems; the Partner Central pool (1 slot) is the tightest of them
    @task(pool="partner_central_api", trigger_rule=TriggerRule.ALL_DONE)
    def apply_decisions(questions: list[dict]) -> dict:
        """Every answered question → both systems; unanswered ones stay pending."""
        from partner_sync.sync.conflict_review import apply_answers
        from partner_sync.sync.runtime import SyncRun

        context = get_current_context()
        return apply_answers(SyncRun.current(), list(questions), context["ti"], "review_conflict")

    applied = apply_decisions(questions)
    review_conflict >> applied


sync_conflict_review()
