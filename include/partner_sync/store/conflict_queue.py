"""Recorded field conflicts: the queue ``sync_conflict_review`` works through.

A conflict is one field of one deal that HubSpot and the partner side both changed, to
different values, since the last sync (see :mod:`partner_sync.conflicts`). At most one
conflict per (system, deal, field) is pending — a partial unique index enforces it — and
recording the same conflict again refreshes the pending one. Conflicts that a strategy settles
at once are recorded already resolved, for the record. Resolution moves pending → resolved
exactly once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from partner_sync.conflicts import STRATEGIES
from partner_sync.store.database import read_transaction, write_transaction
from partner_sync.store.links import check_system
from partner_sync.store.models import CONFLICT_PENDING, CONFLICT_RESOLVED, RESOLUTIONS, Conflict, conflicts, utcnow


class ConflictStateError(ValueError):
    """The conflict is not pending (already resolved) or does not exist."""


class ConflictQueue:
    """Conflict methods of :class:`~partner_sync.store.SyncStore`."""

    engine: Engine

    def add_conflict(
        self,
        system: str,
        deal_id: str,
        partner_id: str | None,
        field: str,
        base_value: Any,
        hubspot_value: Any,
        partner_value: Any,
        hubspot_changed_at: dt.datetime | None = None,
        partner_changed_at: dt.datetime | None = None,
        hubspot_changed_by: str | None = None,
        partner_changed_by: str | None = None,
        strategy: str = "MANUAL",
        resolution: str | None = None,
        resolved_value: Any = None,
        resolved_by: str | None = None,
    ) -> Conflict:
        """Record a conflict; the pending one for (system, deal, field), if any, is updated.

        With ``resolution`` (a strategy settled it) the conflict is stored resolved at once —
        resolving the pending one for that field, if there was one.
        """
        check_system(system)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        if resolution is not None and resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
        now = utcnow()
        values: dict[str, Any] = {
            "partner_id": partner_id,
            "base_value": base_value,
            "hubspot_value": hubspot_value,
            "partner_value": partner_value,
            "hubspot_changed_at": hubspot_changed_at,
            "partner_changed_at": partner_changed_at,
            "hubspot_changed_by": hubspot_changed_by,
            "partner_changed_by": partner_changed_by,
            "strategy": strategy,
            "updated_at": now,
        }
        if resolution is not None:
            values.update(
                status=CONFLICT_RESOLVED,
                resolution=resolution,
                resolved_value=resolved_value,
                resolved_by=resolved_by,
                resolved_at=now,
            )
        pending = (
            conflicts.c.system == system,
            conflicts.c.deal_id == str(deal_id),
            conflicts.c.field == field,
            conflicts.c.status == CONFLICT_PENDING,
        )
        for attempt in range(3):
            try:
                with write_transaction(self.engine) as connection:
                    current = connection.execute(sa.select(conflicts.c.id).where(*pending).with_for_update()).first()
                    if current is not None:
                        connection.execute(conflicts.update().where(conflicts.c.id == current.id).values(**values))
                        conflict_id = current.id
                    else:
                        conflict_id = connection.execute(
                            conflicts.insert().values(
                                system=system,
                                deal_id=str(deal_id),
                                field=field,
                                status=CONFLICT_PENDING,
                                created_at=now,
                                **values,
                            )
                        ).inserted_primary_key[0]
                    return Conflict.from_row(connection.execute(sa.select(conflicts).where(conflicts.c.id == conflict_id)).one())
            except IntegrityError:
                # a concurrent writer inserted the pending row first: update it instead
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def list_conflicts(self, status: str | None = CONFLICT_PENDING, deal_id: str | None = None) -> list[dict[str, Any]]:
        """Conflicts (JSON-ready dicts, oldest first); ``status=None`` lists every status."""
        query = sa.select(conflicts)
        if status is not None:
            query = query.where(conflicts.c.status == status)
        if deal_id is not None:
            query = query.where(conflicts.c.deal_id == str(deal_id))
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query.order_by(conflicts.c.id)).all()
        return [Conflict.from_row(row).as_dict() for row in rows]

    def get_conflict(self, conflict_id: int) -> Conflict | None:
        with read_transaction(self.engine) as connection:
            row = connection.execute(sa.select(conflicts).where(conflicts.c.id == int(conflict_id))).first()
        return Conflict.from_row(row) if row else None

    def resolve_conflict(self, conflict_id: int, resolution: str, value: Any, resolved_by: str) -> Conflict:
        """Settle a pending conflict with ``value`` chosen by ``resolved_by``.

        Raises :class:`ConflictStateError` if it does not exist or is already resolved (a
        second resolve, or a concurrent reviewer who got there first).
        """
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
        with write_transaction(self.engine) as connection:
            now = utcnow()
            updated = connection.execute(
                conflicts.update()
                .where(conflicts.c.id == int(conflict_id), conflicts.c.status == CONFLICT_PENDING)
                .values(
                    status=CONFLICT_RESOLVED,
                    resolution=resolution,
                    resolved_value=value,
                    resolved_by=resolved_by,
                    resolved_at=now,
                    updated_at=now,
                )
            )
            row = connection.execute(sa.select(conflicts).where(conflicts.c.id == int(conflict_id))).first()
        if row is None:
            raise ConflictStateError(f"conflict {conflict_id} does not exist")
        if updated.rowcount == 0:
            raise ConflictStateError(f"conflict {conflict_id} is already {row.status} ({row.resolution} by {row.resolved_by})")
        return Conflict.from_row(row)
