"""Daily archive of the audit trail: one gzip JSON Lines file per UTC calendar day.

``audit_export`` calls :func:`export_window` with its data interval. The days exported are
the UTC calendar days that *end* inside the interval, ``start < day + 1 d <= end``: the DAG
runs at 01:00 for the interval [D-1 01:00, D 01:00) and exports day D-1 whole, an hour after
it ended (late commits land first); a midnight-aligned or a weekly interval works the same, and
consecutive intervals export every day exactly once. Each day goes to

    <archive>/date=YYYY-MM-DD/part-0.jsonl.gz

where ``<archive>`` is the Variable ``partner_sync_audit_archive`` (``file://$AIRFLOW_HOME/
partner-sync-audit`` by default, ``s3://[conn_id@]bucket/prefix`` in production; see
:mod:`partner_sync.archive_storage` for the connection).

The file is a pure function of the audit, which is append-only, so a re-run or a backfill
rewrites the same bytes: one line per entry ordered by (``occurred_at``, ``seq``), JSON with
sorted keys and no whitespace, UTF-8, gzip with ``mtime=0`` and no file name in the header.
A day without entries still gets a file (an empty gzip stream): "exported, nothing happened"
is then told apart from "not exported". A file that already holds the same bytes is not
rewritten.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from partner_sync import config
from partner_sync.archive_storage import archive_path, write_atomically
from partner_sync.sync.runtime import ConfError

if TYPE_CHECKING:
    from partner_sync.sync.runtime import SyncRun, SyncWindow

log = logging.getLogger(__name__)

PART_NAME = "part-0.jsonl.gz"
ONE_DAY = timedelta(days=1)
#: at most this many days per run (a year of backfill runs as a year of daily runs)
MAX_DAYS = 366


def export_window(run: SyncRun, window: SyncWindow) -> dict[str, Any]:
    """Export every day that ends inside ``window``; a summary for XCom (no entries in it)."""
    if window.full_sync or window.start is None or window.end is None:
        raise ConfError("audit_export archives a data interval; conf.full_sync is not supported")
    archive = config.audit_archive()
    files = [export_day(run, archive, day) for day in days_ending_in(window.start, window.end)]
    summary: dict[str, Any] = {
        "days": len(files),
        "entries": sum(item["entries"] for item in files),
        "files": files,
    }
    if len(files) == 1:
        summary.update(path=files[0]["path"], sha256=files[0]["sha256"])
    return summary


def days_ending_in(start: datetime, end: datetime) -> list[date]:
    """The UTC calendar days ``d`` with ``start < d + 1 day <= end``."""
    start, end = _utc(start), _utc(end)
    days = []
    day_end = _midnight(start.date()) + ONE_DAY  # the first midnight after start
    while day_end <= end:
        days.append((day_end - ONE_DAY).date())
        day_end += ONE_DAY
    if len(days) > MAX_DAYS:
        raise ConfError(f"the interval covers {len(days)} days; at most {MAX_DAYS} per run")
    return days


def export_day(run: SyncRun, archive: str, day: date) -> dict[str, Any]:
    """Write one day's file; ``{"day", "path", "entries", "bytes", "sha256", "written"}``."""
    start = _midnight(day)
    payload, entries = render(run.store.iter_audit(start, start + ONE_DAY))
    location = f"{archive}/date={day.isoformat()}/{PART_NAME}"
    target = archive_path(location)
    unchanged = target.exists() and target.read_bytes() == payload
    if not unchanged:
        write_atomically(target, payload)
    digest = hashlib.sha256(payload).hexdigest()
    log.info("audit %s: %s entries, %s bytes, sha256 %s -> %s (%s)", day, entries, len(payload), digest,
             location, "unchanged" if unchanged else "written")
    return {"day": day.isoformat(), "path": location, "entries": entries, "bytes": len(payload),
            "sha256": digest, "written": not unchanged}


def render(entries: Iterable[Mapping[str, Any]]) -> tuple[bytes, int]:
    """Entries (in the order given) → deterministic gzip JSON Lines bytes, and their count."""
    buffer = io.BytesIO()
    count = 0
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as stream:
        for entry in entries:
            line = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
            stream.write(line.encode("utf-8") + b"\n")
            count += 1
    return buffer.getvalue(), count


def read_archive(location: str) -> list[dict[str, Any]]:
    """The entries of one archived file (for checks and restores)."""
    raw = archive_path(location).read_bytes()
    text = gzip.decompress(raw).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
