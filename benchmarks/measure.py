"""What the benchmark computes, without I/O: API call counts, rate-limit floors, percentiles,
peak memory and the one-line JSON figures a scenario prints.

**The floor.** The time the APIs' rate limits alone impose on a run: for every quota bucket,
the calls the run made that draw on it divided by the bucket's sustained rate (limit / window),
and the largest of those. HubSpot: every request at 100 / 10 s, searches also at 5 / s; Partner
Center: the referrals API at 300 / 60 s (the sandbox's figure; Microsoft publishes none);
Partner Central: writes at 1 / s, reads at 10 / s. The quotas are the sandbox emulators' own
(the same figures they enforce), so a floor can never disagree with the sandbox.

A rolling window lets a short run burst below this floor (the first 100 HubSpot calls of a
run need no wait); :func:`burst_floor_s` gives that stricter bound too, reported next to it.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: how a route of ``/_sandbox/stats`` is named: ``"METHOD /path/template"`` (HubSpot, Partner
#: Center) or the operation name (Partner Central)
RouteCounts = Mapping[str, int]


@dataclass(frozen=True)
class Quota:
    """One rate-limit bucket: at most ``limit`` calls in any rolling ``window_s`` seconds."""

    api: str
    bucket: str
    limit: int
    window_s: float

    @property
    def rate_per_s(self) -> float:
        return self.limit / self.window_s


def sandbox_quotas() -> dict[str, Quota]:
    """The quotas the sandbox enforces, by ``"api.bucket"`` (daily buckets left out: no run
    of the benchmark comes near them)."""
    from partner_sync.sandbox.hubspot import HubSpotEmulator
    from partner_sync.sandbox.partner_center import PartnerCenterEmulator
    from partner_sync.sandbox.partner_central import PartnerCentralEmulator

    quotas: dict[str, Quota] = {}
    for api, emulator in (("hubspot", HubSpotEmulator), ("partner_center", PartnerCenterEmulator),
                          ("partner_central", PartnerCentralEmulator)):
        for bucket, limit in emulator.rate_limit_buckets.items():
            if limit.window_s < 86_400:
                quotas[f"{api}.{bucket}"] = Quota(api, bucket, limit.limit, limit.window_s)
    return quotas


def bucket_of(api: str, route: str) -> tuple[str, ...]:
    """The quota buckets one call draws on (none: a call outside the limited API, e.g. the
    Partner Center OAuth token endpoint)."""
    if api == "hubspot":
        return ("all", "search") if route.endswith("/search") else ("all",)
    if api == "partner_center":
        return ("referrals",) if "/engagements/referrals" in route else ()
    if api == "partner_central":
        from partner_sync.ace_model import pacing_class

        return (pacing_class(route),)
    raise ValueError(f"unknown API {api!r}")


def route_delta(after: RouteCounts, before: RouteCounts) -> dict[str, int]:
    """Calls per route made between two ``/_sandbox/stats`` snapshots."""
    return {route: count - before.get(route, 0) for route, count in sorted(after.items())
            if count != before.get(route, 0)}


def calls_by_bucket(calls: Mapping[str, RouteCounts]) -> dict[str, int]:
    """``{api: {route: n}}`` → calls per ``"api.bucket"``."""
    totals: dict[str, int] = {}
    for api, routes in calls.items():
        for route, count in routes.items():
            for bucket in bucket_of(api, route):
                totals[f"{api}.{bucket}"] = totals.get(f"{api}.{bucket}", 0) + count
    return totals


def floor_s(calls: Mapping[str, RouteCounts], quotas: Mapping[str, Quota] | None = None) -> float:
    """The rate-limit floor of a run (module docstring): max over buckets of calls / rate."""
    return max(floor_by_bucket(calls, quotas).values(), default=0.0)


def floor_by_bucket(calls: Mapping[str, RouteCounts], quotas: Mapping[str, Quota] | None = None) -> dict[str, float]:
    """Seconds each bucket's calls need at its sustained rate."""
    quotas = quotas if quotas is not None else sandbox_quotas()
    return {key: round(count / quotas[key].rate_per_s, 2)
            for key, count in calls_by_bucket(calls).items() if key in quotas}


def burst_floor_s(calls: Mapping[str, RouteCounts], quotas: Mapping[str, Quota] | None = None) -> float:
    """The strict bound of a rolling window starting empty: ``n`` calls need at least
    ``floor((n - 1) / limit) * window`` seconds (call ``limit + 1`` waits a whole window)."""
    quotas = quotas if quotas is not None else sandbox_quotas()
    return max((math.floor((count - 1) / quotas[key].limit) * quotas[key].window_s
                for key, count in calls_by_bucket(calls).items() if key in quotas and count > 0),
               default=0.0)


def total(routes: RouteCounts) -> int:
    return sum(routes.values())


def per_hundred(calls: int, records: int) -> float:
    """Calls per hundred records (0 records: 0)."""
    return round(100 * calls / records, 2) if records else 0.0


def percentile(values: Iterable[float], fraction: float) -> float:
    """The ``fraction`` percentile (0..1), linear between closest ranks (as numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def machine() -> dict[str, Any]:
    """What the figures depend on: cores and the load average when measured."""
    one, five, fifteen = os.getloadavg()
    return {"cpus": os.cpu_count(), "loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)]}


def figure_line(scenario: str, figures: Mapping[str, Any]) -> str:
    """One scenario's figures as the single JSON line the benchmark prints."""
    return json.dumps({"scenario": scenario, **figures}, sort_keys=False, separators=(", ", ": "), default=str)


@dataclass(frozen=True)
class Target:
    """A figure's target: ``figure`` compared with ``limit`` (``<=``), or with another figure
    times a factor (``wall_s_first <= 1.5 * floor_s_first``)."""

    figure: str
    limit: float
    relative_to: str | None = None

    def bound(self, figures: Mapping[str, Any]) -> float | None:
        if self.relative_to is None:
            return self.limit
        base = figures.get(self.relative_to)
        return None if base is None else self.limit * float(base)

    def describe(self) -> str:
        return f"{self.figure} <= {self.limit:g}" + (f" x {self.relative_to}" if self.relative_to else "")


#: the targets of issue #10, by scenario
TARGETS: dict[str, tuple[Target, ...]] = {
    "referral_poll_10k": (
        Target("hubspot_calls_per_100_first", 3),
        Target("hubspot_calls_per_100_rerun", 1),
        Target("partner_center_non_list_calls", 0),
        Target("wall_s_first", 1.5, "floor_s_first"),
        Target("peak_rss_mb", 500),
    ),
    "deal_push_1k": (
        Target("partner_central_writes_per_changed", 1),
        Target("partner_central_writes_rerun", 0),
        Target("wall_s", 1.2, "partner_central_write_floor_s"),
    ),
    "webhook_latency": (Target("p50_s", 6), Target("p95_s", 15)),
    "dag_parse": (Target("max_parse_s", 0.3),),
}


def verdicts(scenario: str, figures: Mapping[str, Any]) -> dict[str, bool]:
    """``{target description: met}`` for the figures a scenario produced."""
    results: dict[str, bool] = {}
    for target in TARGETS.get(scenario, ()):
        value, bound = figures.get(target.figure), target.bound(figures)
        if value is None or bound is None:
            continue
        results[target.describe()] = float(value) <= bound + 1e-9
    return results


def summary(scenario: str, figures: Mapping[str, Any]) -> str:
    """The human-readable lines (stderr) for one scenario: its headline figures and targets."""
    lines = [f"== {scenario}"]
    for name, value in figures.items():
        if isinstance(value, (int, float, str, bool)) or value is None:
            lines.append(f"   {name:<36} {value}")
    for description, met in verdicts(scenario, figures).items():
        lines.append(f"   target {description:<40} {'met' if met else 'MISSED'}")
    return "\n".join(lines)
