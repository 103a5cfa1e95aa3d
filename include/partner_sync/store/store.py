"""``SyncStore``: the package's own database (links, snapshots, tokens, conflicts, audit).

Open it with ``SyncStore.from_connection()`` inside a task: the ``partner_sync_db`` Airflow
connection names the database (SQLite file by default, Postgres in compose and CI). The schema
is created or migrated on first use in each process. Every method is one short transaction on
a pooled connection; nothing (session, cursor, ORM object) outlives a call.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy.engine import URL, Engine

from partner_sync.store.audit import AuditLog
from partner_sync.store.conflict_queue import ConflictQueue
from partner_sync.store.database import get_engine, normalise_url
from partner_sync.store.links import LinkStore
from partner_sync.store.migrations import migrate
from partner_sync.store.reservations import ReservationStore

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "partner_sync_db"
DEFAULT_FILENAME = "partner_sync.db"

_migrated: set[tuple[int, str]] = set()
_migrated_lock = threading.Lock()


def default_url() -> str:
    """SQLite file ``$AIRFLOW_HOME/partner_sync.db``."""
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"sqlite:///{os.path.join(os.path.abspath(home), DEFAULT_FILENAME)}"


def url_from_connection(conn_id: str = DEFAULT_CONN_ID) -> str:
    """The SQLAlchemy URL the Airflow connection ``conn_id`` describes (default when undefined).

    Accepted forms: extra ``{"url": "<sqlalchemy url>"}`` (how to give a SQLite path); a
    Postgres connection (``postgres://`` / ``postgresql://`` URI or JSON with host, login,
    schema …; psycopg2 driver); ``sqlite:////abs/path.db``; any other SQLAlchemy URI.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("Connection %s is not defined: using the default SQLite store", conn_id)
        return default_url()
    extra = connection.extra_dejson or {}
    if extra.get("url"):
        return normalise_url(str(extra["url"]))
    conn_type = (connection.conn_type or "").lower()
    if conn_type.split("+", 1)[0] in ("postgres", "postgresql"):
        driver = conn_type.split("+", 1)[1] if "+" in conn_type else "psycopg2"
        query = {key: str(value) for key, value in extra.items() if isinstance(value, (str, int))}
        return URL.create(
            f"postgresql+{driver}",
            username=connection.login or None,
            password=connection.password or None,
            host=connection.host or None,
            port=connection.port or None,
            database=connection.schema or None,
            query=query,
        ).render_as_string(hide_password=False)
    if conn_type == "sqlite":
        path = connection.host or connection.schema
        return f"sqlite:///{path}" if path else default_url()
    return normalise_url(connection.get_uri())


class SyncStore(LinkStore, ReservationStore, ConflictQueue, AuditLog):
    """The sync store over one database URL (engines cached per URL and process)."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine: Engine = get_engine(self.url)
        self._ensure_schema()

    @classmethod
    def from_connection(cls, conn_id: str = DEFAULT_CONN_ID) -> SyncStore:
        return cls(url_from_connection(conn_id))

    def __repr__(self) -> str:
        return f"SyncStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def _ensure_schema(self) -> None:
        key = (os.getpid(), self.url)
        if key in _migrated:
            return
        with _migrated_lock:
            if key not in _migrated:
                version = migrate(self.engine)
                log.debug("Sync store %r at schema version %s", self, version)
                _migrated.add(key)
