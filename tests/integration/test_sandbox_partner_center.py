"""The Partner Center emulator over HTTP: referrals CRUD, OData, JSON Patch, eTags, status rules,
expiry, tokens, idempotency, rate limits and faults."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from tests.integration.partner_center_server import (  # noqa: F401  (fixtures)
    REFERRALS,
    RunningPartnerCenter,
    bearer,
    partner_center,
    partner_center_server,
    start_partner_center,
)


def outgoing(name: str = "Contoso", **overrides: Any) -> dict[str, Any]:
    referral = {
        "name": f"{name} - Azure migration",
        "externalReferenceId": f"hs-{name}",
        "type": "Independent",
        "qualification": "SalesQualified",
        "customerProfile": {
            "name": name,
            "address": {"city": "Redmond", "state": "WA", "postalCode": "98052", "country": "US"},
            "size": "10to50employees",
            "team": [],
        },
        "consent": {"consentToToShareInfoWithOthers": True, "consentToContact": True},
        "details": {"dealValue": 50000, "currency": "USD", "notes": "needs a partner"},
        "team": [],
    }
    referral.update(overrides)
    return referral


def create(pc: RunningPartnerCenter, auth: dict[str, str], referral: dict[str, Any], **headers: str) -> requests.Response:
    return requests.post(f"{pc.url}{REFERRALS}", json=referral, headers={**auth, **headers}, timeout=5)


def listing(pc: RunningPartnerCenter, auth: dict[str, str], **params: Any) -> requests.Response:
    return requests.get(f"{pc.url}{REFERRALS}", params={f"${k}": v for k, v in params.items()}, headers=auth, timeout=5)


def names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["customerProfile"]["name"] for r in response.json()["value"]]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- create / read
def test_create_returns_the_referral_with_service_fields(partner_center, bearer):
    response = create(partner_center, bearer, outgoing())
    assert response.status_code == 201
    referral = response.json()
    uuid.UUID(referral["id"])
    assert referral["eTag"].startswith('"') and referral["eTag"].endswith('"')
    assert referral["direction"] == "Outgoing"
    assert (referral["status"], referral["substatus"]) == ("New", "Pending")
    assert referral["createdDateTime"] == referral["updatedDateTime"]
    fetched = requests.get(f"{partner_center.url}{REFERRALS}/{referral['id']}", headers=bearer, timeout=5)
    assert fetched.json() == referral


@pytest.mark.parametrize("missing", ["type", "customerProfile", "consent", "details"])
def test_create_without_a_required_member_is_400_naming_it(partner_center, bearer, missing):
    referral = outgoing()
    del referral[missing]
    response = create(partner_center, bearer, referral)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "description", "data", "source"}
    assert missing in body["description"]


def test_create_with_an_invalid_substatus_is_400(partner_center, bearer):
    response = create(partner_center, bearer, outgoing(status="New", substatus="Won"))
    assert response.status_code == 400
    assert "substatus" in response.json()["description"]


def test_get_unknown_referral_is_404(partner_center, bearer):
    response = requests.get(f"{partner_center.url}{REFERRALS}/{uuid.uuid4()}", headers=bearer, timeout=5)
    assert response.status_code == 404


def test_same_ms_request_id_creates_one_referral(partner_center, bearer):
    request_id = str(uuid.uuid4())
    first = create(partner_center, bearer, outgoing(), **{"MS-RequestId": request_id})
    again = create(partner_center, bearer, outgoing(), **{"MS-RequestId": request_id})
    other = create(partner_center, bearer, outgoing(), **{"MS-RequestId": str(uuid.uuid4())})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert len(partner_center.stored()) == 2


# ---------------------------------------------------------------------- OData
@pytest.fixture
def catalogue(partner_center):
    base = datetime(2030, 1, 1, tzinfo=timezone.utc)
    rows = [
        ("Contoso", "US", "New", "Pending", "SalesQualified", "ann@contoso.com", 0),
        ("Fabrikam", "US", "Active", "Accepted", "MarketingQualified", "bob@fabrikam.com", 1),
        ("Northwind", "CA", "New", "Received", "SalesQualified", "o'neil@northwind.com", 2),
        ("Tailspin", "GB", "Closed", "Won", "Direct", "cy@tailspin.com", 3),
    ]
    partner_center.seed(*[
        {
            "name": name, "status": status, "substatus": substatus, "qualification": qualification,
            "createdDateTime": iso(base + timedelta(hours=hour)),
            "updatedDateTime": iso(base + timedelta(hours=10 - hour)),
            "customerProfile": {"name": name, "address": {"country": country}},
            "team": [{"firstName": "A", "lastName": "B", "email": email}],
            "details": {"dealValue": 1000 * (hour + 1)},
        }
        for name, country, status, substatus, qualification, email, hour in rows
    ])
    return partner_center


def test_filter_on_nested_path_and_direction(catalogue, bearer):
    response = listing(catalogue, bearer, filter="customerProfile/address/country eq 'US' and direction eq 'Incoming'")
    assert names(response) == ["Contoso", "Fabrikam"]


def test_filter_with_or_not_and_parentheses(catalogue, bearer):
    expression = "(status eq 'New' or status eq 'Closed') and not (qualification eq 'Direct')"
    assert names(listing(catalogue, bearer, filter=expression)) == ["Contoso", "Northwind"]


def test_filter_any_over_team_with_escaped_quote(catalogue, bearer):
    assert names(listing(catalogue, bearer, filter="team/any(t:t/email eq 'o''neil@northwind.com')")) == ["Northwind"]


def test_filter_on_datetimes_and_numbers(catalogue, bearer):
    expression = "updatedDateTime ge 2030-01-01T08:00:00Z and updatedDateTime lt 2030-01-01T10:00:00Z"
    assert names(listing(catalogue, bearer, filter=expression)) == ["Fabrikam", "Northwind"]
    assert names(listing(catalogue, bearer, filter="details/dealValue gt 2500")) == ["Northwind", "Tailspin"]


def test_unsupported_filter_syntax_is_400_naming_the_problem(catalogue, bearer):
    response = listing(catalogue, bearer, filter="contains(name, 'x')")
    assert response.status_code == 400
    assert "contains" in response.json()["description"]
    response = listing(catalogue, bearer, filter="status eq")
    assert response.status_code == 400 and "position" in response.json()["description"]


def test_orderby_updated_desc(catalogue, bearer):
    assert names(listing(catalogue, bearer, orderby="updatedDateTime desc")) == [
        "Contoso", "Fabrikam", "Northwind", "Tailspin"
    ]
    assert names(listing(catalogue, bearer, orderby="createdDateTime desc"))[0] == "Tailspin"
    assert listing(catalogue, bearer, orderby="name asc").status_code == 400


def test_top_limits_the_page_and_links_the_next(catalogue, bearer):
    response = listing(catalogue, bearer, top=3)
    body = response.json()
    assert len(body["value"]) == 3 and body["@odata.context"]
    assert body["@odata.nextLink"].startswith(f"{catalogue.url}{REFERRALS}?")
    assert "$skiptoken=" in requests.utils.unquote(body["@odata.nextLink"])
    rest = requests.get(body["@odata.nextLink"], headers=bearer, timeout=5).json()
    assert len(rest["value"]) == 1 and "@odata.nextLink" not in rest


def test_next_link_pages_through_more_than_250_referrals_in_pages_of_100(partner_center, bearer):
    partner_center.seed(*[{"name": f"Customer {n:03d}", "customerProfile": {"name": f"Customer {n:03d}"}} for n in range(260)])
    seen: list[str] = []
    pages = []
    url: str | None = f"{partner_center.url}{REFERRALS}?$top=250"
    while url:
        body = requests.get(url, headers=bearer, timeout=5).json()
        pages.append(len(body["value"]))
        seen += [r["id"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert pages == [100, 100, 60]
    assert len(seen) == len(set(seen)) == 260


# ---------------------------------------------------------------------- PATCH / PUT
@pytest.fixture
def created(partner_center, bearer) -> dict[str, Any]:
    return create(partner_center, bearer, outgoing()).json()


def patch(pc, auth, referral_id, operations, **headers) -> requests.Response:
    return requests.patch(
        f"{pc.url}{REFERRALS}/{referral_id}", json=operations, headers={**auth, **headers}, timeout=5
    )


def test_patch_replace_and_append_returns_204_then_representation(partner_center, bearer, created):
    member = {"firstName": "Dana", "lastName": "Lee", "email": "dana@partner.example"}
    response = patch(partner_center, bearer, created["id"], [
        {"op": "replace", "path": "/details/dealValue", "value": "10000"},
        {"op": "add", "path": "/team/-", "value": member},
    ])
    assert response.status_code == 204 and response.content == b""
    response = patch(partner_center, bearer, created["id"], [{"op": "add", "path": "/details/notes", "value": "n2"}],
                     Prefer="return=representation")
    assert response.status_code == 200
    referral = response.json()
    assert referral["details"] == {"dealValue": "10000", "currency": "USD", "notes": "n2"}
    assert referral["team"] == [member]
    assert referral["eTag"] != created["eTag"] and referral["updatedDateTime"] > created["updatedDateTime"]


@pytest.mark.parametrize("operation", [
    {"op": "remove", "path": "/details/notes"},
    {"op": "replace", "path": "/details/missing", "value": 1},
    {"op": "replace", "path": "/id", "value": "x"},
    {"op": "replace", "path": "/customerProfile/size", "value": "huge"},
])
def test_patch_refuses_unsupported_or_invalid_operations(partner_center, bearer, created, operation):
    response = patch(partner_center, bearer, created["id"], [operation])
    assert response.status_code == 400, response.text


def test_stale_if_match_is_412_and_current_one_applies(partner_center, bearer, created):
    operation = [{"op": "replace", "path": "/name", "value": "renamed"}]
    assert patch(partner_center, bearer, created["id"], operation, **{"If-Match": created["eTag"]}).status_code == 204
    stale = patch(partner_center, bearer, created["id"], operation, **{"If-Match": created["eTag"]})
    assert stale.status_code == 412


def test_put_needs_if_match_and_replaces_everything(partner_center, bearer, created):
    url = f"{partner_center.url}{REFERRALS}/{created['id']}"
    body = {**created, "name": "replaced"}
    assert requests.put(url, json=body, headers=bearer, timeout=5).status_code == 428
    assert requests.put(url, json=body, headers={**bearer, "If-Match": '"nope"'}, timeout=5).status_code == 412
    response = requests.put(url, json=body, headers={**bearer, "If-Match": created["eTag"]}, timeout=5)
    assert response.status_code == 200
    assert response.json()["name"] == "replaced" and response.json()["id"] == created["id"]


def status_patch(status: str, substatus: str) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/status", "value": status},
            {"op": "replace", "path": "/substatus", "value": substatus}]


def test_status_moves_new_to_active_to_closed(partner_center, bearer, created):
    for status, substatus in [("Active", "Accepted"), ("Active", "Engaged"), ("Closed", "Won")]:
        response = patch(partner_center, bearer, created["id"], status_patch(status, substatus))
        assert response.status_code == 204, response.text


def test_active_cannot_go_back_to_new(partner_center, bearer, created):
    patch(partner_center, bearer, created["id"], status_patch("Active", "Accepted"))
    response = patch(partner_center, bearer, created["id"], status_patch("New", "Pending"))
    assert response.status_code == 400 and "status" in response.json()["description"]


def test_substatus_must_fit_the_status(partner_center, bearer, created):
    response = patch(partner_center, bearer, created["id"], status_patch("Active", "Won"))
    assert response.status_code == 400 and "substatus" in response.json()["description"]


def test_closed_referral_cannot_be_changed(partner_center, bearer, created):
    patch(partner_center, bearer, created["id"], status_patch("Closed", "Lost"))
    response = patch(partner_center, bearer, created["id"], [{"op": "replace", "path": "/name", "value": "x"}])
    assert response.status_code == 400 and "Closed" in response.json()["description"]


# ---------------------------------------------------------------------- seeding and expiry
def test_unanswered_incoming_referral_expires_after_14_days(partner_center, bearer):
    created = datetime.now(timezone.utc) - timedelta(days=15)
    old, fresh, outgoing_old = partner_center.seed(
        {"name": "old", "createdDateTime": iso(created), "updatedDateTime": iso(created)},
        {"name": "fresh"},
        {"name": "mine", "direction": "Outgoing", "createdDateTime": iso(created)},
    )
    referral = requests.get(f"{partner_center.url}{REFERRALS}/{old}", headers=bearer, timeout=5).json()
    assert (referral["status"], referral["substatus"]) == ("Closed", "Expired")
    assert referral["updatedDateTime"].startswith(iso(created + timedelta(days=14))[:19])
    by_name = {r["name"]: r for r in listing(partner_center, bearer).json()["value"]}
    assert by_name["fresh"]["status"] == "New" and by_name["mine"]["status"] == "New"


def test_reseeding_an_id_is_a_change_on_microsofts_side(partner_center, bearer):
    (referral_id,) = partner_center.seed({"name": "v1"})
    before = requests.get(f"{partner_center.url}{REFERRALS}/{referral_id}", headers=bearer, timeout=5).json()
    partner_center.seed({**before, "name": "v2", "eTag": None, "updatedDateTime": None})
    after = requests.get(f"{partner_center.url}{REFERRALS}/{referral_id}", headers=bearer, timeout=5).json()
    assert after["name"] == "v2" and after["eTag"] != before["eTag"]
    assert after["updatedDateTime"] > before["updatedDateTime"]
    assert after["createdDateTime"] == before["createdDateTime"]


def test_seeding_fills_defaults_and_validates_statuses(partner_center):
    (referral_id,) = partner_center.seed({"name": "only a status", "status": "Active"})
    (stored,) = partner_center.stored()
    assert stored["id"] == referral_id and stored["direction"] == "Incoming"
    assert (stored["status"], stored["substatus"]) == ("Active", "Accepted")
    assert stored["eTag"] and stored["createdDateTime"] and stored["updatedDateTime"]
    response = requests.post(f"{partner_center.url}/_sandbox/seed",
                             json={"objects": {"referrals": [{"status": "Done"}]}}, timeout=5)
    assert response.status_code == 400 and "status" in response.json()["error"]


def test_demo_scenario_spans_every_status(partner_center):
    partner_center.admin("seed", {"scenario": "demo"})
    statuses = {(r["status"], r["substatus"]) for r in partner_center.stored()}
    assert {"New", "Active", "Closed"} <= {s for s, _ in statuses}
    assert ("Closed", "Expired") in statuses


# ---------------------------------------------------------------------- tokens
def test_requests_without_a_valid_token_are_401(partner_center):
    url = f"{partner_center.url}{REFERRALS}"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer forged"}, timeout=5).status_code == 401


def test_expired_and_revoked_tokens_are_401(partner_center):
    import time

    partner_center.admin("tokens", {"ttl_seconds": 0.3})
    short = {"Authorization": f"Bearer {partner_center.token()}"}
    assert requests.get(f"{partner_center.url}{REFERRALS}", headers=short, timeout=5).status_code == 200
    time.sleep(0.4)
    assert requests.get(f"{partner_center.url}{REFERRALS}", headers=short, timeout=5).status_code == 401
    partner_center.admin("tokens", {"ttl_seconds": 3600})
    fresh = {"Authorization": f"Bearer {partner_center.token()}"}
    partner_center.admin("tokens", {"revoke_all": True})
    assert requests.get(f"{partner_center.url}{REFERRALS}", headers=fresh, timeout=5).status_code == 401


def test_static_tokens_are_accepted(partner_center):
    partner_center.admin("tokens", {"static": ["static-test-token"]})
    headers = {"Authorization": "Bearer static-test-token"}
    assert requests.get(f"{partner_center.url}{REFERRALS}", headers=headers, timeout=5).status_code == 200


def test_wrong_client_secret_is_an_aad_invalid_client_error(partner_center):
    form = {"grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "wrong",
            "resource": "https://api.partner.microsoft.com"}
    response = requests.post(f"{partner_center.url}/t/oauth2/token", data=form, timeout=5)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_v2_endpoint_issues_tokens_for_the_default_scope_and_rotates_refresh_tokens(partner_center):
    form = {"grant_type": "refresh_token", "client_id": "sandbox-client",
            "client_secret": "sandbox-pc-client-secret-0001", "refresh_token": "sandbox-pc-refresh-token-0001",
            "scope": "https://api.partner.microsoft.com/.default offline_access"}
    body = requests.post(f"{partner_center.url}/t/oauth2/v2.0/token", data=form, timeout=5).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["refresh_token"] != form["refresh_token"]
    rotated = requests.post(f"{partner_center.url}/t/oauth2/v2.0/token",
                            data={**form, "refresh_token": body["refresh_token"]}, timeout=5)
    assert rotated.status_code == 200
    assert partner_center.stats()["POST /{tenant}/oauth2/v2.0/token"] == 2


# ---------------------------------------------------------------------- limits and faults
def test_rate_limit_answers_429_with_retry_after():
    limited = start_partner_center(rate_limits=True)
    try:
        headers = {"Authorization": f"Bearer {limited.token()}"}
        with requests.Session() as session:
            codes = [session.get(f"{limited.url}{REFERRALS}", headers=headers, timeout=5).status_code
                     for _ in range(301)]
            throttled = session.get(f"{limited.url}{REFERRALS}", headers=headers, timeout=5)
        assert codes[:300] == [200] * 300 and codes[300] == 429
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
        assert throttled.json()["code"] == "TooManyRequests"
    finally:
        limited.stop()


def test_injected_faults_use_partner_center_error_shapes(partner_center, bearer):
    partner_center.admin("faults", {"error_rate": 1.0})
    response = listing(partner_center, bearer)
    assert response.status_code == 500 and set(response.json()) == {"code", "description", "data", "source"}
    partner_center.admin("faults", {"throttle_rate": 1.0})
    response = listing(partner_center, bearer)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert partner_center.stats()["GET /v1.0/engagements/referrals"] == 2
