"""Seed 003 feature 4, re-scoped to what Partner Central offers: resource snapshots of an
opportunity into its engagement, and the engagement's resource associations on the deal.

The seed's "upload a partner document" has no API: partners share an opportunity with the
other members of its engagement as an immutable *resource snapshot* (a revision of the
opportunity rendered through a snapshot template), and every engagement lists its resources
as *resource associations*.

:func:`snapshot_opportunity` (conf ``{"snapshot": {"opportunity_id"}}`` or ``{"deal_id"}``)
uses CreateResourceSnapshot, not CreateResourceSnapshotJob: StartEngagementFromOpportunityTask
already starts a snapshot *job* that re-snapshots the opportunity whenever it changes, so what
a person asks for by hand is one snapshot of the opportunity as it is now. The template is the
Variable ``partner_sync_aws_snapshot_template`` (default ``Opportunity``). The ClientToken is
reserved in the store per (opportunity, engagement, template, ``LastModifiedDate``): a repeated
or retried run finds the completed reservation and makes no call (and would get the first
answer replayed if it did), while a new revision of the opportunity gets a new snapshot.

:func:`sync_resources` runs for every AWS link: one paged ListEngagementResourceAssociations
over the catalog (resources by engagement, and each opportunity's engagement), then per
engagement ListResourceSnapshots (all pages). The deal gets:

- ``aws_partner_resources``: a compact JSON array, sorted, of the engagement's resource
  associations (``{"type", "id", "created_by"}``) and of its snapshot series, the latest
  revision of each resource and template (``{"type": "ResourceSnapshot", "resource_type",
  "resource_id", "template", "revision"}``);
- ``aws_total_resources``: the number of entries of that array;
- ``aws_last_resource_upload``: when the latest snapshot of the deal's own opportunity was
  created (GetResourceSnapshot, read only when the array changed or the property is empty).

Nothing is written to a deal whose values are already current.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from partner_sync.config import aws_snapshot_template
from partner_sync.hooks.partner_central import error_code
from partner_sync.mapping.deals import hubspot_datetime, parse_datetime
from partner_sync.sync.deals import read_deals
from partner_sync.sync.engagements import (
    CHUNK,
    RESOURCE_TYPE_OPPORTUNITY,
    choose_engagement,
    engagement_summaries,
    link_batches,
)
from partner_sync.sync.runtime import ConfError
from partner_sync.sync.writeback import DealWriter

if TYPE_CHECKING:
    from partner_sync.store.models import Link
    from partner_sync.sync.runtime import SyncRun

log = logging.getLogger(__name__)

DEAL_ID = re.compile(r"[0-9]{1,20}")
OPPORTUNITY_ID = re.compile(r"O[0-9]{1,19}")
#: HubSpot's limit on a text property value
PROPERTY_TEXT_LIMIT = 65_536


# --------------------------------------------------------------------------- snapshot


def snapshot_request(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The validated ``snapshot`` conf (``opportunity_id`` and/or ``deal_id``), or None."""
    if params in (None, {}):
        return None
    if not isinstance(params, Mapping):
        raise ConfError("snapshot must be an object with opportunity_id or deal_id")
    request: dict[str, str] = {}
    for key, pattern in (("opportunity_id", OPPORTUNITY_ID), ("deal_id", DEAL_ID)):
        value = params.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
            raise ConfError(f"snapshot.{key} must match {pattern.pattern}, got {value!r}")
        request[key] = value.strip()
    if not request:
        raise ConfError("snapshot.opportunity_id or snapshot.deal_id is required")
    return request


def snapshot_opportunity(run: SyncRun, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Snapshot one opportunity into its engagement, once per opportunity revision."""
    request = snapshot_request(params)
    if request is None:
        return {"status": "not_requested"}
    link = _link_for(run, request)
    opportunity_id = link.partner_id if link else request["opportunity_id"]
    template = aws_snapshot_template()
    try:
        opportunity = run.partner_central.get_opportunity(Identifier=opportunity_id)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise ConfError(f"snapshot.opportunity_id {opportunity_id} does not exist in Partner Central") from error
        raise
    current_engagement = None
    if link is not None:
        deal = read_deals(run.hubspot, [link.deal_id], with_associations=False).get(link.deal_id)
        current_engagement = deal.properties.get("aws_engagement_id") if deal else None
    candidates = [a["EngagementId"] for a in run.partner_central.iter_engagement_resource_associations(
        ResourceType=RESOURCE_TYPE_OPPORTUNITY, ResourceIdentifier=opportunity_id, MaxResults=1000)]
    created = ({e: s.get("CreatedAt") for e, s in engagement_summaries(run, candidates).items()}
               if len(set(candidates)) > 1 else {})
    engagement_id = choose_engagement(candidates, current_engagement, created) if candidates else None
    if engagement_id is None:
        raise ConfError(f"snapshot: opportunity {opportunity_id} belongs to no engagement yet; "
                        "submit it to AWS (StartEngagementFromOpportunityTask) before snapshotting it")
    revision = _stamp(opportunity.get("LastModifiedDate"))
    owner = link.deal_id if link else opportunity_id
    operation = f"resource_snapshot:{opportunity_id}:{engagement_id}:{template}:{revision}"
    reserved = run.store.get_client_token("aws", owner, operation)
    if reserved is not None and reserved.completed:
        log.info("opportunity %s revision %s is already snapshotted (%s)", opportunity_id, revision,
                 reserved.result_id)
        return {"status": "exists", "opportunity_id": opportunity_id, "arn": reserved.result_id}
    token = run.store.reserve_client_token("aws", owner, operation)
    try:
        answer = run.partner_central.create_resource_snapshot(
            EngagementIdentifier=engagement_id, ResourceType=RESOURCE_TYPE_OPPORTUNITY,
            ResourceIdentifier=opportunity_id, ResourceSnapshotTemplateIdentifier=template, ClientToken=token,
        )
    except ClientError as error:
        code = error_code(error)
        run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=link.deal_id if link else None,
                  system="aws", action="create_resource_snapshot", success=False,
                  error=f"{code}: {error.response.get('Error', {}).get('Message', '')}"[:2000])
        if code in ("ValidationException", "AccessDeniedException", "ServiceQuotaExceededException"):
            raise AirflowFailException(
                f"snapshot of opportunity {opportunity_id} refused by Partner Central: {code}: "
                f"{error.response.get('Error', {}).get('Message', '')}"
            ) from error
        raise
    run.store.complete_client_token("aws", owner, operation, answer.get("Arn"))
    run.audit(entity_type="opportunity", entity_id=opportunity_id, deal_id=link.deal_id if link else None,
              system="aws", action="create_resource_snapshot",
              changes={"ResourceSnapshot": {"before": None, "after": {
                  "Arn": answer.get("Arn"), "Revision": answer.get("Revision"),
                  "EngagementId": engagement_id, "Template": template}}})
    log.info("opportunity %s snapshotted into %s: revision %s", opportunity_id, engagement_id, answer.get("Revision"))
    return {"status": "created", "opportunity_id": opportunity_id, "arn": answer.get("Arn"),
            "revision": answer.get("Revision")}


def _link_for(run: SyncRun, request: dict[str, str]) -> Link | None:
    if "deal_id" in request:
        link = run.store.get_link("aws", deal_id=request["deal_id"])
        if link is None:
            raise ConfError(f"snapshot.deal_id {request['deal_id']} is not linked to an AWS opportunity")
        if request.get("opportunity_id") not in (None, link.partner_id):
            raise ConfError(f"snapshot.opportunity_id {request['opportunity_id']} is not the opportunity "
                            f"of deal {request['deal_id']} ({link.partner_id})")
        return link
    return run.store.get_link("aws", partner_id=request["opportunity_id"])


def _stamp(value: Any) -> str:
    moment = parse_datetime(value)
    return moment.isoformat() if moment else str(value)


# --------------------------------------------------------------------------- tracking


def sync_resources(run: SyncRun) -> dict[str, int]:
    """Resource associations and snapshots of every linked opportunity's engagement → its deal."""
    counts = {"linked": 0, "with_engagement": 0, "updated": 0}
    writer = DealWriter(run, "aws")
    by_engagement: dict[str, list[dict[str, Any]]] | None = None
    engagements_of: dict[str, list[str]] = {}
    for links in link_batches(run.store.all_links("aws"), CHUNK):
        counts["linked"] += len(links)
        if by_engagement is None:
            by_engagement, engagements_of = resource_associations(run)
        _track_chunk(run, writer, links, by_engagement, engagements_of, counts)
    writer.flush()
    log.info("Resource sync: %s", counts)
    return counts


def resource_associations(run: SyncRun) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """(resources by engagement, engagements by opportunity) from one paged listing."""
    by_engagement: dict[str, list[dict[str, Any]]] = {}
    engagements_of: dict[str, list[str]] = {}
    for association in run.partner_central.iter_engagement_resource_associations(MaxResults=1000):
        engagement_id = association["EngagementId"]
        by_engagement.setdefault(engagement_id, []).append(association)
        if association.get("ResourceType") == RESOURCE_TYPE_OPPORTUNITY:
            engagements_of.setdefault(association["ResourceId"], []).append(engagement_id)
    return by_engagement, engagements_of


def _track_chunk(run: SyncRun, writer: DealWriter, links: list[Link],
                 by_engagement: dict[str, list[dict[str, Any]]], engagements_of: dict[str, list[str]],
                 counts: dict[str, int]) -> None:
    deals = read_deals(run.hubspot, [link.deal_id for link in links], with_associations=False)
    ambiguous = {e for link in links if len(set(engagements_of.get(link.partner_id, []))) > 1
                 for e in engagements_of[link.partner_id]}
    created = {e: s.get("CreatedAt") for e, s in engagement_summaries(run, ambiguous).items()} if ambiguous else {}
    snapshots: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        deal = deals.get(link.deal_id)
        candidates = engagements_of.get(link.partner_id, [])
        if deal is None or not candidates:
            continue
        engagement_id = choose_engagement(candidates, deal.properties.get("aws_engagement_id"), created)
        counts["with_engagement"] += 1
        if engagement_id not in snapshots:
            snapshots[engagement_id] = list(run.partner_central.iter_resource_snapshots(
                EngagementIdentifier=engagement_id, MaxResults=1000))
        entries = resource_entries(by_engagement.get(engagement_id, []), snapshots[engagement_id])
        text = resources_json(entries)
        wanted: dict[str, Any] = {"aws_partner_resources": text, "aws_total_resources": len(entries)}
        if text != deal.properties.get("aws_partner_resources") or not deal.properties.get("aws_last_resource_upload"):
            uploaded = last_snapshot_time(run, engagement_id, link.partner_id, snapshots[engagement_id])
            if uploaded:
                wanted["aws_last_resource_upload"] = uploaded
        counts["updated"] += int(writer.update(link.deal_id, wanted, deal.properties, action="resource_sync"))


def resource_entries(associations: list[dict[str, Any]], snapshots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``aws_partner_resources`` entries: associations, then the latest revision of each
    snapshot series, each group sorted."""
    associated = {
        (a.get("ResourceType") or "", a.get("ResourceId") or "", a.get("CreatedBy") or ""): None
        for a in associations
    }
    entries: list[dict[str, Any]] = [
        {"type": kind, "id": resource_id, **({"created_by": created_by} if created_by else {})}
        for kind, resource_id, created_by in sorted(associated)
    ]
    latest: dict[tuple[str, str, str], int] = {}
    for snapshot in snapshots:
        key = (snapshot.get("ResourceType") or "", snapshot.get("ResourceId") or "",
               snapshot.get("ResourceSnapshotTemplateName") or "")
        latest[key] = max(latest.get(key, 0), int(snapshot.get("Revision") or 0))
    entries += [
        {"type": "ResourceSnapshot", "resource_type": kind, "resource_id": resource_id, "template": template,
         "revision": revision}
        for (kind, resource_id, template), revision in sorted(latest.items())
    ]
    return entries


def resources_json(entries: list[dict[str, Any]]) -> str:
    """Compact, deterministic JSON; entries beyond HubSpot's text limit are left out."""
    kept = list(entries)
    text = json.dumps(kept, separators=(",", ":"), sort_keys=True)
    while len(text) > PROPERTY_TEXT_LIMIT and kept:
        kept.pop()
        text = json.dumps(kept, separators=(",", ":"), sort_keys=True)
    if len(kept) < len(entries):
        log.warning("aws_partner_resources holds %d of %d resources (HubSpot's text limit)", len(kept), len(entries))
    return text


def last_snapshot_time(run: SyncRun, engagement_id: str, opportunity_id: str,
                       snapshots: list[dict[str, Any]]) -> str | None:
    """When the latest snapshot of the opportunity was created (HubSpot datetime), or None."""
    latest: dict[str, int] = {}
    for snapshot in snapshots:
        if snapshot.get("ResourceId") == opportunity_id and snapshot.get("ResourceType") == RESOURCE_TYPE_OPPORTUNITY:
            template = snapshot.get("ResourceSnapshotTemplateName") or ""
            latest[template] = max(latest.get(template, 0), int(snapshot.get("Revision") or 0))
    moments = []
    for template, revision in latest.items():
        detail = run.partner_central.get_resource_snapshot(
            EngagementIdentifier=engagement_id, ResourceType=RESOURCE_TYPE_OPPORTUNITY,
            ResourceIdentifier=opportunity_id, ResourceSnapshotTemplateIdentifier=template, Revision=revision,
        )
        moment = parse_datetime(detail.get("CreatedAt"))
        if moment:
            moments.append(moment)
    return hubspot_datetime(max(moments)) if moments else None
