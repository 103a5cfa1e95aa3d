"""The audit trail: an append-only, hash-chained record of every write to any system.

Every entry's ``hash`` is ``sha256(prev_hash + canonical JSON of its content)``, chained per
``entity_id`` (an opportunity, referral, deal… id): editing, reordering or deleting an entry
breaks the chain, and :meth:`AuditLog.verify_audit_chain` names where. The chain head of each
entity lives in ``partner_sync_audit_heads`` and is locked ``FOR UPDATE`` (SQLite: the database
write lock) while appending, so concurrent appends for one entity still form one chain. The
database itself refuses UPDATE and DELETE on the audit table (triggers, see
:mod:`partner_sync.store.migrations`).

Secrets never reach the table: values under keys that look like a token, secret, password,
authorization or API key are replaced by ``***``, and bearer tokens in error text are masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from partner_sync.store.database import (
    chunked,
    insert_ignoring_duplicates,
    insert_many_ignoring_duplicates,
    read_transaction,
    write_transaction,
)
from partner_sync.store.models import AUDIT_ENTITY_TYPES, AUDIT_SYSTEMS, audit, audit_heads, iso, utcnow

REDACTED = "***"
_SECRET_KEY = re.compile(r"token|secret|passw|authori[sz]ation|api[_-]?key|credential", re.IGNORECASE)
_SECRET_TEXT = re.compile(
    r"(?i)(bearer\s+|(?:token|secret|password|api[_-]?key|authorization)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"
)
#: the content that is hashed, in this order of importance (the JSON is key-sorted anyway)
HASHED_FIELDS = (
    "entry_id",
    "entity_type",
    "entity_id",
    "deal_id",
    "system",
    "occurred_at",
    "action",
    "source",
    "actor",
    "changes",
    "success",
    "error",
    "dag_run_id",
)
PAGE = 1000
#: chain heads per multi-row INSERT / ``IN (...)``: under SQLite's and Postgres' parameter limits
HEADS_CHUNK = 500


def redact(value: Any) -> Any:
    """A copy of ``value`` with the values of secret-looking keys replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            str(key): REDACTED if _SECRET_KEY.search(str(key)) and item not in (None, "") else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda match: match.group(1) + REDACTED, value)
    return value


def canonical_json(content: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, datetimes as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def entry_hash(prev_hash: str, content: Mapping[str, Any]) -> str:
    hashed = {name: content.get(name) for name in HASHED_FIELDS}
    return hashlib.sha256((prev_hash + canonical_json(hashed)).encode("utf-8")).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def _entry(row: Any) -> dict[str, Any]:
    """A stored entry as a JSON-ready dict (``occurred_at`` as the canonical string)."""
    entry = {column.name: row._mapping[column.name] for column in audit.columns}
    entry["occurred_at"] = iso(entry["occurred_at"])
    return entry


def _audit_content(
    entity_type: str,
    entity_id: str,
    system: str,
    action: str,
    source: str,
    actor: str,
    changes: Mapping[str, Any] | None = None,
    success: bool = True,
    error: str | None = None,
    deal_id: str | None = None,
    dag_run_id: str | None = None,
    occurred_at: dt.datetime | None = None,
) -> tuple[dict[str, Any], dt.datetime]:
    """An entry's hashed content (validated, redacted) and its moment; no hash yet."""
    if entity_type not in AUDIT_ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {AUDIT_ENTITY_TYPES}, got {entity_type!r}")
    if system not in AUDIT_SYSTEMS:
        raise ValueError(f"system must be one of {AUDIT_SYSTEMS}, got {system!r}")
    if not entity_id or not action or not source or not actor:
        raise ValueError("entity_id, action, source and actor are required")
    moment = (occurred_at or utcnow()).astimezone(dt.timezone.utc)
    content: dict[str, Any] = {
        "entry_id": str(uuid.uuid4()),
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "deal_id": None if deal_id is None else str(deal_id),
        "system": system,
        "occurred_at": iso(moment),
        "action": action,
        "source": source,
        "actor": actor,
        # through JSON once, so the hashed form is exactly what the table returns
        "changes": json.loads(canonical_json(redact(dict(changes or {})))),
        "success": bool(success),
        "error": None if error is None else redact(str(error)),
        "dag_run_id": dag_run_id,
    }
    return content, moment


class AuditLog:
    """Audit methods of :class:`~partner_sync.store.SyncStore`."""

    engine: Engine

    def append_audit(
        self,
        entity_type: str,
        entity_id: str,
        system: str,
        action: str,
        source: str,
        actor: str,
        changes: Mapping[str, Any] | None = None,
        success: bool = True,
        error: str | None = None,
        deal_id: str | None = None,
        dag_run_id: str | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Append one entry (``changes`` = ``{field: {"before": x, "after": y}}``); return it."""
        content, moment = _audit_content(
            entity_type, entity_id, system, action, source, actor, changes, success, error, deal_id,
            dag_run_id, occurred_at,
        )
        with write_transaction(self.engine) as connection:
            connection.execute(
                insert_ignoring_duplicates(
                    audit_heads, {"entity_id": content["entity_id"], "last_hash": ""}, connection.dialect.name
                )
            )
            head = connection.execute(
                sa.select(audit_heads).where(audit_heads.c.entity_id == content["entity_id"]).with_for_update()
            ).one()
            content["prev_hash"] = head.last_hash
            content["hash"] = entry_hash(head.last_hash, content)
            seq = connection.execute(
                audit.insert().values(**{**content, "occurred_at": moment})
            ).inserted_primary_key[0]
            connection.execute(
                audit_heads.update()
                .where(audit_heads.c.entity_id == content["entity_id"])
                .values(last_seq=seq, last_hash=content["hash"])
            )
        return {"seq": seq, **content}

    def append_audits(self, entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append many entries (each the keyword arguments of :meth:`append_audit`) in one
        transaction, chained in the order given; return them.

        The same entries and chains as one :meth:`append_audit` per entry, for one commit instead
        of one per entry (a sync of thousands of records would otherwise spend most of its time
        committing audit entries). All or nothing: an invalid entry appends none of them.
        """
        prepared = [_audit_content(**entry) for entry in entries]
        if not prepared:
            return []
        entity_ids = sorted({content["entity_id"] for content, _ in prepared})  # one lock order
        with write_transaction(self.engine) as connection:
            heads: dict[str, str] = {}
            for chunk in chunked(entity_ids, HEADS_CHUNK):
                insert_many_ignoring_duplicates(
                    connection, audit_heads, [{"entity_id": entity_id, "last_hash": ""} for entity_id in chunk]
                )
                locked = connection.execute(
                    sa.select(audit_heads.c.entity_id, audit_heads.c.last_hash)
                    .where(audit_heads.c.entity_id.in_(chunk))
                    .order_by(audit_heads.c.entity_id)
                    .with_for_update()
                )
                heads.update({row.entity_id: row.last_hash for row in locked})
            for content, _ in prepared:
                content["prev_hash"] = heads[content["entity_id"]]
                content["hash"] = heads[content["entity_id"]] = entry_hash(content["prev_hash"], content)
            seqs = connection.execute(
                audit.insert().returning(audit.c.seq, sort_by_parameter_order=True),
                [{**content, "occurred_at": moment} for content, moment in prepared],
            ).scalars().all()
            last: dict[str, tuple[int, str]] = {}
            for (content, _), seq in zip(prepared, seqs, strict=True):
                last[content["entity_id"]] = (seq, content["hash"])
            connection.execute(
                audit_heads.update()
                .where(audit_heads.c.entity_id == sa.bindparam("head_entity_id"))
                .values(last_seq=sa.bindparam("head_seq"), last_hash=sa.bindparam("head_hash")),
                [{"head_entity_id": entity_id, "head_seq": seq, "head_hash": digest}
                 for entity_id, (seq, digest) in last.items()],
            )
        return [{"seq": seq, **content} for (content, _), seq in zip(prepared, seqs, strict=True)]

    def audit_history(self, entity_id: str) -> list[dict[str, Any]]:
        """Entries about ``entity_id`` (as the entity, or as the deal they concern), in order."""
        entity_id = str(entity_id)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(
                sa.select(audit)
                .where(sa.or_(audit.c.entity_id == entity_id, audit.c.deal_id == entity_id))
                .order_by(audit.c.seq)
            ).all()
        return [_entry(row) for row in rows]

    def iter_audit(self, start: dt.datetime, end: dt.datetime) -> Iterator[dict[str, Any]]:
        """Entries with ``start <= occurred_at < end``, by (occurred_at, seq), page by page."""
        start, end = _aware(start), _aware(end)
        after: tuple[dt.datetime, int] | None = None
        while True:
            query = sa.select(audit).where(audit.c.occurred_at >= start, audit.c.occurred_at < end)
            if after is not None:
                moment, seq = after
                query = query.where(
                    sa.or_(audit.c.occurred_at > moment, sa.and_(audit.c.occurred_at == moment, audit.c.seq > seq))
                )
            with read_transaction(self.engine) as connection:
                rows = connection.execute(query.order_by(audit.c.occurred_at, audit.c.seq).limit(PAGE)).all()
            if not rows:
                return
            after = (rows[-1].occurred_at, rows[-1].seq)
            yield from (_entry(row) for row in rows)

    def verify_audit_chain(self, entity_id: str) -> list[int]:
        """Seqs of ``entity_id``'s entries that do not verify (empty: intact).

        An entry fails when its hash does not match its content, or its ``prev_hash`` is not
        the previous entry's hash (an entry removed or inserted before it), or it lies past the
        chain head (appended around the store, even with a correctly computed hash). If
        entries were removed from the end, the seq the chain head last recorded is reported.
        """
        entity_id = str(entity_id)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(sa.select(audit).where(audit.c.entity_id == entity_id).order_by(audit.c.seq)).all()
            head = connection.execute(sa.select(audit_heads).where(audit_heads.c.entity_id == entity_id)).first()
        broken: list[int] = []
        previous = ""
        for row in rows:
            entry = _entry(row)
            if entry["prev_hash"] != previous or entry["hash"] != entry_hash(entry["prev_hash"], entry):
                broken.append(entry["seq"])
            previous = entry["hash"]
        if head is None:
            return sorted(set(broken) | {row.seq for row in rows})  # rows written around the store
        if head.last_hash != previous:
            beyond = [row.seq for row in rows if head.last_seq is None or row.seq > head.last_seq]
            # rows past the head were written around the store; no such rows: the tail was cut
            broken.extend(beyond or ([head.last_seq] if head.last_seq is not None else []))
        return sorted(set(broken))
