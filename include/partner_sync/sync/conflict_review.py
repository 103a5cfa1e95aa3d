"""Human review of MANUAL conflicts: the questions ``sync_conflict_review`` asks, and the answers.

A MANUAL conflict is one field of a linked deal that HubSpot and the partner both changed, to
different values (:mod:`partner_sync.conflicts`); the sync flows store it pending and leave the
field alone on both sides. This module

- turns pending conflicts into human-in-the-loop questions (:func:`pending_questions`): the
  field, the HubSpot value and the partner value, when and by whom each changed;
- records each question in the audit (``conflict_review_requested``, with the run and map
  index that asks it), so the next hourly run does not ask again while a person may still
  answer — a question counts as open while its run is queued or running and its task has not
  failed or been skipped (read through the Task SDK), with a deadline as a fallback;
- applies each answer (:func:`apply_answers`, :func:`apply_decision`) to both systems through
  :mod:`partner_sync.sync.conflict_apply`.

An answer is applied only if the conflict still holds the values the person saw (a later sync
may have refreshed it with new ones: then it stays pending and is asked again) and is still
pending (another run's answer may have come first). A question nobody answered in time leaves
the conflict pending: nothing is guessed.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from partner_sync.conflicts import normalise, to_utc
from partner_sync.store import Conflict, ConflictStateError
from partner_sync.sync.conflict_apply import (
    PARTNER_NAMES,
    ActingRun,
    DecisionRejected,
    InvalidValueError,
    apply_value,
    check_value,
)
from partner_sync.sync.runtime import ConfError, SyncRun
from partner_sync.sync.writeback import DealWriter

log = logging.getLogger(__name__)

DAG_ID = "sync_conflict_review"
REVIEW_TASK = "review_conflict"
#: the HITL options (the DAG file spells the same strings)
KEEP_HUBSPOT = "Keep the HubSpot value"
KEEP_PARTNER = "Keep the partner value"
USE_ENTERED = "Use the value entered below"
OPTIONS = (KEEP_HUBSPOT, KEEP_PARTNER, USE_ENTERED)
RESOLUTION_BY_OPTION = {KEEP_HUBSPOT: "hubspot", KEEP_PARTNER: "partner", USE_ENTERED: "custom"}

REVIEW_REQUESTED = "conflict_review_requested"
#: task states in which a question can no longer be answered
CLOSED_TASK_STATES = frozenset({"failed", "upstream_failed", "skipped", "removed"})
OPEN_RUN_STATES = frozenset({"queued", "running"})
PARTNER_RECORDS = {"aws": "opportunity", "microsoft": "referral"}
MAX_SHOWN = 2000

#: (dag_run_id, map_index) -> whether that question can still be answered
QuestionIsOpen = Callable[[str, int], "bool | None"]

# --- questions ---------------------------------------------------------------------------------


def pending_questions(
    run: SyncRun,
    params: Mapping[str, Any],
    lease: timedelta,
    question_is_open: QuestionIsOpen | None = None,
) -> list[dict[str, Any]]:
    """The questions to ask in this run, one per pending conflict, in conflict order.

    Each is ``{"conflict_id", "fingerprint", "subject", "body"}`` (the values live in the
    store; the fingerprint says which values the person was shown). Conflicts already asked
    in an open question elsewhere are left out, unless conf ``conflict_ids`` names them.
    """
    wanted = _conflict_ids(params.get("conflict_ids"))
    limit = params.get("max_questions") or 50
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ConfError(f"conf.max_questions must be a positive integer, got {limit!r}")
    is_open = question_is_open or airflow_question_state(run)
    now = datetime.now(timezone.utc)
    chosen: list[Conflict] = []
    pending = run.store.list_conflicts(status="pending")
    for row in pending:
        if wanted and row["id"] not in wanted:
            continue
        conflict = run.store.get_conflict(row["id"])
        if conflict is None:
            continue
        if not wanted and _asked_elsewhere(run, conflict, is_open, now):
            log.info("conflict %s is waiting for an answer in another run: not asked again", conflict.id)
            continue
        chosen.append(conflict)
        if len(chosen) >= limit:
            break
    questions = []
    for index, conflict in enumerate(chosen):
        fingerprint = conflict_fingerprint(conflict)
        run.audit(
            entity_type="conflict", entity_id=conflict.partner_id or conflict.deal_id, deal_id=conflict.deal_id,
            system=conflict.system, action=REVIEW_REQUESTED,
            changes={"review": {"before": None, "after": {
                "conflict_id": conflict.id, "field": conflict.field, "map_index": index,
                "fingerprint": fingerprint, "until": _iso(now + lease),
            }}},
        )
        questions.append({
            "conflict_id": conflict.id,
            "fingerprint": fingerprint,
            "subject": question_subject(conflict),
            "body": question_body(conflict),
        })
    log.info("%s question(s) to ask; %s conflict(s) pending in all", len(questions), len(pending))
    return questions


def conflict_fingerprint(conflict: Conflict) -> str:
    """A short digest of what the person is shown: field and both values (normalised)."""
    shown = [conflict.system, conflict.deal_id, conflict.field,
             str(normalise(conflict.field, conflict.hubspot_value)),
             str(normalise(conflict.field, conflict.partner_value))]
    return hashlib.sha256(json.dumps(shown).encode("utf-8")).hexdigest()[:16]


def question_subject(conflict: Conflict) -> str:
    return f"Conflict #{conflict.id}: {conflict.field} of deal {conflict.deal_id} ({PARTNER_NAMES[conflict.system]})"


def question_body(conflict: Conflict) -> str:
    """Markdown: what changed where, when and by whom, and what each answer does."""
    partner = PARTNER_NAMES[conflict.system]
    record = PARTNER_RECORDS[conflict.system]
    return "\n".join([
        f"HubSpot deal **{conflict.deal_id}** and {partner} {record} **{conflict.partner_id}** "
        f"both changed **`{conflict.field}`** since the last sync, to different values.",
        "",
        f"- **HubSpot value:** {_shown(conflict.hubspot_value)}  ",
        f"  changed {_when(conflict.hubspot_changed_at)} by {conflict.hubspot_changed_by or 'unknown'}",
        f"- **{partner} value:** {_shown(conflict.partner_value)}  ",
        f"  changed {_when(conflict.partner_changed_at)} by {conflict.partner_changed_by or 'unknown'}",
        f"- Value at the last sync: {_shown(conflict.base_value)}",
        "",
        f"The value you choose is written to both HubSpot and {partner}. "
        f"*{USE_ENTERED}* writes the text of the form's `value` field instead. "
        "Without an answer the conflict stays pending and is asked again later.",
    ])


def airflow_question_state(run: SyncRun) -> QuestionIsOpen:
    """Whether a question of another run is still answerable, from the Task SDK (``None``:
    unknown, outside a task or on an error; the audit entry's deadline decides then)."""

    def is_open(dag_run_id: str, map_index: int) -> bool | None:
        if dag_run_id == run.run_id:
            return False  # this run asked before a retry of its own listing: ask again
        try:
            from airflow.sdk import get_current_context

            ti = get_current_context()["ti"]
            if _state_name(ti.get_dagrun_state(dag_id=DAG_ID, run_id=dag_run_id)) not in OPEN_RUN_STATES:
                return False
            states = ti.get_task_states(dag_id=DAG_ID, task_ids=[REVIEW_TASK], run_ids=[dag_run_id])
        except Exception as error:  # noqa: BLE001 - unknown: the deadline decides
            log.debug("state of %s[%s] unknown: %s", dag_run_id, map_index, error)
            return None
        state = (states.get(dag_run_id) or {}).get(f"{REVIEW_TASK}_{map_index}")
        return state is None or _state_name(state) not in CLOSED_TASK_STATES

    return is_open


def _state_name(state: Any) -> str:
    """``running`` for ``DagRunState.RUNNING`` or ``"running"`` (str() of the enum is its name)."""
    return str(getattr(state, "value", state))


def _asked_elsewhere(run: SyncRun, conflict: Conflict, is_open: QuestionIsOpen, now: datetime) -> bool:
    """Whether the latest question about these values may still be answered."""
    fingerprint = conflict_fingerprint(conflict)
    for entry in reversed(run.store.audit_history(conflict.partner_id or conflict.deal_id)):
        if entry["action"] != REVIEW_REQUESTED:
            continue
        asked = ((entry.get("changes") or {}).get("review") or {}).get("after") or {}
        if asked.get("conflict_id") != conflict.id:
            continue
        if asked.get("fingerprint") != fingerprint:
            return False  # the values changed since: the old answer would be refused anyway
        until = to_utc(asked.get("until"))
        if until is not None and until <= now:
            return False
        state = is_open(str(entry.get("dag_run_id")), int(asked.get("map_index", -1)))
        return True if state is None else state
    return False


# --- answers -----------------------------------------------------------------------------------


def apply_answers(run: SyncRun, questions: list[dict[str, Any]], ti: Any, task_id: str = REVIEW_TASK) -> dict[str, int]:
    """Apply the answer to each question of this run (``ti.xcom_pull`` per map index)."""
    counts = {"applied": 0, "unanswered": 0, "skipped": 0}
    for index, question in enumerate(questions):
        answer = ti.xcom_pull(task_ids=task_id, map_indexes=index)
        if not answer or not answer.get("chosen_options"):
            log.warning("conflict %s: no answer (timed out or failed); it stays pending", question["conflict_id"])
            counts["unanswered"] += 1
            continue
        outcome = apply_decision(
            run, question["conflict_id"], answer["chosen_options"][0],
            responded_by=_responder(answer.get("responded_by_user")),
            entered_value=(answer.get("params_input") or {}).get("value"),
            fingerprint=question.get("fingerprint"),
        )
        counts["applied" if outcome == "applied" else "skipped"] += 1
        if outcome != "applied":
            log.info("conflict %s: %s", question["conflict_id"], outcome)
    log.info("conflict answers: %s", counts)
    return counts


def apply_decision(
    run: SyncRun,
    conflict_id: int,
    choice: str,
    responded_by: str,
    entered_value: Any = None,
    fingerprint: str | None = None,
) -> str:
    """Apply one person's choice to both systems, then resolve the conflict.

    Returns ``applied``, or why nothing was done and the conflict stays as it is: ``stale``
    (its values changed since the question: it is asked again), ``resolved`` (decided
    already), ``invalid`` (a typed value the field cannot hold), ``rejected`` (the partner
    refuses the value for good; the deal gets a note), ``missing``. The conflict is resolved
    only after both writes, so a failure leaves it pending and a retry writes again (every
    write sets a value: repeating it is harmless).
    """
    if choice not in RESOLUTION_BY_OPTION:
        raise ValueError(f"unknown choice {choice!r}; expected one of {OPTIONS}")
    conflict = run.store.get_conflict(conflict_id)
    if conflict is None:
        log.warning("conflict %s does not exist", conflict_id)
        return "missing"
    if conflict.status != "pending":
        log.info("conflict %s was already resolved by %s (%s)", conflict_id, conflict.resolved_by, conflict.resolution)
        return "resolved"
    if fingerprint is not None and fingerprint != conflict_fingerprint(conflict):
        log.warning("conflict %s changed since it was asked; it stays pending and is asked again", conflict_id)
        return "stale"
    resolution = RESOLUTION_BY_OPTION[choice]
    value = {"hubspot": conflict.hubspot_value, "partner": conflict.partner_value}.get(resolution)
    if resolution == "custom":
        try:
            value = check_value(conflict.field, entered_value)
        except InvalidValueError as error:
            log.warning("conflict %s: %s; it stays pending", conflict_id, error)
            return "invalid"
    acting = ActingRun(run, f"user:{responded_by}")
    try:
        apply_value(acting, conflict, value)
    except DecisionRejected as rejected:
        log.warning("conflict %s: the decision of %s cannot be applied: %s", conflict_id, responded_by, rejected.note)
        reject_note(acting, conflict, value, rejected.note)
        return "rejected"
    try:
        run.store.resolve_conflict(conflict_id, resolution, value, resolved_by=acting.actor)
    except ConflictStateError as error:
        log.warning("conflict %s was resolved meanwhile (%s); %s's value was written last", conflict_id, error,
                    responded_by)
        return "resolved"
    acting.audit(
        entity_type="conflict", entity_id=conflict.partner_id or conflict.deal_id, deal_id=conflict.deal_id,
        system=conflict.system, action="conflict_resolved",
        changes={conflict.field: {
            "before": {"hubspot": conflict.hubspot_value, "partner": conflict.partner_value},
            "after": value,
        }},
    )
    log.info("conflict %s (%s of deal %s) resolved by %s: %s", conflict_id, conflict.field,
             conflict.deal_id, responded_by, resolution)
    return "applied"


def reject_note(run: ActingRun, conflict: Conflict, value: Any, reason: str) -> None:
    """Tell the deal (a note) and the audit why a person's decision was not applied."""
    run.audit(
        entity_type="conflict", entity_id=conflict.partner_id or conflict.deal_id, deal_id=conflict.deal_id,
        system=conflict.system, action="conflict_decision_rejected", success=False, error=reason[:2000],
        changes={conflict.field: {"before": None, "after": value}},
    )
    writer = DealWriter(run, conflict.system)
    writer.note(conflict.deal_id, html.escape(
        f"The value {value!r} chosen by {run.actor} for {conflict.field} could not be written to "
        f"{PARTNER_NAMES[conflict.system]}, so the conflict is still pending and will be asked again.\n{reason}"
    )[:2000].replace("\n", "<br>"))
    writer.flush()


def _responder(user: Any) -> str:
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(user or "unknown")


def _conflict_ids(raw: Any) -> set[int]:
    if raw in (None, []):
        return set()
    if not isinstance(raw, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in raw):
        raise ConfError(f"conf.conflict_ids must be a list of conflict ids (positive integers), got {raw!r}")
    return set(raw)


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "*(empty)*"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + "…"
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "at an unknown time"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
