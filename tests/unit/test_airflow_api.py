"""The Airflow REST API client: token caching and refresh, trigger outcomes."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import jwt
import pytest

from partner_sync.airflow_api import AirflowApiClient, AirflowApiError, base_url_from_connection


def make_token(lifetime_s: float, subject: str = "admin") -> str:
    claims = {"sub": subject, "exp": int(time.time() + lifetime_s)}
    return jwt.encode(claims, "test-signing-key-of-at-least-32-bytes", algorithm="HS256")


class FakeAirflow:
    """Just enough of the API server: ``/auth/token`` and the trigger endpoint."""

    def __init__(self, token_lifetime_s: float = 3600, trigger_status: int = 200) -> None:
        self.token_lifetime_s = token_lifetime_s
        self.trigger_status = trigger_status
        self.valid_tokens: set[str] = set()
        self.logins = 0
        self.triggers: list[dict] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            credentials = json.loads(request.content)
            if credentials != {"username": "admin", "password": "secret"}:
                return httpx.Response(401, json={"detail": "Invalid credentials"})
            self.logins += 1
            token = make_token(self.token_lifetime_s, f"admin-{self.logins}")
            self.valid_tokens.add(token)
            return httpx.Response(201, json={"access_token": token})
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.valid_tokens:
            return httpx.Response(401, json={"detail": "Not authenticated"})
        self.triggers.append({"path": request.url.path, "body": json.loads(request.content)})
        return httpx.Response(self.trigger_status, json={"detail": "fake"})


def client_for(fake: FakeAirflow, password: str = "secret") -> AirflowApiClient:
    return AirflowApiClient(
        "http://airflow.test/", "admin", password, transport=httpx.MockTransport(fake.handle)
    )


def run(coroutine):
    return asyncio.run(coroutine)


def test_trigger_posts_the_run_with_a_null_logical_date():
    fake = FakeAirflow()

    async def scenario():
        async with client_for(fake) as client:
            return await client.trigger_dag_run("hubspot_deal_sync", "webhook__abc", {"events": [{"eventId": 1}]})

    assert run(scenario()) == "created"
    assert fake.triggers == [
        {
            "path": "/api/v2/dags/hubspot_deal_sync/dagRuns",
            "body": {"dag_run_id": "webhook__abc", "logical_date": None, "conf": {"events": [{"eventId": 1}]}},
        }
    ]


def test_token_is_reused_while_valid():
    fake = FakeAirflow()

    async def scenario():
        async with client_for(fake) as client:
            for number in range(3):
                await client.trigger_dag_run("hubspot_deal_sync", f"run-{number}", {})

    run(scenario())
    assert fake.logins == 1


def test_token_about_to_expire_is_replaced():
    fake = FakeAirflow(token_lifetime_s=30)  # inside the refresh margin

    async def scenario():
        async with client_for(fake) as client:
            await client.trigger_dag_run("hubspot_deal_sync", "run-1", {})
            await client.trigger_dag_run("hubspot_deal_sync", "run-2", {})

    run(scenario())
    assert fake.logins == 2


def test_rejected_token_is_refreshed_once():
    fake = FakeAirflow()

    async def scenario():
        async with client_for(fake) as client:
            await client.trigger_dag_run("hubspot_deal_sync", "run-1", {})
            fake.valid_tokens.clear()  # e.g. the API server's JWT secret rotated
            return await client.trigger_dag_run("hubspot_deal_sync", "run-2", {})

    assert run(scenario()) == "created"
    assert fake.logins == 2


def test_existing_run_is_success():
    fake = FakeAirflow(trigger_status=409)

    async def scenario():
        async with client_for(fake) as client:
            return await client.trigger_dag_run("hubspot_deal_sync", "webhook__abc", {})

    assert run(scenario()) == "exists"


@pytest.mark.parametrize("status_code", [400, 404, 500])
def test_other_refusals_raise(status_code):
    fake = FakeAirflow(trigger_status=status_code)

    async def scenario():
        async with client_for(fake) as client:
            await client.trigger_dag_run("hubspot_deal_sync", "webhook__abc", {})

    with pytest.raises(AirflowApiError) as error:
        run(scenario())
    assert error.value.status_code == status_code


def test_wrong_credentials_raise_without_the_password():
    fake = FakeAirflow()

    async def scenario():
        async with client_for(fake, password="wrong-password") as client:
            await client.trigger_dag_run("hubspot_deal_sync", "webhook__abc", {})

    with pytest.raises(AirflowApiError, match="401") as error:
        run(scenario())
    assert "wrong-password" not in str(error.value)


def test_unreachable_server_raises():
    async def scenario():
        async with AirflowApiClient("http://127.0.0.1:9", "admin", "secret", timeout=2) as client:
            await client.trigger_dag_run("hubspot_deal_sync", "webhook__abc", {})

    with pytest.raises(AirflowApiError, match="cannot reach"):
        run(scenario())


@pytest.mark.parametrize(
    ("host", "schema", "port", "base_url"),
    [
        ("http://localhost:8080/", None, None, "http://localhost:8080"),
        ("localhost", None, 8080, "http://localhost:8080"),
        ("airflow.example.com", "https", None, "https://airflow.example.com"),
    ],
)
def test_base_url_from_connection_fields(host, schema, port, base_url):
    assert base_url_from_connection(host, schema, port) == base_url
