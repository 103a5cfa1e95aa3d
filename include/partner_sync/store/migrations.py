"""Schema creation and migration for the sync store.

``schema_version`` records every applied migration; :data:`MIGRATIONS` is the ordered list.
:func:`migrate` runs the missing ones in one transaction under a database-wide lock — a
Postgres transaction-level advisory lock, SQLite's write lock (``BEGIN IMMEDIATE``) — so two
processes starting at once apply each migration exactly once and the loser simply finds the
schema current. DDL is transactional on both dialects, so a failed migration leaves nothing
half-applied.

Adding a migration: append ``(N + 1, "what it does", function)``; never edit an applied one.
Migration 1 creates the tables from :mod:`partner_sync.store.models`; a later migration that
alters a table must first freeze migration 1's definition of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from partner_sync.store import models
from partner_sync.store.database import is_postgres, write_transaction

log = logging.getLogger(__name__)

#: arbitrary constant key for pg_advisory_xact_lock ("psyncmig")
MIGRATION_LOCK_KEY = 0x7073796E636D6967

schema_version = sa.Table(
    "partner_sync_schema_version",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(256), nullable=False),
    sa.Column("applied_at", models.UTCDateTime, nullable=False),
)

_AUDIT = models.audit.name

_PG_APPEND_ONLY = [
    f"""
    CREATE OR REPLACE FUNCTION {_AUDIT}_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{_AUDIT} is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER {_AUDIT}_no_update_delete BEFORE UPDATE OR DELETE ON {_AUDIT}
    FOR EACH ROW EXECUTE FUNCTION {_AUDIT}_append_only()
    """,
    f"""
    CREATE TRIGGER {_AUDIT}_no_truncate BEFORE TRUNCATE ON {_AUDIT}
    FOR EACH STATEMENT EXECUTE FUNCTION {_AUDIT}_append_only()
    """,
]

_SQLITE_APPEND_ONLY = [
    f"""
    CREATE TRIGGER {_AUDIT}_no_update BEFORE UPDATE ON {_AUDIT}
    BEGIN SELECT RAISE(ABORT, '{_AUDIT} is append-only: UPDATE is not allowed'); END
    """,
    f"""
    CREATE TRIGGER {_AUDIT}_no_delete BEFORE DELETE ON {_AUDIT}
    BEGIN SELECT RAISE(ABORT, '{_AUDIT} is append-only: DELETE is not allowed'); END
    """,
]


def _create_tables(connection: Connection) -> None:
    models.metadata.create_all(connection, checkfirst=True)


def _make_audit_append_only(connection: Connection) -> None:
    statements = _PG_APPEND_ONLY if is_postgres(connection) else _SQLITE_APPEND_ONLY
    for statement in statements:
        connection.execute(sa.text(statement))


Migration = tuple[int, str, Callable[[Connection], None]]

MIGRATIONS: list[Migration] = [
    (1, "links, client tokens, deferred edits, conflicts, audit and chain heads", _create_tables),
    (2, "audit table append-only: triggers abort UPDATE and DELETE", _make_audit_append_only),
]


def current_version(connection: Connection) -> int:
    if not sa.inspect(connection).has_table(schema_version.name):
        return 0
    return connection.execute(sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))).scalar_one()


def migrate(engine: Engine) -> int:
    """Apply every missing migration; return the schema version (idempotent, concurrency-safe)."""
    with write_transaction(engine) as connection:
        if is_postgres(connection):
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        schema_version.create(connection, checkfirst=True)
        version = current_version(connection)
        for number, description, apply in MIGRATIONS:
            if number <= version:
                continue
            log.info("Sync store: applying migration %s (%s)", number, description)
            apply(connection)
            connection.execute(
                schema_version.insert().values(version=number, description=description, applied_at=models.utcnow())
            )
            version = number
        return version
