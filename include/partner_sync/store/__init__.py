"""The sync store: links, last-synced snapshots, client tokens, deferred edits, conflicts, audit.

``SyncStore.from_connection()`` (connection ``partner_sync_db``) or ``SyncStore(url)``.
"""

from __future__ import annotations

from partner_sync.store.audit import REDACTED, redact
from partner_sync.store.conflict_queue import ConflictStateError
from partner_sync.store.links import LinkConflictError, LinkNotFoundError, StaleVersionError
from partner_sync.store.models import (
    AUDIT_ENTITY_TYPES,
    AUDIT_SYSTEMS,
    RESOLUTIONS,
    SYSTEMS,
    ClientToken,
    Conflict,
    DeferredEdit,
    Link,
)
from partner_sync.store.reservations import client_token_for
from partner_sync.store.store import DEFAULT_CONN_ID, SyncStore, default_url, url_from_connection

__all__ = [
    "AUDIT_ENTITY_TYPES",
    "AUDIT_SYSTEMS",
    "DEFAULT_CONN_ID",
    "REDACTED",
    "RESOLUTIONS",
    "SYSTEMS",
    "ClientToken",
    "Conflict",
    "ConflictStateError",
    "DeferredEdit",
    "Link",
    "LinkConflictError",
    "LinkNotFoundError",
    "StaleVersionError",
    "SyncStore",
    "client_token_for",
    "default_url",
    "redact",
    "url_from_connection",
]
