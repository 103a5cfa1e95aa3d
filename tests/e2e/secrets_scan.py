"""Search everything a stack wrote for the secrets it was configured with.

What counts as a secret: every value of :data:`partner_sync.sandbox.connections.SANDBOX_SECRETS`
(HubSpot token and webhook secret, Partner Center client secret and refresh token, AWS secret
key), the JWT signing key of the API server, and any access or refresh token the Partner
Center emulator issued (``pcsbx-at-…``, ``pcsbx-rt-…``: a pattern, since they are random).

Where: every file under ``$AIRFLOW_HOME/logs`` (task, DAG-processor logs) and the processes'
own logs; every row of every table of Airflow's metadata DB (XCom values, run confs and notes,
rendered fields, Airflow's event log…) and of the sync store (the audit trail, links,
conflicts); the whole state of the three emulators (deals and their notes, referrals,
opportunities).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from partner_sync.devstack import JWT_SECRET
from partner_sync.sandbox.connections import SANDBOX_SECRETS
from tests.e2e.stack import PG_HOST, PG_PORT, PG_USER, E2EStack

ISSUED_TOKEN = re.compile(r"pcsbx-(?:at|rt)-[A-Za-z0-9_\-]{16,}")
#: files in AIRFLOW_HOME that are not logs of the runs (credentials the tests themselves set)
NOT_LOGS = {"passwords.json", "airflow.cfg"}


@dataclass
class ScanReport:
    """Hits (``where: what``) and how much was searched."""

    hits: list[str] = field(default_factory=list)
    searched: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.searched[what] = self.searched.get(what, 0) + n


def configured_secrets() -> dict[str, str]:
    """The sandbox connections' secrets and the API server's JWT signing key."""
    return {**SANDBOX_SECRETS, "airflow_jwt_secret": JWT_SECRET}


def find_secrets(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets ``text`` contains (issued Partner Center tokens included)."""
    found = [name for name, value in secrets.items() if value and value in text]
    found.extend(f"issued token {match[:14]}…" for match in ISSUED_TOKEN.findall(text))
    return found


def scan_stack(stack: E2EStack) -> ScanReport:
    report = ScanReport()
    secrets = configured_secrets()
    scan_files(stack.airflow_home, secrets, report)
    scan_database(stack.metadata_db, "metadata DB", secrets, report)
    scan_database(stack.store_db, "sync store", secrets, report)
    for system in ("hubspot", "partner_center", "partner_central"):
        state = stack.sandbox.state(system)
        for collection, objects in state.items():
            report.count(f"{system} {collection}", len(objects))
            for hit in find_secrets(str(objects), secrets):
                report.hits.append(f"{system} state, {collection}: {hit}")
    return report


def scan_files(home: Path, secrets: dict[str, str], report: ScanReport) -> None:
    for folder in ("logs", "process-logs"):
        for path in sorted((home / folder).rglob("*")):
            if not path.is_file() or path.name in NOT_LOGS:
                continue
            report.count("task log files" if "dag_id=" in str(path) else "other log files")
            for hit in find_secrets(path.read_text(errors="replace"), secrets):
                report.hits.append(f"{path.relative_to(home)}: {hit}")


def scan_database(database: str, label: str, secrets: dict[str, str], report: ScanReport) -> None:
    """Every row of every table of the public schema, as JSON text."""
    import psycopg2

    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            tables = [row[0] for row in cursor.fetchall()]
            for table in tables:
                cursor.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')  # noqa: S608 - table names from pg_tables
                rows = cursor.fetchall()
                report.count(f"{label} rows", len(rows))
                if table in ("xcom", "partner_sync_audit"):
                    report.count(f"{label} {table} rows", len(rows))
                for (row,) in rows:
                    for hit in find_secrets(row, secrets):
                        report.hits.append(f"{label} table {table}: {hit}")
    finally:
        connection.close()
