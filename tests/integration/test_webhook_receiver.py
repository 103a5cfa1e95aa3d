"""The webhook receiver and read endpoints on a real ``airflow api-server`` (plugin loaded from
the repo's ``plugins/``), triggering stand-in DAGs through the real REST API; plus in-process
tests of the app for an Airflow API that is down or slow.

One API server for the module (see ``tests/airflow_harness.py``); no scheduler runs, so
triggered runs stay ``queued`` and can be inspected through ``/api/v2``.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from partner_sync.webhooks import (
    CONTACT_COMPANY_SYNC_DAG,
    DEAL_SYNC_DAG,
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    dag_run_id_for,
    signature_v3,
)
from tests.airflow_harness import AirflowDeployment, write_stub_dags
from tests.conftest import SECRETS

SECRET = SECRETS["hubspot_webhook_secret"]
WEBHOOK_PATH = "/partner-sync/webhooks/hubspot"
PUBLIC_WEBHOOK_URL = "https://hooks.example.com/partner-sync/webhooks/hubspot"
_event_ids = iter(range(1_000_000, 10_000_000))


def hubspot_connection(webhook_url: str | None = None) -> str:
    extra: dict[str, Any] = {"webhook_secret": SECRET, "pipeline": "default"}
    if webhook_url:
        extra["webhook_url"] = webhook_url
    return json.dumps({"conn_type": "http", "host": "https://api.hubapi.com", "password": "pat-x", "extra": extra})


def make_event(kind: str = "deal.propertyChange", object_id: int = 501, **fields: Any) -> dict[str, Any]:
    """An event with a fresh eventId, so every test's delivery maps to its own run ids."""
    event_id = next(_event_ids)
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 3001,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
    }
    if kind.endswith(".propertyChange"):
        event.update(propertyName="dealstage" if kind.startswith("deal") else "email", propertyValue="x")
    return event | fields


def signed_headers(body: bytes, uri: str, *, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time() * 1000))
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_v3(secret, "POST", uri, body, timestamp),
        TIMESTAMP_HEADER: timestamp,
    }


def deliver(airflow: AirflowDeployment, delivery: list | bytes, **signing: Any) -> httpx.Response:
    """POST a delivery to the API server, signed as HubSpot signs it (unless told otherwise)."""
    body = delivery if isinstance(delivery, bytes) else json.dumps(delivery).encode()
    uri = f"{airflow.base_url}{WEBHOOK_PATH}"
    return airflow.api("POST", WEBHOOK_PATH, authenticated=False, content=body, headers=signed_headers(body, uri, **signing))


def run_counts(airflow: AirflowDeployment) -> dict[str, int]:
    return {dag_id: len(airflow.dag_runs(dag_id)) for dag_id in (DEAL_SYNC_DAG, CONTACT_COMPANY_SYNC_DAG)}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowDeployment]:
    dags_folder = write_stub_dags(tmp_path_factory.mktemp("dags"), [DEAL_SYNC_DAG, CONTACT_COMPANY_SYNC_DAG])
    deployment = AirflowDeployment(dags_folder)
    deployment.extra_env.update(
        {
            "AIRFLOW_CONN_HUBSPOT_DEFAULT": hubspot_connection(),
            "AIRFLOW_CONN_AIRFLOW_API": deployment.airflow_api_connection(),
            "AIRFLOW_CONN_PARTNER_SYNC_DB": f"sqlite:///{deployment.home / 'partner_sync.db'}",
        }
    )
    try:
        deployment.prepare()
        deployment.start_api_server()
        yield deployment
    finally:
        deployment.stop()


# --------------------------------------------------------------------------- accepted deliveries


def test_signed_delivery_queues_a_run_carrying_its_events(airflow):
    events = [make_event(object_id=501), make_event("deal.creation", object_id=502)]

    response = deliver(airflow, events)

    assert response.status_code == 202, response.text
    run_id = dag_run_id_for(events)
    assert response.json()["dag_runs"] == [{"dag_id": DEAL_SYNC_DAG, "dag_run_id": run_id, "result": "created"}]
    run = airflow.api("GET", f"/api/v2/dags/{DEAL_SYNC_DAG}/dagRuns/{run_id}").json()
    assert run["state"] == "queued"
    assert run["conf"] == {"events": events}
    assert run["logical_date"] is None


def test_redelivery_is_accepted_without_a_second_run(airflow):
    events = [make_event(object_id=601)]
    before = run_counts(airflow)

    first = deliver(airflow, events)
    again = deliver(airflow, [dict(event, attemptNumber=1) for event in events])

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["dag_runs"][0]["result"] == "created"
    assert again.json()["dag_runs"][0]["result"] == "exists"
    assert again.json()["dag_runs"][0]["dag_run_id"] == first.json()["dag_runs"][0]["dag_run_id"]
    assert run_counts(airflow)[DEAL_SYNC_DAG] == before[DEAL_SYNC_DAG] + 1


def test_hundred_events_make_exactly_one_run_per_target_dag(airflow):
    deal_events = [make_event(object_id=700 + n) for n in range(40)]
    contact_events = [make_event("contact.propertyChange", object_id=800 + n) for n in range(30)]
    company_events = [make_event("company.associationChange", object_id=900 + n, associationType="COMPANY_TO_DEAL",
                                 fromObjectId=900 + n, toObjectId=700 + n, associationRemoved=False) for n in range(20)]
    ignored = [make_event("deal.deletion", object_id=990 + n) for n in range(10)]
    delivery = [*deal_events, *contact_events, *company_events, *ignored]
    assert len(delivery) == 100
    before = run_counts(airflow)

    response = deliver(airflow, delivery)

    assert response.status_code == 202, response.text
    assert response.json()["ignored"] == 10
    assert run_counts(airflow) == {dag_id: count + 1 for dag_id, count in before.items()}
    deal_run = airflow.api("GET", f"/api/v2/dags/{DEAL_SYNC_DAG}/dagRuns/{dag_run_id_for(deal_events)}").json()
    assert deal_run["conf"] == {"events": deal_events}
    contact_run_id = dag_run_id_for(contact_events + company_events)
    contact_run = airflow.api("GET", f"/api/v2/dags/{CONTACT_COMPANY_SYNC_DAG}/dagRuns/{contact_run_id}").json()
    assert contact_run["conf"] == {"events": contact_events + company_events}


def test_delivery_of_only_ignored_events_is_accepted_without_runs(airflow):
    before = run_counts(airflow)
    events = [
        make_event("deal.deletion"),
        make_event("contact.privacyDeletion"),
        make_event("deal.propertyChange", propertyName="aws_opportunity_id"),
        make_event("company.propertyChange", propertyName="customer_name"),
    ]

    response = deliver(airflow, events)

    assert response.status_code == 202
    assert response.json() == {"events": 4, "ignored": 4, "dag_runs": []}
    assert run_counts(airflow) == before


# --------------------------------------------------------------------------- refused deliveries


def _malformed_event() -> list[dict[str, Any]]:
    event = make_event()
    del event["objectId"]
    return [make_event(), event]


@pytest.mark.parametrize(
    ("delivery", "signing", "status_code", "detail"),
    [
        (lambda: [make_event()], {"secret": "not-the-secret"}, 401, "does not match"),
        (lambda: [make_event()], {"timestamp": str(int(time.time() * 1000) - 6 * 60 * 1000)}, 401, "5-minute window"),
        (lambda: b"<xml>not json</xml>", {}, 400, "not valid JSON"),
        (lambda: b"[" + b" " * MAX_BODY_BYTES + b"]", {}, 413, "exceeds"),
        (_malformed_event, {}, 400, "event[1].objectId"),
    ],
    ids=["wrong-signature", "stale-timestamp", "not-json", "over-1MiB", "malformed-event"],
)
def test_refused_delivery_triggers_nothing(airflow, delivery, signing, status_code, detail):
    before = run_counts(airflow)

    response = deliver(airflow, delivery(), **signing)

    assert response.status_code == status_code
    assert detail in response.json()["detail"]
    assert run_counts(airflow) == before


def test_unsigned_delivery_is_refused(airflow):
    body = json.dumps([make_event()]).encode()
    response = airflow.api("POST", WEBHOOK_PATH, authenticated=False, content=body)
    assert response.status_code == 401


def test_oversized_chunked_delivery_is_refused_without_a_length(airflow):
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    response = airflow.api(
        "POST", WEBHOOK_PATH, authenticated=False, content=chunks(),
        headers={SIGNATURE_HEADER: "x", TIMESTAMP_HEADER: str(int(time.time() * 1000))},
    )
    assert response.status_code == 413


# --------------------------------------------------------------------------- read endpoints


@pytest.mark.parametrize("path", ["/partner-sync/audit/deal-1", "/partner-sync/conflicts?status=pending"])
def test_read_endpoints_refuse_anonymous_requests(airflow, path):
    assert airflow.api("GET", path, authenticated=False).status_code == 401


@pytest.mark.parametrize("path", ["/partner-sync/audit/deal-1", "/partner-sync/conflicts"])
def test_read_endpoints_refuse_an_invalid_token(airflow, path):
    response = airflow.api("GET", path, headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code in (401, 403)


def test_read_endpoints_serve_the_store_to_an_authenticated_user(airflow, monkeypatch):
    try:
        from partner_sync.store import SyncStore
    except ImportError:
        pytest.skip("partner_sync.store.SyncStore is not available yet")
    monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SYNC_DB", airflow.extra_env["AIRFLOW_CONN_PARTNER_SYNC_DB"])
    store = SyncStore.from_connection()
    store.append_audit("deal", "deal-77", "hubspot", "update", "webhook", "test", changes={"amount": {"before": 1, "after": 2}})
    store.add_conflict("aws", "deal-77", "O123", "amount", 1, 2, 3)

    audit = airflow.api("GET", "/partner-sync/audit/deal-77")
    conflicts = airflow.api("GET", "/partner-sync/conflicts", params={"status": "pending", "deal_id": "deal-77"})

    assert audit.status_code == 200, audit.text
    assert [entry["action"] for entry in audit.json()["entries"]] == ["update"]
    assert conflicts.status_code == 200, conflicts.text
    assert [conflict["field"] for conflict in conflicts.json()["conflicts"]] == ["amount"]


# --------------------------------------------------------------------------- in-process app


@pytest.fixture
def app_client(monkeypatch) -> Iterator[TestClient]:
    """The app alone (no API server), connections from the environment."""
    from partner_sync.web_app import create_app

    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection())
    with TestClient(create_app()) as client:
        yield client


def post_signed(client: TestClient, events: list, uri: str = "http://testserver/webhooks/hubspot") -> httpx.Response:
    body = json.dumps(events).encode()
    return client.post("/webhooks/hubspot", content=body, headers=signed_headers(body, uri))


def airflow_api_at(port: int) -> str:
    return json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{port}", "login": "admin", "password": "pw"})


def test_unreachable_airflow_api_answers_503(app_client, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", airflow_api_at(closed_port))

    response = post_signed(app_client, [make_event()])

    assert response.status_code == 503


def test_slow_airflow_api_answers_503_within_hubspot_timeout(app_client, monkeypatch):
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", airflow_api_at(listener.getsockname()[1]))
        started = time.monotonic()

        response = post_signed(app_client, [make_event()])

        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 5.0


def test_ignored_events_need_no_airflow_api(app_client, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", airflow_api_at(9))
    assert post_signed(app_client, [make_event("deal.deletion")]).status_code == 202


def test_signature_covers_the_configured_public_webhook_url(airflow, monkeypatch):
    from partner_sync.web_app import create_app

    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(webhook_url=PUBLIC_WEBHOOK_URL))
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", airflow.airflow_api_connection())
    with TestClient(create_app()) as client:
        events = [make_event(object_id=1201)]
        signed_for_request_url = post_signed(client, events)
        signed_for_public_url = post_signed(client, events, uri=PUBLIC_WEBHOOK_URL)

    assert signed_for_request_url.status_code == 401
    assert signed_for_public_url.status_code == 202, signed_for_public_url.text
    assert signed_for_public_url.json()["dag_runs"][0]["result"] == "created"


# --------------------------------------------------------------------------- hygiene (keep last)


def test_no_secret_reaches_the_api_server_log(airflow):
    log = (airflow.logs_dir / "api-server.log").read_text(errors="replace")
    assert "Accepted a HubSpot delivery" in log  # the receiver logs here
    for secret in (SECRET, airflow.token(), "partner-sync-test-admin-password"):
        assert secret not in log
