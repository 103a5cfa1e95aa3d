"""The benchmark's pure parts: call counting, rate-limit floors, percentiles, targets, output.

The benchmark itself (``python benchmarks/run.py``) is not run here: it takes minutes and
starts real Airflow. These tests check that what it computes and prints is right.
"""

from __future__ import annotations

import inspect
import json

import pytest

from benchmarks import deal_push, referral_poll
from benchmarks.measure import (
    Quota,
    burst_floor_s,
    calls_by_bucket,
    figure_line,
    floor_by_bucket,
    floor_s,
    per_hundred,
    percentile,
    route_delta,
    sandbox_quotas,
    summary,
    verdicts,
)
from benchmarks.run import SCENARIOS, main

QUOTAS = {
    "hubspot.all": Quota("hubspot", "all", 100, 10.0),
    "hubspot.search": Quota("hubspot", "search", 5, 1.0),
    "partner_center.referrals": Quota("partner_center", "referrals", 300, 60.0),
    "partner_central.read": Quota("partner_central", "read", 10, 1.0),
    "partner_central.write": Quota("partner_central", "write", 1, 1.0),
}


def test_the_quotas_are_the_ones_the_sandbox_enforces():
    assert sandbox_quotas() == QUOTAS


def test_calls_are_counted_per_quota_bucket():
    calls = {
        "hubspot": {"POST /crm/v3/objects/deals/batch/upsert": 100, "POST /crm/v3/objects/deals/search": 4},
        "partner_center": {"GET /v1.0/engagements/referrals": 100, "POST /{tenant}/oauth2/token": 1},
        "partner_central": {"CreateOpportunity": 200, "GetOpportunity": 200, "ListOpportunities": 3},
    }
    assert calls_by_bucket(calls) == {
        "hubspot.all": 104, "hubspot.search": 4, "partner_center.referrals": 100,
        "partner_central.write": 200, "partner_central.read": 203,
    }


def test_the_floor_is_the_slowest_bucket_at_its_sustained_rate():
    calls = {"hubspot": {"POST /crm/v3/objects/deals/batch/upsert": 100},
             "partner_center": {"GET /v1.0/engagements/referrals": 101, "POST /{tenant}/oauth2/token": 1}}
    assert floor_by_bucket(calls, QUOTAS) == {"hubspot.all": 10.0, "partner_center.referrals": 20.2}
    assert floor_s(calls, QUOTAS) == 20.2


def test_two_hundred_opportunity_creates_need_two_hundred_seconds():
    calls = {"partner_central": {"CreateOpportunity": 200, "GetOpportunity": 400}}
    assert floor_s(calls, QUOTAS) == 200.0


def test_the_burst_floor_lets_a_full_window_go_at_once():
    assert burst_floor_s({"hubspot": {"GET /crm/v3/objects/deals/{id}": 100}}, QUOTAS) == 0.0
    assert burst_floor_s({"hubspot": {"GET /crm/v3/objects/deals/{id}": 101}}, QUOTAS) == 10.0
    assert burst_floor_s({"partner_central": {"UpdateOpportunity": 200}}, QUOTAS) == 199.0


def test_no_calls_no_floor():
    assert floor_s({"hubspot": {}}, QUOTAS) == 0.0
    assert burst_floor_s({}, QUOTAS) == 0.0


def test_route_delta_keeps_only_routes_that_were_called():
    before = {"GET /a": 3, "POST /b": 1}
    after = {"GET /a": 3, "POST /b": 4, "PATCH /c": 2}
    assert route_delta(after, before) == {"PATCH /c": 2, "POST /b": 3}


def test_per_hundred():
    assert per_hundred(101, 10_000) == 1.01
    assert per_hundred(5, 0) == 0.0


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 1.0), (0.5, 5.5), (0.95, 9.55), (1.0, 10.0)])
def test_percentile_interpolates_between_ranks(fraction, expected):
    assert percentile(range(10, 0, -1), fraction) == pytest.approx(expected)


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_a_scenario_prints_one_json_line_with_its_name_first():
    line = figure_line("deal_push_1k", {"wall_s": 210.5, "calls": {"hubspot": {"GET /x": 1}}})
    assert "\n" not in line
    decoded = json.loads(line)
    assert list(decoded)[0] == "scenario"
    assert decoded == {"scenario": "deal_push_1k", "wall_s": 210.5, "calls": {"hubspot": {"GET /x": 1}}}


def test_targets_relative_to_the_floor():
    figures = {"hubspot_calls_per_100_first": 1.0, "hubspot_calls_per_100_rerun": 0.0,
               "partner_center_non_list_calls": 0, "wall_s_first": 31.0, "floor_s_first": 20.0,
               "peak_rss_mb": 140.0}
    results = verdicts("referral_poll_10k", figures)
    assert results["wall_s_first <= 1.5 x floor_s_first"] is False
    assert all(met for name, met in results.items() if not name.startswith("wall_s_first"))
    assert "MISSED" in summary("referral_poll_10k", figures)


def test_the_push_target_is_the_write_floor():
    figures = {"partner_central_writes_per_changed": 1.0, "partner_central_writes_rerun": 0,
               "wall_s": 239.0, "partner_central_write_floor_s": 200.0}
    assert all(verdicts("deal_push_1k", figures).values())
    assert not all(verdicts("deal_push_1k", {**figures, "partner_central_writes_rerun": 3}).values())


def test_an_unknown_scenario_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no_such_scenario"])
    assert exit_info.value.code == 2
    assert "referral_poll_10k" in capsys.readouterr().err


def test_the_scenarios_are_the_four_of_the_issue():
    assert SCENARIOS == ("referral_poll_10k", "deal_push_1k", "webhook_latency", "dag_parse")


def test_referrals_are_generated_one_at_a_time():
    referrals = referral_poll.incoming_referrals(3)
    assert inspect.isgenerator(referrals)
    names = [referral["name"] for referral in referrals]
    assert len(set(names)) == 3


def test_the_aws_deals_are_spread_among_the_microsoft_ones():
    tags = [tag for _, tag in deal_push.deal_ids(1000, 200)]
    assert tags.count("#AWS") == 200 and tags.count("#Microsoft") == 1000
    assert "#AWS" in tags[:10] and "#AWS" in tags[-10:]
    assert [tag for _, tag in deal_push.deal_ids(3, 5)].count("#AWS") == 5
