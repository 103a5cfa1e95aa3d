"""The sync store on SQLite and on Postgres: links, tokens, deferred edits, conflicts, audit,
schema migration and the ``partner_sync_db`` connection.

The Postgres database is shared by the tests of this module, so every test works on ids of
its own (``uid``) and never counts rows it did not write.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from partner_sync.store import (
    REDACTED,
    ConflictStateError,
    LinkConflictError,
    LinkNotFoundError,
    StaleVersionError,
    SyncStore,
    client_token_for,
    default_url,
)
from partner_sync.store.audit import entry_hash
from partner_sync.store.database import create_engine
from partner_sync.store.migrations import MIGRATIONS, migrate, schema_version
from partner_sync.store.models import audit, iso
from tests.integration.store_fixtures import (  # noqa: F401 - fixtures
    fresh_postgres_database,
    postgres_available,
    postgres_url,
    sqlite_url,
    store_url,
)

UTC = dt.timezone.utc


@pytest.fixture
def store(store_url) -> SyncStore:
    return SyncStore(store_url)


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


def _run_in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)

    def run(index: int):
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


# --- links -----------------------------------------------------------------------------------


def test_upsert_link_is_idempotent(store, uid):
    first = store.upsert_link("aws", f"d{uid}", f"O{uid}", snapshot={"amount": "10"})
    again = store.upsert_link("aws", f"d{uid}", f"O{uid}")
    assert again.partner_id == first.partner_id == f"O{uid}"
    assert again.snapshot == {"amount": "10"}
    assert again.created_at == first.created_at
    assert store.get_link("aws", partner_id=f"O{uid}") == store.get_link("aws", deal_id=f"d{uid}")


def test_upsert_link_merges_snapshot_and_partner_version(store, uid):
    store.upsert_link("aws", f"d{uid}", f"O{uid}", snapshot={"amount": "10"})
    link = store.upsert_link("aws", f"d{uid}", f"O{uid}", snapshot={"dealstage": "x"}, partner_version="v2")
    assert link.snapshot == {"amount": "10", "dealstage": "x"}
    assert link.partner_version == "v2"


def test_a_deal_links_to_one_partner_record_per_system(store, uid):
    store.upsert_link("aws", f"d{uid}", f"O{uid}")
    with pytest.raises(LinkConflictError, match="the deal is linked to"):
        store.upsert_link("aws", f"d{uid}", f"O{uid}x")
    with pytest.raises(LinkConflictError, match="is linked to deal"):
        store.upsert_link("aws", f"d{uid}x", f"O{uid}")
    assert store.upsert_link("microsoft", f"d{uid}", f"R{uid}").system == "microsoft"


def test_concurrent_upserts_make_one_link(store, uid):
    links = _run_in_threads(8, lambda _: store.upsert_link("aws", f"d{uid}", f"O{uid}"))
    assert {link.partner_id for link in links} == {f"O{uid}"}
    assert len({link.created_at for link in links}) == 1
    assert len(store.links_for_deals("aws", [f"d{uid}"])) == 1


def test_bulk_upsert_and_lookup_of_10000_links(store, uid):
    entries = [(f"d{uid}-{n}", f"R{uid}-{n}", {"amount": str(n)}, f"etag-{n}") for n in range(10_000)]
    started = time.monotonic()
    stored = store.upsert_links("microsoft", entries)
    found = store.links_for_partners("microsoft", [partner for _, partner, _, _ in entries] + ["unknown"])
    elapsed = time.monotonic() - started
    assert len(stored) == len(found) == 10_000
    assert found[f"R{uid}-42"].deal_id == f"d{uid}-42"
    assert found[f"R{uid}-42"].snapshot == {"amount": "42"}
    assert elapsed < 30, f"10k links took {elapsed:.1f}s"


def test_bulk_upsert_is_all_or_nothing(store, uid):
    store.upsert_link("aws", f"d{uid}-taken", f"O{uid}-taken")
    with pytest.raises(LinkConflictError):
        store.upsert_links("aws", [(f"d{uid}-new", f"O{uid}-new"), (f"d{uid}-other", f"O{uid}-taken")])
    assert store.get_link("aws", deal_id=f"d{uid}-new") is None


def test_all_links_iterates_every_link_of_a_system(store, uid):
    store.upsert_links("aws", [(f"d{uid}-{n}", f"O{uid}-{n}") for n in range(1200)])
    mine = [link for link in store.all_links("aws") if link.deal_id.startswith(f"d{uid}-")]
    assert len(mine) == 1200


def test_record_sync_merges_snapshot_and_bumps_version(store, uid):
    store.upsert_link("aws", f"d{uid}", f"O{uid}", snapshot={"amount": "10", "closedate": "2026-12-31"})
    link = store.record_sync("aws", f"d{uid}", {"amount": "20"}, "2026-01-01T00:00:00Z", bump_version=True)
    assert link.snapshot == {"amount": "20", "closedate": "2026-12-31"}
    assert (link.version, link.partner_version) == (1, "2026-01-01T00:00:00Z")
    assert link.last_synced_at is not None
    unchanged = store.record_sync("aws", f"d{uid}", None, None, bump_version=False)
    assert unchanged.version == 1 and unchanged.partner_version == "2026-01-01T00:00:00Z"


def test_record_sync_with_a_stale_expected_version_fails(store, uid):
    store.upsert_link("aws", f"d{uid}", f"O{uid}")
    store.record_sync("aws", f"d{uid}", {}, None, bump_version=True, expected_version=0)
    with pytest.raises(StaleVersionError):
        store.record_sync("aws", f"d{uid}", {}, None, bump_version=True, expected_version=0)
    with pytest.raises(LinkNotFoundError):
        store.record_sync("aws", f"nope{uid}", {}, None, bump_version=True)


# --- client tokens and deferred edits ------------------------------------------------------------


def test_client_token_is_stable_until_completed_and_after(store, uid):
    token = store.reserve_client_token("aws", f"d{uid}", "create_opportunity")
    assert store.reserve_client_token("aws", f"d{uid}", "create_opportunity") == token
    assert token == client_token_for("aws", f"d{uid}", "create_opportunity")
    assert token != store.reserve_client_token("aws", f"d{uid}", "start_engagement")
    pending = {(t.deal_id, t.operation) for t in store.pending_client_tokens("aws")}
    assert (f"d{uid}", "create_opportunity") in pending
    completed = store.complete_client_token("aws", f"d{uid}", "create_opportunity", f"O{uid}")
    assert (completed.token, completed.result_id, completed.completed) == (token, f"O{uid}", True)
    assert (f"d{uid}", "create_opportunity") not in {(t.deal_id, t.operation) for t in store.pending_client_tokens()}
    assert store.reserve_client_token("aws", f"d{uid}", "create_opportunity") == token
    assert store.get_client_token("aws", f"d{uid}", "create_opportunity").result_id == f"O{uid}"


def test_concurrent_reservations_share_one_token(store, uid):
    tokens = _run_in_threads(6, lambda _: store.reserve_client_token("aws", f"d{uid}", "create_opportunity"))
    assert len(set(tokens)) == 1


def test_deferred_edits_merge_and_clear_by_revision(store, uid):
    store.defer_edit("aws", f"d{uid}", f"O{uid}", {"amount": "10", "closedate": "2026-12-31"})
    merged = store.defer_edit("aws", f"d{uid}", f"O{uid}", {"amount": "20"})
    assert merged.fields == {"amount": "20", "closedate": "2026-12-31"}
    assert merged.revision == 2
    assert [e.fields for e in store.pending_deferred_edits("aws") if e.deal_id == f"d{uid}"] == [merged.fields]
    store.defer_edit("aws", f"d{uid}", f"O{uid}", {"dealstage": "won"})  # arrives during the replay
    assert store.clear_deferred_edit("aws", f"d{uid}", revision=merged.revision) is False
    assert store.clear_deferred_edit("aws", f"d{uid}") is True
    assert all(e.deal_id != f"d{uid}" for e in store.pending_deferred_edits("aws"))


# --- conflicts ---------------------------------------------------------------------------------


def test_conflict_lifecycle(store, uid):
    at = dt.datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = store.add_conflict("aws", f"d{uid}", f"O{uid}", "amount", "10", "20", "30", hubspot_changed_at=at)
    again = store.add_conflict("aws", f"d{uid}", f"O{uid}", "amount", "10", "25", "30", partner_changed_by="pc-user")
    assert again.id == first.id and again.hubspot_value == "25" and again.partner_changed_by == "pc-user"
    listed = store.list_conflicts(deal_id=f"d{uid}")
    assert [(c["id"], c["status"], c["field"]) for c in listed] == [(first.id, "pending", "amount")]
    json.dumps(listed)  # JSON-ready
    resolved = store.resolve_conflict(first.id, "custom", "22", "alice@example.com")
    assert (resolved.status, resolved.resolution, resolved.resolved_value) == ("resolved", "custom", "22")
    assert resolved.resolved_at is not None
    with pytest.raises(ConflictStateError, match="already resolved"):
        store.resolve_conflict(first.id, "hubspot", "25", "bob")
    assert store.list_conflicts(deal_id=f"d{uid}") == []
    assert [c["id"] for c in store.list_conflicts(status="resolved", deal_id=f"d{uid}")] == [first.id]
    newer = store.add_conflict("aws", f"d{uid}", f"O{uid}", "amount", "22", "23", "24")
    assert newer.id != first.id and store.get_conflict(first.id).resolved_value == "22"


def test_a_conflict_settled_by_strategy_is_recorded_resolved(store, uid):
    pending = store.add_conflict("aws", f"d{uid}", f"O{uid}", "closedate", "a", "b", "c")
    settled = store.add_conflict(
        "aws", f"d{uid}", f"O{uid}", "closedate", "a", "b", "c",
        strategy="HUBSPOT_WINS", resolution="hubspot", resolved_value="b", resolved_by="strategy:HUBSPOT_WINS",
    )
    assert settled.id == pending.id and settled.status == "resolved"
    with pytest.raises(ConflictStateError, match="does not exist"):
        store.resolve_conflict(10**9, "hubspot", None, "x")


def test_concurrent_add_conflict_keeps_one_pending(store, uid):
    _run_in_threads(6, lambda n: store.add_conflict("aws", f"d{uid}", None, "amount", "1", str(n), "x"))
    assert len(store.list_conflicts(deal_id=f"d{uid}")) == 1


# --- audit ----------------------------------------------------------------------------------------


def _append(store, entity_id, **overrides):
    arguments = {
        "entity_type": "opportunity",
        "entity_id": entity_id,
        "system": "aws",
        "action": "update_opportunity",
        "source": "hubspot_deal_sync",
        "actor": "airflow:hubspot_deal_sync",
        "changes": {"amount": {"before": "10", "after": "20"}},
    }
    return store.append_audit(**{**arguments, **overrides})


def test_audit_append_and_history(store, uid):
    created = _append(store, f"O{uid}", action="create_opportunity", deal_id=f"d{uid}", dag_run_id="manual__1")
    _append(store, f"d{uid}", entity_type="deal", system="hubspot", action="update_deal")
    _append(store, f"O{uid}", success=False, error="ValidationException")
    history = store.audit_history(f"d{uid}")
    assert [e["action"] for e in history] == ["create_opportunity", "update_deal"]
    assert history[0] == created
    assert [e["success"] for e in store.audit_history(f"O{uid}")] == [True, False]
    assert store.verify_audit_chain(f"O{uid}") == []
    with pytest.raises(ValueError):
        _append(store, f"O{uid}", entity_type="invoice")


@pytest.mark.parametrize("statement", ["UPDATE {t} SET action = 'forged'", "DELETE FROM {t}"])
def test_the_database_refuses_to_change_audit_rows(store, uid, statement):
    _append(store, f"O{uid}")
    with pytest.raises(DBAPIError, match="append-only"):
        with store.engine.begin() as connection:
            connection.execute(sa.text(statement.format(t=audit.name) + " WHERE entity_id = :e"), {"e": f"O{uid}"})
    assert len(store.audit_history(f"O{uid}")) == 1


def test_tampering_is_detected(store, uid):
    entries = [_append(store, f"O{uid}", changes={"amount": {"before": n, "after": n + 1}}) for n in range(4)]
    seqs = [entry["seq"] for entry in entries]
    with store.engine.begin() as connection:  # as the table owner / superuser, around the triggers
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"ALTER TABLE {audit.name} DISABLE TRIGGER USER"))
        else:
            connection.execute(sa.text(f"DROP TRIGGER {audit.name}_no_update"))
            connection.execute(sa.text(f"DROP TRIGGER {audit.name}_no_delete"))
        connection.execute(audit.update().where(audit.c.seq == seqs[1]).values(actor="mallory"))
        connection.execute(audit.delete().where(audit.c.seq == seqs[3]))
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"ALTER TABLE {audit.name} ENABLE TRIGGER USER"))
    assert store.verify_audit_chain(f"O{uid}") == [seqs[1], seqs[3]]


def test_a_forged_row_is_detected(store, uid):
    genuine = _append(store, f"O{uid}")
    forged = {**genuine, "entry_id": str(uuid.uuid4()), "action": "delete_opportunity", "prev_hash": genuine["hash"]}
    forged.pop("seq")
    forged["occurred_at"] = dt.datetime.now(UTC)
    forged["hash"] = "0" * 64
    with store.engine.begin() as connection:
        seq = connection.execute(audit.insert().values(**forged)).inserted_primary_key[0]
    assert store.verify_audit_chain(f"O{uid}") == [seq]


def test_a_row_forged_with_a_valid_hash_is_detected(store, uid):
    genuine = _append(store, f"O{uid}")
    forged = {key: value for key, value in genuine.items() if key != "seq"}
    forged.update(entry_id=str(uuid.uuid4()), action="delete_opportunity", prev_hash=genuine["hash"])
    forged["hash"] = entry_hash(genuine["hash"], forged)
    forged["occurred_at"] = dt.datetime.now(UTC)
    with store.engine.begin() as connection:
        seq = connection.execute(audit.insert().values(**forged)).inserted_primary_key[0]
    assert store.verify_audit_chain(f"O{uid}") == [seq]


def test_bulk_append_chains_like_single_appends(store, uid):
    _append(store, f"O{uid}")  # an existing chain is continued
    entry = {"entity_type": "opportunity", "system": "aws", "action": "update_opportunity",
             "source": "hubspot_deal_sync", "actor": "airflow:hubspot_deal_sync"}
    written = store.append_audits([
        {**entry, "entity_id": f"O{uid}", "changes": {"amount": {"before": "20", "after": "30"}}},
        {**entry, "entity_id": f"P{uid}", "deal_id": f"d{uid}", "changes": {"token": {"before": None, "after": "s3cret"}}},
        {**entry, "entity_id": f"O{uid}", "success": False, "error": "ValidationException"},
    ])
    history = store.audit_history(f"O{uid}")
    assert [e["seq"] for e in history[1:]] == [written[0]["seq"], written[2]["seq"]]
    assert history[1:] == [written[0], written[2]]
    assert [e["prev_hash"] for e in history[1:]] == [e["hash"] for e in history[:-1]]
    assert store.verify_audit_chain(f"O{uid}") == [] and store.verify_audit_chain(f"P{uid}") == []
    assert written[1]["changes"]["token"] == REDACTED
    _append(store, f"P{uid}")  # a single append after a bulk one continues the chain
    assert store.verify_audit_chain(f"P{uid}") == []


def test_bulk_append_is_all_or_nothing(store, uid):
    entry = {"entity_id": f"O{uid}", "system": "aws", "action": "update_opportunity",
             "source": "hubspot_deal_sync", "actor": "airflow:hubspot_deal_sync"}
    with pytest.raises(ValueError):
        store.append_audits([{**entry, "entity_type": "opportunity"}, {**entry, "entity_type": "invoice"}])
    assert store.audit_history(f"O{uid}") == []
    assert store.append_audits([]) == []


def test_concurrent_bulk_appends_keep_one_chain_per_entity(store, uid):
    def append(n: int) -> None:
        store.append_audits([
            {"entity_type": "opportunity", "entity_id": f"O{uid}-{i % 3}", "system": "aws", "action": "update_opportunity",
             "source": "hubspot_deal_sync", "actor": "airflow:hubspot_deal_sync", "changes": {"n": {"before": n, "after": i}}}
            for i in range(6)
        ])

    _run_in_threads(6, append)
    for index in range(3):
        assert len(store.audit_history(f"O{uid}-{index}")) == 12
        assert store.verify_audit_chain(f"O{uid}-{index}") == []


def test_concurrent_appends_to_one_entity_keep_one_chain(store, uid):
    _run_in_threads(8, lambda n: [_append(store, f"O{uid}", changes={"n": {"before": n, "after": i}}) for i in range(5)])
    history = store.audit_history(f"O{uid}")
    assert len(history) == 40
    assert store.verify_audit_chain(f"O{uid}") == []
    assert [e["prev_hash"] for e in history[1:]] == [e["hash"] for e in history[:-1]]


def test_iter_audit_is_half_open_and_ordered(store, uid):
    start = dt.datetime(1990 + int(uid[:4], 16) % 30, 1, 1, tzinfo=UTC)  # a window of this test's own
    at = [start + dt.timedelta(seconds=n) for n in (-1, 0, 1, 2)]
    for moment in (at[2], at[0], at[1], at[3], at[1]):
        _append(store, f"O{uid}", occurred_at=moment)
    window = [e for e in store.iter_audit(start, at[3]) if e["entity_id"] == f"O{uid}"]
    assert [e["occurred_at"] for e in window] == [iso(at[1]), iso(at[1]), iso(at[2])]
    assert window[0]["seq"] < window[1]["seq"]


def test_secrets_are_redacted_before_storing(store, uid):
    entry = _append(
        store,
        f"O{uid}",
        changes={
            "amount": {"before": "1", "after": "2"},
            "hubspot_token": {"before": None, "after": "pat-123"},
            "payload": {"headers": {"Authorization": "Bearer abc", "X-Trace": "t1"}, "client_secret": "s3cr3t"},
        },
        error="401 for Bearer pat-123 with password=hunter2",
    )
    stored = store.audit_history(f"O{uid}")[0]
    assert stored == entry
    assert stored["changes"]["hubspot_token"] == REDACTED
    assert stored["changes"]["payload"]["headers"] == {"Authorization": REDACTED, "X-Trace": "t1"}
    assert stored["changes"]["payload"]["client_secret"] == REDACTED
    assert "pat-123" not in json.dumps(stored) and "hunter2" not in stored["error"]


# --- schema and connections --------------------------------------------------------------------


def _fresh_database(kind: str, tmp_path):
    if kind == "sqlite":
        return _nullcontext(f"sqlite:///{tmp_path / 'fresh.db'}")
    if not postgres_available():
        pytest.skip("PostgreSQL not reachable")
    return fresh_postgres_database()


class _nullcontext:
    def __init__(self, value: str) -> None:
        self.value = value

    def __enter__(self) -> str:
        return self.value

    def __exit__(self, *exc) -> None:
        return None


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_concurrent_schema_creation_applies_each_migration_once(kind, tmp_path):
    with _fresh_database(kind, tmp_path) as url:
        engines = [create_engine(url) for _ in range(4)]  # four "processes"
        try:
            versions = _run_in_threads(4, lambda n: migrate(engines[n]))
            assert versions == [MIGRATIONS[-1][0]] * 4
            assert migrate(engines[0]) == MIGRATIONS[-1][0]
            with engines[0].connect() as connection:
                applied = connection.execute(sa.select(schema_version.c.version)).scalars().all()
            assert sorted(applied) == [number for number, _, _ in MIGRATIONS]
        finally:
            for engine in engines:
                engine.dispose()
        assert SyncStore(url).upsert_link("aws", "1", "O1").deal_id == "1"


@pytest.mark.postgres
def test_from_connection_with_a_postgres_uri(monkeypatch, postgres_url):
    plain = postgres_url.replace("postgresql+psycopg2://", "postgres://")
    monkeypatch.setenv("AIRFLOW_CONN_PARTNER_SYNC_DB", plain)
    store = SyncStore.from_connection()
    assert store.engine.url.drivername == "postgresql+psycopg2"
    assert store.engine.url.database == sa.engine.make_url(postgres_url).database
    assert store.upsert_link("aws", "pg-conn", "O-pg-conn").partner_id == "O-pg-conn"


def test_from_connection_with_a_url_in_extra(monkeypatch, tmp_path):
    path = tmp_path / "from-extra.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNER_SYNC_DB", json.dumps({"conn_type": "sqlite", "extra": {"url": f"sqlite:///{path}"}})
    )
    SyncStore.from_connection().upsert_link("aws", "1", "O1")
    assert path.exists()


def test_from_connection_defaults_to_sqlite_in_airflow_home(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_PARTNER_SYNC_DB", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    store = SyncStore.from_connection()
    assert store.url == default_url() == f"sqlite:///{tmp_path / 'partner_sync.db'}"
    store.upsert_link("aws", "1", "O1")
    assert (tmp_path / "partner_sync.db").exists()
