"""What one sync task works with: its hooks, the store, its identity for the audit, its window.

Sync functions take a :class:`SyncRun` instead of building hooks themselves, so that tests
and benchmarks can run them outside Airflow against the sandbox, and so every audit entry
names the DAG run that wrote it. Hooks and the store are created lazily, on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from partner_sync.hooks.hubspot import HubSpotHook
    from partner_sync.hooks.partner_center import PartnerCenterHook
    from partner_sync.hooks.partner_central import PartnerCentralHook
    from partner_sync.store import SyncStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncWindow:
    """The slice of time a run covers: [start, end), or everything when ``full_sync``."""

    start: datetime | None
    end: datetime | None
    full_sync: bool = False

    def contains(self, moment: datetime) -> bool:
        if self.full_sync:
            return True
        if self.start is not None and moment < self.start:
            return False
        return not (self.end is not None and moment >= self.end)


class ConfError(AirflowFailException, ValueError):
    """A DAG run conf that is not what the DAG expects; the message names the field.

    An :class:`AirflowFailException`: retrying cannot fix a bad conf, so the task fails at once.
    """


@dataclass
class SyncRun:
    """One task's view of the world. ``actor`` goes into every audit entry it writes."""

    dag_id: str = "manual"
    run_id: str | None = None
    hubspot_conn_id: str = "hubspot_default"
    partner_center_conn_id: str = "partner_center_default"
    partner_central_conn_id: str = "aws_partner_central"
    store_conn_id: str = "partner_sync_db"
    counters: dict[str, int] = field(default_factory=dict)

    @classmethod
    def current(cls) -> SyncRun:
        """The run of the task being executed (inside an Airflow task)."""
        from airflow.sdk import get_current_context

        context = get_current_context()
        return cls(dag_id=context["dag"].dag_id, run_id=context["run_id"])

    @property
    def actor(self) -> str:
        return f"airflow:{self.dag_id}"

    @cached_property
    def hubspot(self) -> HubSpotHook:
        from partner_sync.hooks.hubspot import HubSpotHook

        return HubSpotHook(hubspot_conn_id=self.hubspot_conn_id)

    @cached_property
    def partner_center(self) -> PartnerCenterHook:
        from partner_sync.hooks.partner_center import PartnerCenterHook

        return PartnerCenterHook(partner_center_conn_id=self.partner_center_conn_id)

    @cached_property
    def partner_central(self) -> PartnerCentralHook:
        from partner_sync.hooks.partner_central import PartnerCentralHook

        return PartnerCentralHook(aws_conn_id=self.partner_central_conn_id)

    @cached_property
    def store(self) -> SyncStore:
        from partner_sync.store import SyncStore

        return SyncStore.from_connection(self.store_conn_id)

    def count(self, outcome: str, n: int = 1) -> None:
        self.counters[outcome] = self.counters.get(outcome, 0) + n

    def audit(self, **entry: Any) -> None:
        """Append one audit entry, stamped with this run's actor and run id."""
        entry.setdefault("actor", self.actor)
        entry.setdefault("source", self.dag_id)
        entry.setdefault("dag_run_id", self.run_id)
        self.store.append_audit(**entry)

    def audit_many(self, entries: Iterable[dict[str, Any]]) -> None:
        """Append several audit entries, stamped like :meth:`audit`, in one store transaction
        (a batch of a hundred records costs one commit instead of a hundred)."""
        stamped = [{"actor": self.actor, "source": self.dag_id, "dag_run_id": self.run_id, **entry}
                   for entry in entries]
        if stamped:
            self.store.append_audits(stamped)

    @staticmethod
    def window(context: Any) -> SyncWindow:
        """The run's data interval, or a full sweep when conf says ``full_sync``.

        A manual run without a data interval and without ``full_sync`` covers the last day,
        so "trigger now" does something useful; the scheduled runs always have an interval.
        """
        params = context.get("params") or {}
        conf = (context.get("dag_run").conf if context.get("dag_run") is not None else None) or {}
        full = conf.get("full_sync", params.get("full_sync", False))
        if not isinstance(full, bool):
            raise ConfError("conf.full_sync must be true or false")
        if full:
            return SyncWindow(None, None, full_sync=True)
        start = context.get("data_interval_start")
        end = context.get("data_interval_end")
        if start is None or end is None:
            from datetime import timedelta

            end = datetime.now(timezone.utc)
            start = end - timedelta(days=1)
        return SyncWindow(start, end)
