"""Idempotency tokens and deferred edits: what makes retries and review locks lose nothing.

Client tokens: reserve one *before* a create call (CreateOpportunity, Start*Task,
CreateResourceSnapshot…) and pass it as ``ClientToken``; a retry after a crash or a timeout
reserves again and gets the same token, so the service returns the first result instead of
creating a second record. The token is ``uuid5(system:deal_id:operation)``, so it is the same
even if the store row were lost. Once completed, the row keeps the token and ``result_id``;
callers check :meth:`ReservationStore.get_client_token` to skip a finished step. An operation
that may legitimately run again for one deal carries its own discriminator in ``operation``.

Deferred edits: field edits that could not be written because the partner record is locked
(an opportunity in AWS review); merged per deal and replayed when it unlocks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from partner_sync.store.database import insert_ignoring_duplicates, read_transaction, write_transaction
from partner_sync.store.links import check_system
from partner_sync.store.models import (
    TOKEN_COMPLETED,
    TOKEN_RESERVED,
    ClientToken,
    DeferredEdit,
    client_tokens,
    deferred_edits,
    utcnow,
)

#: namespace of the deterministic client tokens
CLIENT_TOKEN_NAMESPACE = uuid.UUID("6f0d3c1e-52b4-4c61-9a57-706172747379")


def client_token_for(system: str, deal_id: str, operation: str) -> str:
    """The deterministic token of one operation on one deal."""
    return str(uuid.uuid5(CLIENT_TOKEN_NAMESPACE, f"{system}:{deal_id}:{operation}"))


class ReservationStore:
    """Client-token and deferred-edit methods of :class:`~partner_sync.store.SyncStore`."""

    engine: Engine

    def reserve_client_token(self, system: str, deal_id: str, operation: str) -> str:
        """The token for this operation: the same on every call (reserved, then completed)."""
        check_system(system)
        deal_id = str(deal_id)
        row = {
            "system": system,
            "deal_id": deal_id,
            "operation": operation,
            "token": client_token_for(system, deal_id, operation),
            "status": TOKEN_RESERVED,
            "created_at": utcnow(),
        }
        with write_transaction(self.engine) as connection:
            connection.execute(insert_ignoring_duplicates(client_tokens, row, connection.dialect.name))
            return connection.execute(
                sa.select(client_tokens.c.token).where(*_token_key(system, deal_id, operation))
            ).scalar_one()

    def complete_client_token(self, system: str, deal_id: str, operation: str, result_id: str | None) -> ClientToken:
        """Mark the operation done with the id it produced (reserving first if need be)."""
        self.reserve_client_token(system, deal_id, operation)
        with write_transaction(self.engine) as connection:
            connection.execute(
                client_tokens.update()
                .where(*_token_key(system, str(deal_id), operation), client_tokens.c.status == TOKEN_RESERVED)
                .values(status=TOKEN_COMPLETED, result_id=result_id, completed_at=utcnow())
            )
            row = connection.execute(sa.select(client_tokens).where(*_token_key(system, str(deal_id), operation))).one()
        return ClientToken.from_row(row)

    def get_client_token(self, system: str, deal_id: str, operation: str) -> ClientToken | None:
        with read_transaction(self.engine) as connection:
            row = connection.execute(sa.select(client_tokens).where(*_token_key(system, str(deal_id), operation))).first()
        return ClientToken.from_row(row) if row else None

    def pending_client_tokens(self, system: str | None = None) -> list[ClientToken]:
        """Reservations never completed: operations that may have run and must be resumed."""
        query = sa.select(client_tokens).where(client_tokens.c.status == TOKEN_RESERVED)
        if system is not None:
            query = query.where(client_tokens.c.system == check_system(system))
        with read_transaction(self.engine) as connection:
            rows = connection.execute(query.order_by(client_tokens.c.id)).all()
        return [ClientToken.from_row(row) for row in rows]

    def defer_edit(self, system: str, deal_id: str, partner_id: str, fields: Mapping[str, Any]) -> DeferredEdit:
        """Hold ``fields`` for the deal, merged over any pending ones (newer values win)."""
        check_system(system)
        deal_id, now = str(deal_id), utcnow()
        row = {
            "system": system,
            "deal_id": deal_id,
            "partner_id": str(partner_id),
            "fields": dict(fields),
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        key = (deferred_edits.c.system == system, deferred_edits.c.deal_id == deal_id)
        with write_transaction(self.engine) as connection:
            inserted = connection.execute(insert_ignoring_duplicates(deferred_edits, row, connection.dialect.name))
            if inserted.rowcount == 0:
                current = connection.execute(sa.select(deferred_edits).where(*key).with_for_update()).one()
                connection.execute(
                    deferred_edits.update()
                    .where(*key)
                    .values(
                        partner_id=str(partner_id),
                        fields={**(current.fields or {}), **fields},
                        revision=current.revision + 1,
                        updated_at=now,
                    )
                )
            return DeferredEdit.from_row(connection.execute(sa.select(deferred_edits).where(*key)).one())

    def pending_deferred_edits(self, system: str) -> list[DeferredEdit]:
        check_system(system)
        with read_transaction(self.engine) as connection:
            rows = connection.execute(
                sa.select(deferred_edits).where(deferred_edits.c.system == system).order_by(deferred_edits.c.id)
            ).all()
        return [DeferredEdit.from_row(row) for row in rows]

    def clear_deferred_edit(self, system: str, deal_id: str, revision: int | None = None) -> bool:
        """Drop the deal's deferred edit after replaying it. With ``revision`` (from the
        :class:`DeferredEdit` replayed) only that revision is dropped: an edit merged in
        meanwhile stays for the next replay. True if a row was removed."""
        check_system(system)
        condition = [deferred_edits.c.system == system, deferred_edits.c.deal_id == str(deal_id)]
        if revision is not None:
            condition.append(deferred_edits.c.revision == revision)
        with write_transaction(self.engine) as connection:
            return connection.execute(deferred_edits.delete().where(*condition)).rowcount > 0


def _token_key(system: str, deal_id: str, operation: str) -> tuple[Any, ...]:
    return (
        client_tokens.c.system == system,
        client_tokens.c.deal_id == deal_id,
        client_tokens.c.operation == operation,
    )
