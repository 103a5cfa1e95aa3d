"""The e2e set-up cleans up every process it starts, even when the start fails."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest

from tests.e2e.stack import LEFTOVERS, PG_HOST, PG_PORT, PG_USER, postgres_url, processes_of, running_stack

pytestmark = pytest.mark.e2e


def e2e_databases() -> set[str]:
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'psync_e2e_%'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def test_a_demo_that_cannot_start_leaves_no_process_and_no_database(tmp_path: Path) -> None:
    """The metadata DB does not exist: the sandbox is up, ``airflow db migrate`` fails, the demo
    exits; the set-up raises, and nothing it started is left running."""
    databases_before = e2e_databases()
    stack_id = uuid.uuid4().hex
    missing_db = postgres_url(f"psync_e2e_missing_{stack_id[:8]}")
    with pytest.raises(RuntimeError, match="demo command exited"):
        with running_stack(tmp_path / "airflow", demo_args=["--metadata-url", missing_db], stack_id=stack_id):
            pytest.fail("the stack started on a metadata DB that does not exist")
    assert LEFTOVERS[stack_id] == [], "the demo left processes behind (the harness killed them)"
    assert processes_of(stack_id) == []
    assert e2e_databases() - databases_before == set()
