"""``referral_poll_10k``: 10,000 Microsoft referrals, a first sync into HubSpot and an unchanged
re-run, both full sweeps (``full_sync``: every referral listed and checked) — the
``partner_center_referral_poll`` task's function, run in this process against the rate-limited
sandbox.

Figures: HubSpot calls per hundred referrals (first sync and re-run), Partner Center calls and
which routes, wall time against the rate-limit floor, peak RSS of the process, and the size of
what the task would push to XCom.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from benchmarks.harness import Bench, Stopwatch, bench
from benchmarks.measure import burst_floor_s, floor_by_bucket, floor_s, peak_rss_mb, per_hundred, total

SCENARIO = "referral_poll_10k"
DAG_ID = "partner_center_referral_poll"
REFERRALS = 10_000


def incoming_referrals(count: int) -> Iterator[dict[str, Any]]:
    """``count`` new incoming referrals as Microsoft sends them (one at a time: never a list)."""
    for index in range(count):
        yield {
            "name": f"Benchmark referral {index:05d}",
            "status": "New",
            "substatus": "Pending",
            "qualification": "SalesQualified",
            "customerProfile": {
                "name": f"Customer {index:05d} Ltd",
                "address": {"city": "Austin", "country": "US"},
                "team": [],
            },
            "details": {
                "notes": "Needs a partner to migrate a data warehouse.",
                "dealValue": 18000 + index,
                "currency": "USD",
                "closingDateTime": "2027-02-01T00:00:00Z",
            },
        }


def run(count: int = REFERRALS) -> dict[str, Any]:
    """Seed, sync twice, measure; returns the scenario's figures."""
    with bench() as session:
        session.seed("partner_center", "referrals", incoming_referrals(count))
        return measure(session, count)


def measure(session: Bench, count: int) -> dict[str, Any]:
    from partner_sync.sync.microsoft_poll import poll_referrals
    from partner_sync.sync.runtime import SyncRun, SyncWindow

    sweep = SyncWindow(None, None, full_sync=True)
    session.mark("first")
    with Stopwatch() as first_watch:
        first = poll_referrals(SyncRun(dag_id=DAG_ID, run_id="benchmark_first"), sweep)
    first_calls = session.calls_since("first")

    session.mark("rerun")
    with Stopwatch() as rerun_watch:
        rerun = poll_referrals(SyncRun(dag_id=DAG_ID, run_id="benchmark_rerun"), sweep)
    rerun_calls = session.calls_since("rerun")

    center = first_calls["partner_center"]
    list_pages = sum(n for route, n in center.items() if route == "GET /v1.0/engagements/referrals")
    token_calls = sum(n for route, n in center.items() if "/oauth2/token" in route)
    return {
        "referrals": count,
        "hubspot_calls_per_100_first": per_hundred(total(first_calls["hubspot"]), count),
        "hubspot_calls_per_100_rerun": per_hundred(total(rerun_calls["hubspot"]), count),
        "partner_center_calls": total(center),
        "partner_center_list_pages": list_pages,
        "partner_center_non_list_calls": total(center) - list_pages - token_calls,
        "wall_s_first": first_watch.seconds,
        "floor_s_first": floor_s(first_calls),
        "wall_s_rerun": rerun_watch.seconds,
        "floor_s_rerun": floor_s(rerun_calls),
        "peak_rss_mb": peak_rss_mb(),
        "xcom_bytes": max(len(json.dumps(first, default=str)), len(json.dumps(rerun, default=str))),
        "outcome_first": {k: v for k, v in first.items() if isinstance(v, int) and v},
        "outcome_rerun": {k: v for k, v in rerun.items() if isinstance(v, int) and v},
        "floor_by_api_first": floor_by_bucket(first_calls),
        "burst_floor_s_first": burst_floor_s(first_calls),
        "calls_first": first_calls,
        "calls_rerun": rerun_calls,
    }
