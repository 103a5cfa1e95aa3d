"""Engines for the sync store: URL normalisation, one cached engine per URL per process, and
short read / write transactions that behave the same on SQLite and Postgres.

SQLite: the pysqlite driver's implicit transactions are switched off so SQLAlchemy's BEGIN is
the real one, write transactions start with ``BEGIN IMMEDIATE`` (the database write lock, so a
read-modify-write cannot interleave with another process), the journal is WAL and writers wait
up to 30 s for the lock. Postgres: psycopg2, pre-ping, row locks and advisory locks where the
callers ask for them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

_WRITE_OPTION = "partner_sync_write"
_engines: dict[str, tuple[int, Engine]] = {}
_engines_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Map Airflow's ``postgres://`` (and a driverless ``postgresql://``) to psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    elif parsed.drivername.startswith("postgres+"):
        parsed = parsed.set(drivername="postgresql+" + parsed.drivername.split("+", 1)[1])
    return parsed.render_as_string(hide_password=False)


def get_engine(url: str) -> Engine:
    """The process's engine for ``url`` (a fresh one after a fork: pools never cross processes)."""
    url = normalise_url(url)
    with _engines_lock:
        cached = _engines.get(url)
        if cached is not None and cached[0] == os.getpid():
            return cached[1]
        if cached is not None:
            cached[1].dispose(close=False)
        engine = create_engine(url)
        _engines[url] = (os.getpid(), engine)
        return engine


def create_engine(url: str) -> Engine:
    """A new engine configured for the store (not cached; tests use it to act as a second process)."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One short write transaction (on SQLite it holds the write lock from its first statement)."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection, connection.begin():
        yield connection


def is_postgres(connection: Connection | Engine) -> bool:
    return connection.dialect.name == "postgresql"


def insert_ignoring_duplicates(table: sa.Table, rows: Sequence[dict[str, Any]] | dict[str, Any], dialect: str) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` (any unique constraint) for SQLite and Postgres."""
    if dialect == "postgresql":
        return postgresql.insert(table).values(rows).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).values(rows).on_conflict_do_nothing()
    raise NotImplementedError(f"the sync store supports SQLite and PostgreSQL, not {dialect}")


def insert_many_ignoring_duplicates(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`insert_ignoring_duplicates` for many rows, as one executemany: the statement is
    compiled once per process, where a multi-row ``VALUES`` is compiled anew on every call
    (about 30 ms for a hundred rows, most of a bulk link write)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"the sync store supports SQLite and PostgreSQL, not {dialect}")
    connection.execute(statement, list(rows))


def chunked(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dispose_engine(url: str) -> None:
    """Close and forget the cached engine of ``url`` (before dropping its database)."""
    with _engines_lock:
        cached = _engines.pop(normalise_url(url), None)
    if cached is not None:
        cached[1].dispose()
