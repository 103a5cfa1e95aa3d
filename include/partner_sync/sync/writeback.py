"""Writing back to HubSpot deals: property updates and notes, in batches, each one audited.

Every flow collects what it wants to write on a :class:`DealWriter` and flushes once (or every
100 deals): one batch call per hundred deals instead of a PATCH per deal, no write at all for a
property that already holds the value, and one audit entry per deal written (one store
transaction per batch). Per-record failures of a batch (a deal deleted meanwhile, say) are
audited and counted; they do not stop the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from partner_sync.hooks.hubspot_errors import BatchResult
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

BATCH = 100
#: properties that change on every sync and so never count as a reason to write
HOUSEKEEPING = frozenset({"aws_last_engagement_sync", "aws_team_last_sync", "aws_contact_company_last_sync"})


def now_iso() -> str:
    """Now, as the ISO 8601 string HubSpot datetime properties accept."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class _PendingUpdate:
    properties: dict[str, str] = field(default_factory=dict)
    before: dict[str, Any] = field(default_factory=dict)
    action: str = "update_deal"


class DealWriter:
    """Collects deal updates and notes for one run and writes them in batches."""

    def __init__(self, run: SyncRun, system: str) -> None:
        self.run = run
        self.system = system  # "aws" | "microsoft": which sync the writes belong to
        self._updates: dict[str, _PendingUpdate] = {}
        self._notes: list[tuple[str, str]] = []
        self.written = 0
        self.failed: dict[str, str] = {}

    def update(
        self,
        deal_id: str,
        properties: dict[str, Any],
        current: dict[str, Any] | None = None,
        action: str = "update_deal",
    ) -> bool:
        """Queue ``properties`` for the deal, leaving out values it already has.

        Returns whether anything is left to write. Housekeeping timestamps are written only
        along with a real change.
        """
        current = current or {}
        queued = self._updates[str(deal_id)].properties if str(deal_id) in self._updates else {}
        changed = {
            name: "" if value is None else str(value)
            for name, value in properties.items()
            # a value queued earlier in the run counts too: the later call must win over it
            if _differs(current.get(name), value) or (name in queued and _differs(queued[name], value))
        }
        if not (set(changed) - HOUSEKEEPING):
            return False
        pending = self._updates.setdefault(str(deal_id), _PendingUpdate(action=action))
        for name, value in changed.items():
            pending.before.setdefault(name, current.get(name))
            pending.properties[name] = value
        return True

    def note(self, deal_id: str, body: str) -> None:
        """Queue a note on the deal (HubSpot's notes, since timeline events need an app partner)."""
        self._notes.append((str(deal_id), body))

    def fail(self, deal_id: str, message: str, current: dict[str, Any] | None = None,
             partner_id: str | None = None) -> None:
        """A per-record failure: status property ``error``, a note saying why, an audit entry."""
        self.failed[str(deal_id)] = message
        self.update(deal_id, {f"{self.system}_sync_status": "error"}, current, action="mark_sync_error")
        self.note(deal_id, message)
        self.run.audit(
            entity_type="opportunity" if self.system == "aws" else "referral",
            entity_id=partner_id or str(deal_id), deal_id=str(deal_id), system=self.system,
            action="sync_failed", success=False, error=message[:2000],
        )

    def flush(self) -> None:
        """Write everything queued: batch updates of ≤100 deals, then the notes."""
        items = list(self._updates.items())
        self._updates.clear()
        for start in range(0, len(items), BATCH):
            chunk = items[start:start + BATCH]
            result = self.run.hubspot.batch_update(
                "deals", [{"id": deal_id, "properties": pending.properties} for deal_id, pending in chunk]
            )
            errors = _errors_by_id(result)
            entries = []
            for deal_id, pending in chunk:
                error = errors.get(deal_id)
                entries.append(dict(
                    entity_type="deal", entity_id=deal_id, deal_id=deal_id, system="hubspot",
                    action=pending.action,
                    changes={n: {"before": pending.before.get(n), "after": v} for n, v in pending.properties.items()},
                    success=error is None, error=error,
                ))
                if error is None:
                    self.written += 1
                else:
                    log.warning("deal %s was not updated: %s", deal_id, error)
                    self.failed[deal_id] = error
            self._audit(entries)
        notes, self._notes = self._notes, []
        if notes:
            self.run.hubspot.create_notes(notes)
            self._audit([
                dict(entity_type="deal", entity_id=deal_id, deal_id=deal_id, system="hubspot",
                     action="create_note", changes={"note": {"before": None, "after": body[:500]}})
                for deal_id, body in notes
            ])

    def _audit(self, entries: list[dict[str, Any]]) -> None:
        """One store transaction for a batch's entries, each naming the run's actor (a run acting
        for a person, as a conflict decision does, names the person)."""
        self.run.audit_many({"actor": self.run.actor, **entry} for entry in entries)


def _differs(current: Any, wanted: Any) -> bool:
    if wanted is None:
        return current not in (None, "")
    return str(current if current is not None else "") != str(wanted)


def _errors_by_id(result: BatchResult) -> dict[str, str]:
    """Per-record errors of a batch result, by deal id."""
    return {
        str(error["id"]): str(error.get("message") or "batch error")
        for error in result.errors
        if error.get("id") is not None
    }
