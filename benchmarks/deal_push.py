"""``deal_push_1k``: 1,000 ``#Microsoft`` and 200 ``#AWS`` HubSpot deals (each with a company and
a contact) pushed to Partner Center and Partner Central, then pushed again unchanged.

The ``hubspot_deal_sync`` DAG's task functions run in this process as the DAG wires them:
``plan`` first, then ``push_microsoft`` and ``push_aws`` side by side (two threads here, two
tasks in separate pools there), each with its own :class:`SyncRun`. The rate limiters are
process-wide, so the two pushes share HubSpot's budget exactly as they must.

Figures: HubSpot calls per deal, Partner Central writes (first push, re-run: the writes the
service accepted, and the HTTP attempts it saw, throttled retries included), Partner Center
calls, wall time against the rate-limit floor (the 200 opportunity creates at 1 write / s).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from benchmarks.harness import Bench, Stopwatch, bench
from benchmarks.measure import burst_floor_s, calls_by_bucket, floor_by_bucket, floor_s, per_hundred, total

SCENARIO = "deal_push_1k"
DAG_ID = "hubspot_deal_sync"
MICROSOFT_DEALS = 1000
AWS_DEALS = 200
FIRST_DEAL_ID = 5_000_000
PROBLEM = "Nightly batch reports take nine hours on an ageing on-premises data warehouse."


def deal_objects(deal_id: int, tag: str) -> dict[str, list[dict[str, Any]]]:
    """One deal that both partners accept, with its company and one contact."""
    deal, company, contact = str(deal_id), f"9{deal_id}", f"8{deal_id}"
    close = (date.today() + timedelta(days=120)).isoformat()
    return {
        "deals": [{"id": deal, "properties": {
            "dealname": f"Globex analytics {deal} {tag}", "amount": "25000", "closedate": close,
            "dealstage": "qualifiedtobuy", "pipeline": "default", "description": PROBLEM,
        }}],
        "companies": [{"id": company, "properties": {
            "name": f"Globex {deal}", "industry": "COMPUTER_SOFTWARE", "website": "globex.example.com",
            "country": "United States", "state": "WA", "city": "Seattle", "zip": "98101", "address": "1 Main St",
        }}],
        "contacts": [{"id": contact, "properties": {
            "email": f"pat{deal}@globex.example.com", "firstname": "Pat", "lastname": "Lee", "jobtitle": "CTO",
            "phone": "+1 206 555 0100",
        }}],
        "associations": [
            {"fromObjectType": "deals", "fromObjectId": deal, "toObjectType": "companies", "toObjectId": company},
            {"fromObjectType": "deals", "fromObjectId": deal, "toObjectType": "contacts", "toObjectId": contact},
        ],
    }


def deal_ids(microsoft: int, aws: int) -> Iterator[tuple[int, str]]:
    """(deal id, tag) of every deal, the ``#AWS`` ones spread among the others."""
    stride = max(1, (microsoft + aws) // aws) if aws else 0
    tagged_aws = 0
    for index in range(microsoft + aws):
        is_aws = tagged_aws < aws and (index % stride == 0 or index - tagged_aws >= microsoft)
        tagged_aws += is_aws
        yield FIRST_DEAL_ID + index, "#AWS" if is_aws else "#Microsoft"


def seed_deals(session: Bench, microsoft: int, aws: int, chunk: int = 200) -> list[str]:
    """Seed the deals in chunks; returns their ids (ids only: the DAG's conf carries ids too)."""
    ids: list[str] = []
    batch: dict[str, list[dict[str, Any]]] = {}
    for deal_id, tag in deal_ids(microsoft, aws):
        for collection, objects in deal_objects(deal_id, tag).items():
            batch.setdefault(collection, []).extend(objects)
        ids.append(str(deal_id))
        if len(batch["deals"]) >= chunk:
            session.seed_objects("hubspot", batch)
            batch = {}
    if batch:
        session.seed_objects("hubspot", batch)
    return ids


class AcceptedCalls:
    """Partner Central calls the service answered with success, by operation, counted on the
    client (botocore's ``after-call``, once per call whatever its retries). The sandbox counts
    every HTTP attempt, including ones it throttled and botocore retried: those cost budget
    but write nothing."""

    def __init__(self) -> None:
        self.by_operation: dict[str, int] = {}

    def watch(self, client: Any) -> None:
        client.meta.events.register("after-call.partnercentral-selling", self._after_call)

    def _after_call(self, http_response: Any = None, model: Any = None, **kwargs: Any) -> None:
        if http_response is not None and 200 <= http_response.status_code < 300:
            self.by_operation[model.name] = self.by_operation.get(model.name, 0) + 1

    def writes(self) -> int:
        from partner_sync.ace_model import pacing_class

        return sum(n for operation, n in self.by_operation.items() if pacing_class(operation) == "write")


def push(run_id: str, ids: list[str]) -> dict[str, Any]:
    """``plan``, then ``push_microsoft`` and ``push_aws`` in parallel; their return values."""
    from partner_sync.sync import aws_push, microsoft_push
    from partner_sync.sync.deal_push import plan_push
    from partner_sync.sync.runtime import SyncRun

    plan = plan_push(SyncRun(dag_id=DAG_ID, run_id=run_id), {"deal_ids": ids})
    aws_run, accepted = SyncRun(dag_id=DAG_ID, run_id=run_id), AcceptedCalls()
    accepted.watch(aws_run.partner_central.conn)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="push") as pool:
        microsoft = pool.submit(microsoft_push.push_deals, SyncRun(dag_id=DAG_ID, run_id=run_id), plan["microsoft"])
        aws = pool.submit(aws_push.push_deals, aws_run, plan["aws"])
        return {"plan": {k: len(v) for k, v in plan.items() if isinstance(v, list)},
                "microsoft": microsoft.result(), "aws": aws.result(), "accepted_writes": accepted.writes()}


def run(microsoft: int = MICROSOFT_DEALS, aws: int = AWS_DEALS) -> dict[str, Any]:
    with bench() as session:
        ids = seed_deals(session, microsoft, aws)
        return measure(session, ids, microsoft, aws)


def measure(session: Bench, ids: list[str], microsoft: int, aws: int) -> dict[str, Any]:
    session.mark("first")
    with Stopwatch() as first_watch:
        first = push("benchmark_first", ids)
    first_calls = session.calls_since("first")

    session.mark("rerun")
    with Stopwatch() as rerun_watch:
        rerun = push("benchmark_rerun", ids)
    rerun_calls = session.calls_since("rerun")

    first_buckets, rerun_buckets = calls_by_bucket(first_calls), calls_by_bucket(rerun_calls)
    writes = first["accepted_writes"]
    opportunities = len(session.sandbox.state("partner_central")["opportunities"])
    referrals = len(session.sandbox.state("partner_center")["referrals"])
    return {
        "microsoft_deals": microsoft,
        "aws_deals": aws,
        "hubspot_calls_per_deal": round(total(first_calls["hubspot"]) / len(ids), 3),
        "hubspot_calls_per_100_rerun": per_hundred(total(rerun_calls["hubspot"]), len(ids)),
        "partner_central_writes": writes,
        "partner_central_writes_per_changed": round(writes / aws, 3) if aws else 0.0,
        "partner_central_writes_rerun": rerun["accepted_writes"],
        "partner_central_write_attempts": first_buckets.get("partner_central.write", 0),
        "partner_central_write_attempts_rerun": rerun_buckets.get("partner_central.write", 0),
        "partner_center_calls": total(first_calls["partner_center"]),
        "partner_center_calls_rerun": total(rerun_calls["partner_center"]),
        "wall_s": first_watch.seconds,
        "floor_s": floor_s(first_calls),
        "partner_central_write_floor_s": float(writes),  # 1 write / s
        "wall_s_rerun": rerun_watch.seconds,
        "opportunities_created": opportunities,
        "referrals_created": referrals,
        "outcome_first": _outcomes(first),
        "outcome_rerun": _outcomes(rerun),
        "floor_by_api": floor_by_bucket(first_calls),
        "burst_floor_s": burst_floor_s(first_calls),
        "calls_first": first_calls,
        "calls_rerun": rerun_calls,
    }


def _outcomes(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "plan": result["plan"],
        "microsoft": {k: v for k, v in result["microsoft"].items() if isinstance(v, int) and v},
        "aws": {k: v for k, v in result["aws"].items() if isinstance(v, int) and v},
    }
