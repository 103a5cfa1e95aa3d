"""Deal ↔ partner-record links: the local table that replaces a search per record.

A link ties one HubSpot deal to one Partner Central opportunity (``system="aws"``) or Partner
Center referral (``system="microsoft"``); each side is linked at most once per system. The
link also carries the last-synced value of every synced field (the base of three-way conflict
detection), the partner-side version last seen (LastModifiedDate / eTag) and ``version``
(HubSpot's ``aws_version``, bumped on every applied change).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from partner_sync.store.database import chunked, insert_many_ignoring_duplicates, read_transaction, write_transaction
from partner_sync.store.models import SYSTEMS, Link, links, utcnow

#: ids per ``IN (...)`` / per multi-row INSERT: under SQLite's and Postgres' parameter limits
CHUNK = 500


class LinkConflictError(ValueError):
    """The deal or the partner record is already linked to something else."""


class StaleVersionError(RuntimeError):
    """``record_sync(expected_version=...)`` found the link at another version."""


class LinkNotFoundError(KeyError):
    """No link for that deal."""


def check_system(system: str) -> str:
    if system not in SYSTEMS:
        raise ValueError(f"system must be one of {SYSTEMS}, got {system!r}")
    return system


class LinkStore:
    """Link methods of :class:`~partner_sync.store.SyncStore`."""

    engine: Engine

    def get_link(self, system: str, deal_id: str | None = None, partner_id: str | None = None) -> Link | None:
        """The link of a deal or of a partner record (exactly one of the two ids)."""
        check_system(system)
        if (deal_id is None) == (partner_id is None):
            raise ValueError("pass exactly one of deal_id and partner_id")
        column = links.c.deal_id if deal_id is not None else links.c.partner_id
        with read_transaction(self.engine) as connection:
            row = connection.execute(
                sa.select(links).where(links.c.system == system, column == str(deal_id or partner_id))
            ).first()
        return Link.from_row(row) if row else None

    def links_for_deals(self, system: str, deal_ids: Iterable[str]) -> dict[str, Link]:
        return self._links_by(system, links.c.deal_id, deal_ids)

    def links_for_partners(self, system: str, partner_ids: Iterable[str]) -> dict[str, Link]:
        return self._links_by(system, links.c.partner_id, partner_ids)

    def all_links(self, system: str) -> Iterator[Link]:
        """Every link of ``system`` in id order, read page by page (no connection held between pages)."""
        check_system(system)
        after = 0
        while True:
            with read_transaction(self.engine) as connection:
                rows = connection.execute(
                    sa.select(links).where(links.c.system == system, links.c.id > after).order_by(links.c.id).limit(CHUNK)
                ).all()
            if not rows:
                return
            after = rows[-1].id
            yield from (Link.from_row(row) for row in rows)

    def upsert_link(
        self,
        system: str,
        deal_id: str,
        partner_id: str,
        snapshot: Mapping[str, Any] | None = None,
        partner_version: str | None = None,
    ) -> Link:
        """Link ``deal_id`` to ``partner_id`` (idempotent; safe when called concurrently).

        An existing identical link is returned, with ``snapshot`` merged into its snapshot and
        ``partner_version`` replaced when given. Raises :class:`LinkConflictError` when the
        deal or the partner record is already linked to a different counterpart.
        """
        return self.upsert_links(system, [(deal_id, partner_id, snapshot, partner_version)])[str(deal_id)]

    def upsert_links(
        self,
        system: str,
        entries: Iterable[tuple[str, str] | tuple[str, str, Mapping[str, Any] | None, str | None]],
    ) -> dict[str, Link]:
        """Bulk :meth:`upsert_link` in one transaction: ``(deal_id, partner_id[, snapshot, partner_version])``
        tuples → links by deal id. All or nothing: one conflicting entry rolls back the batch."""
        check_system(system)
        wanted: dict[str, tuple[str, Mapping[str, Any] | None, str | None]] = {}
        for entry in entries:
            deal_id, partner_id = str(entry[0]), str(entry[1])
            snapshot = entry[2] if len(entry) > 2 else None
            partner_version = entry[3] if len(entry) > 3 else None
            if deal_id in wanted and wanted[deal_id][0] != partner_id:
                raise LinkConflictError(f"{system} deal {deal_id} given twice, with {wanted[deal_id][0]} and {partner_id}")
            wanted[deal_id] = (partner_id, snapshot, partner_version)
        if not wanted:
            return {}
        now = utcnow()
        with write_transaction(self.engine) as connection:
            deal_ids = sorted(wanted)  # one lock order for every writer: no deadlocks between batches
            for chunk in chunked(deal_ids, CHUNK):
                rows = [
                    {
                        "system": system,
                        "deal_id": deal_id,
                        "partner_id": wanted[deal_id][0],
                        "snapshot": dict(wanted[deal_id][1] or {}),
                        "partner_version": wanted[deal_id][2],
                        "version": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for deal_id in chunk
                ]
                insert_many_ignoring_duplicates(connection, links, rows)
            stored = _select_in(connection, system, links.c.deal_id, deal_ids, lock=True)
            by_partner = _select_in(connection, system, links.c.partner_id, [p for p, _, _ in wanted.values()])
            result: dict[str, Link] = {}
            for deal_id, (partner_id, snapshot, partner_version) in wanted.items():
                row = stored.get(deal_id)
                if row is None or row.partner_id != partner_id:
                    holder = by_partner.get(partner_id)
                    linked_to = row.partner_id if row is not None else None
                    raise LinkConflictError(
                        f"cannot link {system} deal {deal_id} to {partner_id}: "
                        + (f"the deal is linked to {linked_to}" if linked_to else f"{partner_id} is linked to deal {holder.deal_id if holder else '?'}")
                    )
                changes: dict[str, Any] = {}
                if snapshot:
                    merged = {**(row.snapshot or {}), **snapshot}
                    if merged != row.snapshot:
                        changes["snapshot"] = merged
                if partner_version is not None and partner_version != row.partner_version:
                    changes["partner_version"] = partner_version
                if changes:
                    changes["updated_at"] = now
                    connection.execute(links.update().where(links.c.id == row.id).values(**changes))
                    row = connection.execute(sa.select(links).where(links.c.id == row.id)).one()
                result[deal_id] = Link.from_row(row)
            return result

    def record_sync(
        self,
        system: str,
        deal_id: str,
        snapshot: Mapping[str, Any] | None,
        partner_version: str | None,
        bump_version: bool,
        expected_version: int | None = None,
    ) -> Link:
        """Record a completed sync of a deal: ``snapshot`` merged into the last-synced values,
        ``partner_version`` stored when given, ``version`` + 1 when ``bump_version``,
        ``last_synced_at`` now. With ``expected_version`` it is an optimistic-lock write that
        raises :class:`StaleVersionError` if another writer got there first."""
        check_system(system)
        now = utcnow()
        with write_transaction(self.engine) as connection:
            query = sa.select(links).where(links.c.system == system, links.c.deal_id == str(deal_id))
            row = connection.execute(query.with_for_update()).first()
            if row is None:
                raise LinkNotFoundError(f"no {system} link for deal {deal_id}")
            if expected_version is not None and row.version != expected_version:
                raise StaleVersionError(
                    f"{system} link of deal {deal_id} is at version {row.version}, expected {expected_version}"
                )
            values: dict[str, Any] = {"last_synced_at": now, "updated_at": now}
            if snapshot:
                values["snapshot"] = {**(row.snapshot or {}), **snapshot}
            if partner_version is not None:
                values["partner_version"] = partner_version
            if bump_version:
                values["version"] = row.version + 1
            connection.execute(links.update().where(links.c.id == row.id).values(**values))
            return Link.from_row(connection.execute(sa.select(links).where(links.c.id == row.id)).one())

    def delete_link(self, system: str, deal_id: str) -> bool:
        """Forget a deal's link (e.g. its partner record was deleted); True if one existed."""
        check_system(system)
        with write_transaction(self.engine) as connection:
            deleted = connection.execute(links.delete().where(links.c.system == system, links.c.deal_id == str(deal_id)))
            return deleted.rowcount > 0

    def _links_by(self, system: str, column: sa.Column, ids: Iterable[str]) -> dict[str, Link]:
        check_system(system)
        wanted = list(dict.fromkeys(str(item) for item in ids))
        if not wanted:
            return {}
        with read_transaction(self.engine) as connection:
            rows = _select_in(connection, system, column, wanted)
        return {key: Link.from_row(row) for key, row in rows.items()}


def _select_in(connection: Connection, system: str, column: sa.Column, ids: Sequence[str], lock: bool = False) -> dict[str, Any]:
    """Rows of ``system`` whose ``column`` is in ``ids``, keyed by that column, in chunks."""
    found: dict[str, Any] = {}
    for chunk in chunked(list(ids), CHUNK):
        query = sa.select(links).where(links.c.system == system, column.in_(chunk))
        if lock:
            query = query.with_for_update()
        for row in connection.execute(query):
            found[row._mapping[column.name]] = row
    return found
