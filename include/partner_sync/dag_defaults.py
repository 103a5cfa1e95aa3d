"""What every partner-sync DAG shares: retry policy, start date, tags, and the API pools.

Pools cap how many tasks call an API at once across all workers; the hooks' client-side
limiters (``partner_sync.rate_limit``) pace calls within a process. Together they keep the
package under each vendor's published limits:

- HubSpot: 100 requests / 10 s per private app (lowest tier), search 5 / s.
- AWS Partner Central: writes 1 / s, reads 10 / s per partner account. One slot for writers
  makes the 1 / s limit global, whichever worker runs the task.
- Microsoft Partner Center: limits are not published (UNCONFIRMED); a small pool is the
  safe choice because Microsoft throttles per tenant and discourages parallel polling.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)

#: retries with exponential backoff and a ceiling on every task (every task calls an API)
DEFAULT_ARGS = {
    "owner": "partner-ops",
    "retries": 3,
    "retry_delay": timedelta(seconds=15),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=2),
}

TAGS_HUBSPOT = "hubspot"
TAGS_AWS = "aws-partner-central"
TAGS_MICROSOFT = "microsoft-partner-center"

#: pool name -> (slots, description); created by the demo, documented for compose
POOLS: dict[str, tuple[int, str]] = {
    "hubspot_api": (2, "HubSpot CRM API: 100 requests / 10 s per app; search 5 / s"),
    "partner_central_api": (1, "AWS Partner Central Selling API: writes 1 / s, reads 10 / s"),
    "partner_center_api": (2, "Microsoft Partner Center Referrals API (limits unpublished)"),
}
