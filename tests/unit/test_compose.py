"""docker-compose.yaml cannot run here (no Docker engine); check that it says what the SPEC needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_compose_has_every_airflow_service_and_backing_store(compose):
    services = set(compose["services"])
    assert {
        "postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer", "airflow-worker", "airflow-init",
    } <= services


def test_compose_runs_celery_on_postgres_and_redis(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080")


def test_compose_configures_every_connection_of_the_spec_from_the_environment(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    for conn_id in ("HUBSPOT_DEFAULT", "PARTNER_CENTER_DEFAULT", "AWS_PARTNER_CENTRAL",
                    "AIRFLOW_API", "PARTNER_SYNC_DB"):
        assert f"AIRFLOW_CONN_{conn_id}" in env
    assert env["AIRFLOW_CONN_PARTNER_SYNC_DB"].startswith("postgresql://")


def test_compose_mounts_the_project_and_installs_the_package(compose):
    volumes = compose["services"]["airflow-scheduler"]["volumes"]
    for folder in ("dags", "plugins", "include"):
        assert any(f"/{folder}:" in v for v in volumes), folder
    assert compose["services"]["airflow-scheduler"]["build"] == "."
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "requirements.txt" in dockerfile and "apache/airflow:3.3.2" in dockerfile


def test_compose_init_creates_the_pools_the_dags_use(compose):
    from partner_sync.dag_defaults import POOLS

    init = " ".join(compose["services"]["airflow-init"]["command"])
    for pool, (slots, _) in POOLS.items():
        assert f"airflow pools set {pool} {slots}" in init
