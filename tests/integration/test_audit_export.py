"""audit_export: one deterministic gzip JSON Lines file per UTC day, on file:// and on S3 (moto)."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest

from partner_sync.store import SyncStore
from partner_sync.sync.audit_export import export_window, read_archive
from partner_sync.sync.runtime import ConfError, SyncRun, SyncWindow
from tests.integration.dag_runner import sync_store  # noqa: F401 - fixture
from tests.integration.store_fixtures import sqlite_url  # noqa: F401 - fixture

DAY = datetime(2026, 3, 14, tzinfo=timezone.utc)
#: the audit_export DAG's data interval for day DAY: [DAY 01:00, DAY+1 01:00)
INTERVAL = SyncWindow(DAY + timedelta(hours=1), DAY + timedelta(days=1, hours=1))


@pytest.fixture
def run(sqlite_url):  # noqa: F811 - fixture
    run = SyncRun(dag_id="audit_export", run_id="test")
    run.__dict__["store"] = SyncStore(sqlite_url)  # the cached_property, without a connection
    return run


@pytest.fixture
def archive(tmp_path, monkeypatch):
    url = f"file://{tmp_path / 'archive'}"
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AUDIT_ARCHIVE", url)
    return url


def seed(store: SyncStore, moments: list[datetime], entity: str = "O1") -> list[dict]:
    return [
        store.append_audit(
            entity_type="opportunity", entity_id=entity, deal_id="101", system="aws", action="update_opportunity",
            source="test", actor="airflow:test", changes={"amount": {"before": str(i), "after": str(i + 1)}},
            occurred_at=moment,
        )
        for i, moment in enumerate(moments)
    ]


def test_export_writes_exactly_the_days_entries_in_order(run, archive):
    seed(run.store, [DAY - timedelta(seconds=1), DAY + timedelta(hours=5), DAY + timedelta(hours=2),
                     DAY + timedelta(hours=23, minutes=59, seconds=59), DAY + timedelta(days=1)])
    summary = export_window(run, INTERVAL)
    assert summary["path"] == f"{archive}/date=2026-03-14/part-0.jsonl.gz"
    assert summary["entries"] == 3
    entries = read_archive(summary["path"])
    assert [entry["occurred_at"] for entry in entries] == [
        "2026-03-14T02:00:00.000000Z", "2026-03-14T05:00:00.000000Z", "2026-03-14T23:59:59.000000Z",
    ]
    assert {"seq", "entry_id", "hash", "prev_hash", "changes", "actor", "success"} <= set(entries[0])
    stored = {entry["entry_id"]: entry for entry in run.store.audit_history("O1")}
    assert all(stored[entry["entry_id"]] == entry for entry in entries)  # exactly as stored


def test_file_is_compact_sorted_json_lines_in_a_reproducible_gzip(run, archive):
    seed(run.store, [DAY + timedelta(hours=3)])
    summary = export_window(run, INTERVAL)
    raw = open(summary["path"].removeprefix("file://"), "rb").read()
    assert raw[4:8] == b"\0\0\0\0"  # gzip MTIME = 0
    assert raw[3] & 0x08 == 0  # no FNAME in the header
    line = gzip.decompress(raw).decode()
    assert line.endswith("\n") and line.count("\n") == 1
    record = json.loads(line)
    assert line.rstrip("\n") == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert summary["sha256"] == hashlib.sha256(raw).hexdigest()


def test_a_rerun_produces_byte_identical_files_and_skips_the_write(run, archive):
    seed(run.store, [DAY + timedelta(hours=h) for h in range(0, 24, 3)])
    first = export_window(run, INTERVAL)
    path = first["path"].removeprefix("file://")
    before = open(path, "rb").read()
    second = export_window(run, INTERVAL)
    assert second["sha256"] == first["sha256"] and second["files"][0]["written"] is False
    # the file lost (or a fresh archive): the same bytes come back
    import os

    os.remove(path)
    third = export_window(run, INTERVAL)
    assert third["files"][0]["written"] is True
    assert open(path, "rb").read() == before


def test_a_backfill_over_many_days_produces_the_same_files_as_daily_runs(run, archive, tmp_path, monkeypatch):
    start = DAY - timedelta(days=40)
    seed(run.store, [start + timedelta(hours=7 * i) for i in range(40 * 24 // 7)])
    daily = {}
    for offset in range(40):
        interval = SyncWindow(start + timedelta(days=offset, hours=1), start + timedelta(days=offset + 1, hours=1))
        summary = export_window(run, interval)
        daily[summary["path"].rsplit("/", 2)[1]] = summary["sha256"]
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AUDIT_ARCHIVE", f"file://{tmp_path / 'backfill'}")
    backfill = export_window(run, SyncWindow(start + timedelta(hours=1), start + timedelta(days=40, hours=1)))
    assert backfill["days"] == 40
    assert {item["path"].rsplit("/", 2)[1]: item["sha256"] for item in backfill["files"]} == daily


def test_a_day_without_entries_gets_an_empty_file(run, archive):
    summary = export_window(run, INTERVAL)
    assert summary["entries"] == 0
    assert read_archive(summary["path"]) == []


def test_full_sync_is_refused_with_a_clear_error(run, archive):
    with pytest.raises(ConfError, match="full_sync"):
        export_window(run, SyncWindow(None, None, full_sync=True))


def test_the_export_leaves_every_chain_verifiable(run, archive):
    seed(run.store, [DAY + timedelta(hours=1), DAY + timedelta(hours=2)], entity="O1")
    seed(run.store, [DAY + timedelta(hours=3)], entity="R7")
    entries = read_archive(export_window(run, INTERVAL)["path"])
    assert {entry["entity_id"] for entry in entries} == {"O1", "R7"}
    assert run.store.verify_audit_chain("O1") == [] and run.store.verify_audit_chain("R7") == []


# --- S3, against moto's server -----------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_s3():
    from moto.server import ThreadedMotoServer

    from tests.airflow_harness import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_s3, monkeypatch):
    import boto3

    connection = {"conn_type": "aws", "login": "testing", "password": "testing",
                  "extra": {"endpoint_url": moto_s3, "region_name": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    monkeypatch.setenv("AIRFLOW_CONN_AUDIT_S3", json.dumps(connection))
    client = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = f"audit-{datetime.now().strftime('%H%M%S%f')}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_export_to_s3_writes_the_same_bytes_as_file(run, archive, s3_bucket, monkeypatch):
    client, bucket = s3_bucket
    seed(run.store, [DAY + timedelta(hours=h) for h in (1, 9, 17)])
    local = export_window(run, INTERVAL)
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AUDIT_ARCHIVE", f"s3://{bucket}/partner-sync/audit")
    remote = export_window(run, INTERVAL)
    assert remote["path"] == f"s3://{bucket}/partner-sync/audit/date=2026-03-14/part-0.jsonl.gz"
    body = client.get_object(Bucket=bucket, Key="partner-sync/audit/date=2026-03-14/part-0.jsonl.gz")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == remote["sha256"] == local["sha256"]
    again = export_window(run, INTERVAL)
    assert again["files"][0]["written"] is False and again["sha256"] == remote["sha256"]
    assert [e["entry_id"] for e in read_archive(remote["path"])] == [e["entry_id"] for e in read_archive(local["path"])]


def test_export_to_s3_through_a_named_connection(run, s3_bucket, monkeypatch):
    client, bucket = s3_bucket
    seed(run.store, [DAY + timedelta(hours=4)])
    monkeypatch.setenv("AIRFLOW_VAR_PARTNER_SYNC_AUDIT_ARCHIVE", f"s3://audit_s3@{bucket}/trail")
    summary = export_window(run, INTERVAL)
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["trail/date=2026-03-14/part-0.jsonl.gz"]
    assert summary["entries"] == 1


# --- the DAG -----------------------------------------------------------------------------------


def test_the_daily_dag_run_exports_the_day_before_its_run(sync_store, archive):  # noqa: F811 - fixture
    from tests.integration.dag_runner import run_dag

    seed(sync_store, [DAY + timedelta(hours=12), DAY + timedelta(days=1, hours=12)])
    result = run_dag("audit_export", logical_date=DAY + timedelta(days=1, hours=1))
    assert result.ok, result.states
    summary = result.returns["export_interval"]
    assert summary["path"] == f"{archive}/date=2026-03-14/part-0.jsonl.gz"
    assert summary["entries"] == 1
