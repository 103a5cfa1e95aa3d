"""Fixtures for tests of the sync store: a throwaway SQLite file, a throwaway Postgres database.

Postgres comes from ``PARTNER_SYNC_TEST_POSTGRES`` (an admin URL; default the machine's
``postgresql://postgres@127.0.0.1:5432/test``). Each use creates a database with a random
name and drops it afterwards; tests are skipped when the server is unreachable. Import the
fixtures into a test module (``from tests.integration.store_fixtures import *``-style, by
name) to use them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from partner_sync.store.database import dispose_engine

POSTGRES_ADMIN_URL = os.environ.get(
    "PARTNER_SYNC_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no usable server"
        return False


@contextmanager
def fresh_postgres_database(prefix: str = "partner_sync_test") -> Iterator[str]:
    """A new, empty Postgres database (URL yielded), dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One fresh Postgres database for the whole test module."""
    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}")
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:
    """A fresh SQLite file per test."""
    url = f"sqlite:///{tmp_path / 'partner_sync.db'}"
    yield url
    dispose_engine(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request) -> str:
    """Each test twice: on SQLite and on Postgres."""
    return request.getfixturevalue(f"{request.param}_url")
