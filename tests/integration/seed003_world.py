"""A small linked world in the sandbox for the seed 003 feature tests.

Deals, their company and contacts in HubSpot; opportunities (and engagements) in Partner
Central; the links between them written straight into the test's sync store, which is
faster than pushing the deals and keeps these tests independent of the push flows.
"""

from __future__ import annotations

import copy
from typing import Any

from partner_sync.mapping.properties import DEAL_PROPERTIES, PROPERTY_GROUP
from tests.integration.dag_runner import DagResult, load_dag, run_dag
from tests.integration.pc_server import EXAMPLE_OPPORTUNITY


def run(dag_id: str, **kwargs: Any) -> DagResult:
    """:func:`run_dag`, with the DAG's Param values restored afterwards.

    In ``dag.test()`` every task runs in this process, and merging a run's conf into the
    params sets the value of the DAG's own ``Param`` objects; without the restore the next run
    of the session would inherit this run's conf (a scheduled run would see the last manual
    run's ``contact_ids``).
    """
    dag = load_dag(dag_id)
    saved = [(param, copy.deepcopy(param.value))
             for params in [dag.params, *(task.params for task in dag.tasks)]
             for param in params.values()
             if hasattr(param, "value")]
    try:
        return run_dag(dag_id, **kwargs)
    finally:
        for param, value in saved:
            param.value = value


def seed_deal_properties(sandbox: Any) -> None:
    """The package's deal properties, as ``hubspot_properties_setup`` creates them (seeded
    through the admin API: no HubSpot request budget spent)."""
    sandbox.seed_objects("hubspot", {"properties": [
        {**definition, "objectType": "deals", "groupName": PROPERTY_GROUP["name"]}
        for definition in DEAL_PROPERTIES
    ]})


def seed_one(sandbox: Any, collection: str, properties: dict[str, Any], object_id: str | None = None) -> str:
    """Create (or, with ``object_id``, edit without a webhook) one HubSpot object; its id."""
    record: dict[str, Any] = {"properties": properties}
    if object_id is not None:
        record["id"] = object_id
    return sandbox.seed_objects("hubspot", {collection: [record]})[collection][0]


def associate(sandbox: Any, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
    sandbox.seed_objects("hubspot", {"associations": [
        {"fromObjectType": from_type, "fromObjectId": from_id, "toObjectType": to_type, "toObjectId": to_id},
    ]})


def opportunity_body(identifier: str, **changes: Any) -> dict[str, Any]:
    """An opportunity as GetOpportunity returns it (the api-facts example), approved by AWS."""
    body = copy.deepcopy(EXAMPLE_OPPORTUNITY)
    body.update(Id=identifier, PartnerOpportunityIdentifier=f"hs-{identifier}")
    body["LifeCycle"] = {**body["LifeCycle"], "ReviewStatus": "Approved"}
    body.update(changes)
    return body


def seed_opportunity(sandbox: Any, identifier: str, **changes: Any) -> dict[str, Any]:
    body = opportunity_body(identifier, **changes)
    sandbox.seed_objects("partner_central", {"opportunities": [body]})
    return body


def partner_central(sandbox: Any, collection: str) -> dict[str, dict[str, Any]]:
    """A Partner Central collection of the sandbox state, by id (snapshots by ARN)."""
    key = "Arn" if collection == "resource_snapshots" else "Id"
    return {item[key]: item for item in sandbox.state("partner_central")[collection]}


def deal(sandbox: Any, deal_id: str) -> dict[str, Any]:
    """A HubSpot deal's properties as the sandbox holds them."""
    for record in sandbox.state("hubspot")["deals"]:
        if record["id"] == deal_id:
            return record["properties"]
    raise KeyError(deal_id)


def notes_on(sandbox: Any, deal_id: str) -> list[str]:
    """Bodies of the notes associated with a deal."""
    state = sandbox.state("hubspot")
    note_ids = {
        str(a.get("fromObjectId")) for a in state["associations"]
        if a.get("fromObjectType") in ("notes", "note", "0-46") and str(a.get("toObjectId")) == deal_id
    } | {
        str(a.get("toObjectId")) for a in state["associations"]
        if a.get("toObjectType") in ("notes", "note", "0-46") and str(a.get("fromObjectId")) == deal_id
    }
    return [n["properties"].get("hs_note_body", "") for n in state["notes"] if n["id"] in note_ids]


def calls(sandbox: Any, system: str, route: str) -> int:
    """How many requests ``route`` (an operation name for Partner Central) has served."""
    return sandbox.stats(system)["by_route"].get(route, 0)


def without(document: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A copy of ``document`` without the dotted ``paths`` (for "everything else unchanged")."""
    copied = copy.deepcopy(document)
    for path in paths:
        node = copied
        *parents, last = path.split(".")
        for part in parents:
            node = node.get(part) or {}
        node.pop(last, None)
    return copied
