"""Readers of the package's Airflow Variables: defaults, valid values, and faults that name the
Variable."""

from __future__ import annotations

import json

import pytest

from partner_sync import config
from partner_sync.config import ConfigError


def test_conflict_strategies_default_and_value():
    assert config.parse_conflict_strategies(None).as_dict() == {"default": "LAST_WRITE_WINS", "fields": {}}
    parsed = config.parse_conflict_strategies('{"default": "MANUAL", "fields": {"amount": "HUBSPOT_WINS"}}')
    assert (parsed.strategy_for("amount"), parsed.strategy_for("closedate")) == ("HUBSPOT_WINS", "MANUAL")


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        ("{not json", "not valid JSON"),
        ('{"default": "NEWEST"}', "unknown strategy 'NEWEST'"),
        ('{"fields": {"amount": "WHATEVER"}}', "fields.amount"),
        ('"MANUAL"', "expected a JSON object"),
    ],
)
def test_conflict_strategies_faults_name_the_variable(raw, fault):
    with pytest.raises(ConfigError, match=fault) as caught:
        config.parse_conflict_strategies(raw)
    assert str(caught.value).startswith("Airflow Variable 'partner_sync_conflict_strategies': ")
    assert caught.value.variable == "partner_sync_conflict_strategies"


def test_audit_archive_default_is_under_airflow_home(monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", "/opt/airflow")
    assert config.parse_audit_archive(None) == "file:///opt/airflow/partner-sync-audit"
    assert config.parse_audit_archive("s3://audit-bucket/partner-sync/") == "s3://audit-bucket/partner-sync"
    assert config.parse_audit_archive("file:///var/audit") == "file:///var/audit"


@pytest.mark.parametrize("raw", ["gs://bucket/x", "/var/audit", "s3://", "file://relative/path", "file:///"])
def test_audit_archive_faults_name_the_variable(raw):
    with pytest.raises(ConfigError, match="^Airflow Variable 'partner_sync_audit_archive': "):
        config.parse_audit_archive(raw)


def test_solution_id():
    assert config.parse_aws_solution_id(None) is None
    assert config.parse_aws_solution_id("") is None
    assert config.parse_aws_solution_id(" S-0012345 ") == "S-0012345"
    assert config.parse_aws_solution_id('"S-1"') == "S-1"


@pytest.mark.parametrize("raw", ["S-", "s-123", "SOL-1", "S-12345678901234567890"])
def test_solution_id_faults_name_the_variable(raw):
    with pytest.raises(ConfigError, match="^Airflow Variable 'partner_sync_aws_solution_id': .*S-"):
        config.parse_aws_solution_id(raw)


@pytest.mark.parametrize(("raw", "expected"), [(None, False), ("true", True), ("False", False), (" TRUE ", True), (True, True), ('"true"', True)])
def test_auto_submit(raw, expected):
    assert config.parse_aws_auto_submit(raw) is expected


@pytest.mark.parametrize("raw", ["yes", "1", "on", "maybe", 1])
def test_auto_submit_faults_name_the_variable(raw):
    with pytest.raises(ConfigError, match="^Airflow Variable 'partner_sync_aws_auto_submit': expected true or false"):
        config.parse_aws_auto_submit(raw)


def test_snapshot_template():
    assert config.parse_aws_snapshot_template(None) == "AWSOpportunitySummary"
    assert config.parse_aws_snapshot_template("MyTemplate01") == "MyTemplate01"


@pytest.mark.parametrize("raw", ["ab", "Opportunity-Template", "x" * 81, "Oppor tunity"])
def test_snapshot_template_faults_name_the_variable(raw):
    with pytest.raises(ConfigError, match=r"^Airflow Variable 'partner_sync_aws_snapshot_template': .*\[a-zA-Z0-9\]"):
        config.parse_aws_snapshot_template(raw)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_readers_take_variables_from_airflow(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_CONFLICT_STRATEGIES", json.dumps({"fields": {"dealstage": "MANUAL"}}))
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AUDIT_ARCHIVE", "s3://bucket/audit")
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_SOLUTION_ID", "S-42")
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_AUTO_SUBMIT", "true")
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_SNAPSHOT_TEMPLATE", "CustomTemplate")
    assert config.conflict_strategies().strategy_for("dealstage") == "MANUAL"
    assert config.audit_archive() == "s3://bucket/audit"
    assert config.aws_solution_id() == "S-42"
    assert config.aws_auto_submit() is True
    assert config.aws_snapshot_template() == "CustomTemplate"


def test_readers_default_when_variables_are_unset(monkeypatch):
    for key in ("CONFLICT_STRATEGIES", "AUDIT_ARCHIVE", "AWS_SOLUTION_ID", "AWS_AUTO_SUBMIT", "AWS_SNAPSHOT_TEMPLATE"):
        monkeypatch.delenv(f"AIRFLOW_VAR_PARTNER_SYNC_{key}", raising=False)
    assert config.conflict_strategies().default == "LAST_WRITE_WINS"
    assert config.aws_solution_id() is None
    assert config.aws_auto_submit() is False
    assert config.aws_snapshot_template() == "AWSOpportunitySummary"
    assert config.audit_archive().endswith("/partner-sync-audit")


def test_an_invalid_variable_fails_the_reader(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AWS_AUTO_SUBMIT", "sometimes")
    with pytest.raises(ConfigError, match="partner_sync_aws_auto_submit"):
        config.aws_auto_submit()
