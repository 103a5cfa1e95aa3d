"""PartnerCenterHook against the in-process Partner Center emulator: tokens, retries,
idempotent creates, eTag conflicts, paging and secret hygiene."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from partner_sync.hooks import partner_center as hook_module
from partner_sync.hooks.partner_center import (
    PartnerCenterAuthError,
    PartnerCenterError,
    PartnerCenterHook,
    PartnerCenterTransientError,
    PreconditionFailed,
    ReferralNotFound,
    updated_window_filter,
)
from partner_sync.sandbox.partner_center_auth import SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN
from tests.integration.partner_center_server import (  # noqa: F401  (fixtures)
    RunningPartnerCenter,
    partner_center,
    partner_center_server,
)
from tests.integration.test_sandbox_partner_center import outgoing

LIST = "GET /v1.0/engagements/referrals"
CREATE = "POST /v1.0/engagements/referrals"
TOKEN = "POST /{tenant}/oauth2/token"


@pytest.fixture
def connection(partner_center: RunningPartnerCenter, monkeypatch: pytest.MonkeyPatch) -> RunningPartnerCenter:
    """``partner_center_default`` pointing at the emulator, with an empty token cache."""
    for name, value in partner_center.connection_env().items():
        monkeypatch.setenv(name, value)
    hook_module._token_cache.clear()
    return partner_center


def fast_hook(**kwargs: Any) -> PartnerCenterHook:
    options = {"backoff_initial": 0.05, "backoff_max": 0.2, "retry_after_max": 1.0, **kwargs}
    return PartnerCenterHook(**options)


def seed_for(rate: float) -> int:
    """A fault seed whose first draw injects the fault and whose second does not."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < rate <= rng.random():
            return seed
    raise AssertionError("no seed found")


# ---------------------------------------------------------------------- tokens
def test_token_is_acquired_once_and_reused(connection):
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    assert hook.get_referral(created["id"])["id"] == created["id"]
    assert [r["id"] for r in hook.iter_referrals()] == [created["id"]]
    assert connection.stats()[TOKEN] == 1


def test_token_is_refreshed_when_it_expires_mid_run_without_a_failed_call(connection):
    connection.admin("tokens", {"ttl_seconds": 2})
    hook = fast_hook(max_attempts=1)  # a failed call would raise instead of being retried
    created = hook.create_referral(outgoing())
    deadline = time.monotonic() + 3.5
    calls = 0
    while time.monotonic() < deadline:
        assert hook.get_referral(created["id"])["id"] == created["id"]
        calls += 1
        time.sleep(0.25)
    assert calls >= 10
    assert connection.stats()[TOKEN] >= 3


def test_a_401_triggers_one_refresh_and_a_retry(connection):
    hook = fast_hook(max_attempts=1)
    created = hook.create_referral(outgoing())
    connection.admin("tokens", {"revoke_all": True})
    assert hook.get_referral(created["id"])["id"] == created["id"]
    assert connection.stats()[TOKEN] == 2


def test_static_access_token_from_the_extra(connection, monkeypatch):
    connection.admin("tokens", {"static": ["static-token-for-hook"]})
    env = connection.connection_env(access_token="static-token-for-hook", client_secret="", refresh_token="")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert list(fast_hook().iter_referrals()) == []
    assert TOKEN not in connection.stats()


def test_client_credentials_grant_when_no_refresh_token(connection, monkeypatch):
    for name, value in connection.connection_env(refresh_token="").items():
        monkeypatch.setenv(name, value)
    assert list(fast_hook().iter_referrals()) == []
    assert connection.stats()[TOKEN] == 1


def test_v2_token_url_gets_the_default_scope(connection, monkeypatch):
    for name, value in connection.connection_env(token_url=f"{connection.url}/t/oauth2/v2.0/token").items():
        monkeypatch.setenv(name, value)
    assert list(fast_hook().iter_referrals()) == []
    assert connection.stats()["POST /{tenant}/oauth2/v2.0/token"] == 1


def test_wrong_client_secret_raises_an_auth_error_without_the_secret(connection, monkeypatch):
    for name, value in connection.connection_env(client_secret="not-the-secret-123").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PartnerCenterAuthError) as raised:
        fast_hook().get_referral("any")
    assert raised.value.status == 401 and raised.value.code == "invalid_client"
    assert "not-the-secret-123" not in str(raised.value)


# ---------------------------------------------------------------------- operations and errors
def test_stale_etag_raises_precondition_failed_with_the_referral_id(connection):
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    updated = hook.patch_referral(created["id"], [{"op": "replace", "path": "/name", "value": "v2"}], created["eTag"])
    assert updated["name"] == "v2" and updated["eTag"] != created["eTag"]
    with pytest.raises(PreconditionFailed) as raised:
        hook.patch_referral(created["id"], [{"op": "replace", "path": "/name", "value": "v3"}], created["eTag"])
    assert raised.value.referral_id == created["id"] and raised.value.status == 412


def test_patch_without_etag_appends_to_the_team(connection):
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    member = {"firstName": "Dana", "lastName": "Lee", "email": "dana@partner.example"}
    updated = hook.patch_referral(created["id"], [{"op": "add", "path": "/team/-", "value": member}])
    assert updated["team"] == [member]


def test_replace_referral_puts_the_whole_referral(connection):
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    replaced = hook.replace_referral(created["id"], {**created, "name": "renamed", "links": {}}, created["eTag"])
    assert replaced["name"] == "renamed"


def test_client_errors_carry_status_code_and_message(connection):
    hook = fast_hook()
    with pytest.raises(PartnerCenterError) as raised:
        hook.create_referral({**outgoing(), "type": "Solo"})
    assert (raised.value.status, raised.value.code) == (400, "InvalidInput")
    assert "type" in raised.value.message
    with pytest.raises(ReferralNotFound):
        hook.get_referral(str(uuid.uuid4()))


def test_iter_referrals_follows_next_links_to_the_end(connection):
    connection.seed(*[{"name": f"Customer {n}"} for n in range(260)])
    referrals = list(fast_hook().iter_referrals(orderby="updatedDateTime desc"))
    assert len({r["id"] for r in referrals}) == 260
    assert connection.stats()[LIST] == 3


def test_updated_window_filter_selects_the_window(connection):
    start = datetime(2030, 3, 1, tzinfo=timezone.utc)
    connection.seed(*[
        {"name": f"r{hour}", "updatedDateTime": (start + timedelta(hours=hour)).isoformat()} for hour in range(-1, 3)
    ])
    window = updated_window_filter(start, start + timedelta(hours=2))
    assert sorted(r["name"] for r in fast_hook().iter_referrals(filter=window)) == ["r0", "r1"]


def test_non_guid_request_ids_become_stable_guids(connection):
    hook = fast_hook()
    first = hook.create_referral(outgoing(), request_id="deal-42")
    again = hook.create_referral(outgoing(), request_id="deal-42")
    assert first["id"] == again["id"] and len(connection.stored()) == 1


# ---------------------------------------------------------------------- retries
def test_create_retried_after_a_timeout_yields_exactly_one_referral(connection, monkeypatch):
    for name, value in connection.connection_env(timeout=0.3).items():
        monkeypatch.setenv(name, value)
    hook = fast_hook()
    hook.access_token()  # the token endpoint is faulted too; take a token first
    connection.admin("faults", {"timeout_rate": 1.0, "timeout_seconds": 1.0})
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.update(referral=hook.create_referral(outgoing())))
    worker.start()
    deadline = time.monotonic() + 5
    while connection.stats().get(CREATE, 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    connection.admin("faults", {})
    worker.join(timeout=15)
    assert connection.stats()[CREATE] >= 2
    stored = connection.stored()
    assert len(stored) == 1 and outcome["referral"]["id"] == stored[0]["id"]


@pytest.mark.parametrize("fault", ["error_rate", "throttle_rate"])
def test_server_errors_and_throttles_are_retried(connection, fault):
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    connection.admin("faults", {fault: 0.5, "seed": seed_for(0.5)})
    started = time.monotonic()
    assert hook.get_referral(created["id"])["id"] == created["id"]
    assert connection.stats()["GET /v1.0/engagements/referrals/{id}"] == 2
    if fault == "throttle_rate":  # Retry-After: 1 was honoured
        assert time.monotonic() - started >= 0.9


def test_retries_are_bounded(connection):
    hook = fast_hook(max_attempts=3)
    hook.access_token()
    connection.admin("faults", {"error_rate": 1.0})
    with pytest.raises(PartnerCenterTransientError) as raised:
        list(hook.iter_referrals())
    assert raised.value.status == 500
    assert connection.stats()[LIST] == 3


# ---------------------------------------------------------------------- secrets
def test_secrets_and_tokens_never_reach_the_logs_or_headers(connection, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    connection.admin("tokens", {"ttl_seconds": 1})
    hook = fast_hook()
    created = hook.create_referral(outgoing())
    time.sleep(1.1)
    hook.patch_referral(created["id"], [{"op": "replace", "path": "/name", "value": "v2"}])
    connection.admin("tokens", {"revoke_all": True, "ttl_seconds": 3600})
    list(hook.iter_referrals())
    issued = connection.emulator.tokens
    secrets = [SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN, *issued.access_tokens, *issued.refresh_tokens]
    assert len(secrets) >= 6  # three access tokens and their rotated refresh tokens
    captured = capsys.readouterr()
    logged = caplog.text + captured.out + captured.err
    assert "token acquired" in logged
    for secret in secrets:
        assert secret not in logged
    assert not any(SANDBOX_CLIENT_SECRET in str(v) for v in hook.get_conn().headers.values())
