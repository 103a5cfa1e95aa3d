"""Tables of the sync store (SQLAlchemy Core) and the frozen records the store hands out.

Records are plain frozen dataclasses built from rows, so no ORM object, session or connection
ever leaves the store. Every timestamp is an aware UTC datetime on the way in and out, on
SQLite (which keeps no zone) as on Postgres.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

SYSTEMS = ("aws", "microsoft")
AUDIT_SYSTEMS = ("hubspot", "aws", "microsoft")
AUDIT_ENTITY_TYPES = ("deal", "opportunity", "referral", "contact", "company", "conflict")
TOKEN_RESERVED, TOKEN_COMPLETED = "reserved", "completed"
CONFLICT_PENDING, CONFLICT_RESOLVED = "pending", "resolved"
RESOLUTIONS = ("hubspot", "partner", "custom")

metadata = sa.MetaData()


class UTCDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every dialect (SQLite stores it naive, as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only accepts aware datetimes")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


links = sa.Table(
    "partner_sync_links",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("deal_id", sa.String(64), nullable=False),
    sa.Column("partner_id", sa.String(128), nullable=False),
    sa.Column("snapshot", sa.JSON, nullable=False, default=dict),
    sa.Column("partner_version", sa.String(128)),
    sa.Column("version", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_synced_at", UTCDateTime),
    sa.UniqueConstraint("system", "deal_id", name="uq_partner_sync_links_deal"),
    sa.UniqueConstraint("system", "partner_id", name="uq_partner_sync_links_partner"),
)

client_tokens = sa.Table(
    "partner_sync_client_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("deal_id", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(128), nullable=False),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result_id", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.UniqueConstraint("system", "deal_id", "operation", name="uq_partner_sync_client_tokens"),
)

deferred_edits = sa.Table(
    "partner_sync_deferred_edits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("deal_id", sa.String(64), nullable=False),
    sa.Column("partner_id", sa.String(128), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("system", "deal_id", name="uq_partner_sync_deferred_edits"),
)

conflicts = sa.Table(
    "partner_sync_conflicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("deal_id", sa.String(64), nullable=False),
    sa.Column("partner_id", sa.String(128)),
    sa.Column("field", sa.String(128), nullable=False),
    sa.Column("base_value", sa.JSON),
    sa.Column("hubspot_value", sa.JSON),
    sa.Column("partner_value", sa.JSON),
    sa.Column("hubspot_changed_at", UTCDateTime),
    sa.Column("partner_changed_at", UTCDateTime),
    sa.Column("hubspot_changed_by", sa.String(256)),
    sa.Column("partner_changed_by", sa.String(256)),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("resolution", sa.String(16)),
    sa.Column("resolved_value", sa.JSON),
    sa.Column("resolved_by", sa.String(256)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    # at most one pending conflict per (system, deal, field): add_conflict updates it
    sa.Index(
        "uq_partner_sync_conflicts_pending",
        "system",
        "deal_id",
        "field",
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    sa.Index("ix_partner_sync_conflicts_status", "status", "deal_id"),
)

audit = sa.Table(
    "partner_sync_audit",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
    sa.Column("entity_type", sa.String(32), nullable=False),
    sa.Column("entity_id", sa.String(128), nullable=False),
    sa.Column("deal_id", sa.String(64)),
    sa.Column("system", sa.String(16), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("source", sa.String(128), nullable=False),
    sa.Column("actor", sa.String(256), nullable=False),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("dag_run_id", sa.String(256)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_partner_sync_audit_entity", "entity_id", "seq"),
    sa.Index("ix_partner_sync_audit_deal", "deal_id", "seq"),
    sa.Index("ix_partner_sync_audit_occurred", "occurred_at", "seq"),
)

#: the head of each entity's hash chain; locked FOR UPDATE while appending to that entity
audit_heads = sa.Table(
    "partner_sync_audit_heads",
    metadata,
    sa.Column("entity_id", sa.String(128), primary_key=True),
    sa.Column("last_seq", sa.Integer),
    sa.Column("last_hash", sa.String(64), nullable=False, default=""),
)


@dataclass(frozen=True)
class Link:
    """A HubSpot deal linked to one partner-side record (opportunity or referral)."""

    system: str
    deal_id: str
    partner_id: str
    snapshot: dict[str, Any] = field(default_factory=dict)
    partner_version: str | None = None
    version: int = 0
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    last_synced_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> Link:
        return cls(
            system=row.system,
            deal_id=row.deal_id,
            partner_id=row.partner_id,
            snapshot=dict(row.snapshot or {}),
            partner_version=row.partner_version,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_synced_at=row.last_synced_at,
        )


@dataclass(frozen=True)
class ClientToken:
    """An idempotency token reserved for one operation on one deal."""

    system: str
    deal_id: str
    operation: str
    token: str
    status: str
    result_id: str | None = None
    created_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None

    @property
    def completed(self) -> bool:
        return self.status == TOKEN_COMPLETED

    @classmethod
    def from_row(cls, row: Row) -> ClientToken:
        return cls(
            system=row.system,
            deal_id=row.deal_id,
            operation=row.operation,
            token=row.token,
            status=row.status,
            result_id=row.result_id,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )


@dataclass(frozen=True)
class DeferredEdit:
    """Field edits held while the partner record is locked (e.g. an opportunity in review).

    ``revision`` grows with every merge; pass it to ``clear_deferred_edit`` so an edit
    deferred while the replay ran is not cleared with it.
    """

    system: str
    deal_id: str
    partner_id: str
    fields: dict[str, Any]
    revision: int
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> DeferredEdit:
        return cls(
            system=row.system,
            deal_id=row.deal_id,
            partner_id=row.partner_id,
            fields=dict(row.fields or {}),
            revision=row.revision,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True)
class Conflict:
    """A field both sides changed to different values since the last sync."""

    id: int
    system: str
    deal_id: str
    partner_id: str | None
    field: str
    base_value: Any
    hubspot_value: Any
    partner_value: Any
    hubspot_changed_at: dt.datetime | None
    partner_changed_at: dt.datetime | None
    hubspot_changed_by: str | None
    partner_changed_by: str | None
    strategy: str
    status: str
    resolution: str | None
    resolved_value: Any
    resolved_by: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    resolved_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: Row) -> Conflict:
        return cls(**{column.name: row._mapping[column.name] for column in conflicts.columns})

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO-8601 UTC strings."""
        return {key: iso(value) if isinstance(value, dt.datetime) else value for key, value in asdict(self).items()}


def iso(moment: dt.datetime | None) -> str | None:
    """ISO-8601 UTC with microseconds and a ``Z`` (the audit's canonical datetime format)."""
    if moment is None:
        return None
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
