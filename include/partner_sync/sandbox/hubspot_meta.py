"""HubSpot emulator routes around the objects: properties and property groups, associations v4,
owners and deal pipelines.

Properties: ``POST`` validates name (lowercase, digits, ``_``), label, ``type``, ``fieldType``,
an existing ``groupName`` and unique option values; a duplicate name is 409 ``CONFLICT``
(status UNCONFIRMED for the real API). HubSpot-defined properties can't be changed or deleted.
Associations are stored both ways (``deal -> company`` 341 also records ``company -> deal`` 342);
v4 responses give ``toObjectId`` as a number, as the real API does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from partner_sync.sandbox.hubspot_objects import batch_response
from partner_sync.sandbox.hubspot_schema import (
    ASSOCIATION_TYPE_IDS,
    FIELD_TYPES,
    PROPERTY_TYPES,
    iso_millis,
    object_type_id,
    property_definition,
    singular,
    valid_property_name,
)
from partner_sync.sandbox.hubspot_store import CrmError

if TYPE_CHECKING:
    from partner_sync.sandbox.hubspot import HubSpotEmulator

PROPS = "/crm/v3/properties/{objectType}"
V4 = "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations"
MAX_ASSOCIATION_BATCH = 1000
_EDITABLE = ("label", "description", "groupName", "options", "displayOrder", "hidden", "formField", "fieldType", "type")


def _now() -> str:
    return iso_millis(datetime.now(timezone.utc))


def _specs_view(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"category": s["associationCategory"], "typeId": s["associationTypeId"],
         "label": ASSOCIATION_TYPE_IDS[s["associationTypeId"]][2]}
        for s in specs
    ]


class MetaRoutes:
    """Handlers for properties, associations v4, owners and pipelines (mixed into the emulator)."""

    property_groups: dict[str, dict[str, dict[str, Any]]]
    pipelines: dict[str, dict[str, Any]]

    def register_meta_routes(self: HubSpotEmulator) -> None:
        r = self.api_route
        r(PROPS, ["GET"], self.list_properties)
        r(PROPS, ["POST"], self.create_property, write=True)
        r(PROPS + "/groups", ["GET"], self.list_groups)
        r(PROPS + "/groups", ["POST"], self.create_group, write=True)
        r(PROPS + "/groups/{groupName}", ["GET"], self.get_group, template=PROPS + "/groups/{groupName}")
        r(PROPS + "/groups/{groupName}", ["PATCH"], self.update_group, write=True)
        r(PROPS + "/{propertyName}", ["GET"], self.get_property)
        r(PROPS + "/{propertyName}", ["PATCH"], self.update_property, write=True)
        r(PROPS + "/{propertyName}", ["DELETE"], self.delete_property, write=True)
        r(V4 + "/default/{toObjectType}/{toObjectId}", ["PUT"], self.put_default_association, write=True,
          template="/crm/v4/objects/{fromObjectType}/{id}/associations/default/{toObjectType}/{toId}")
        r(V4 + "/{toObjectType}/{toObjectId}", ["PUT"], self.put_labelled_association, write=True,
          template="/crm/v4/objects/{fromObjectType}/{id}/associations/{toObjectType}/{toId}")
        r(V4 + "/{toObjectType}/{toObjectId}", ["DELETE"], self.delete_association, write=True,
          template="/crm/v4/objects/{fromObjectType}/{id}/associations/{toObjectType}/{toId}")
        r(V4 + "/{toObjectType}", ["GET"], self.list_associations,
          template="/crm/v4/objects/{fromObjectType}/{id}/associations/{toObjectType}")
        r("/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read", ["POST"], self.batch_read_associations)
        r("/crm/v3/owners", ["GET"], self.list_owners)
        r("/crm/v3/owners/", ["GET"], self.list_owners, template="/crm/v3/owners")
        r("/crm/v3/owners/{ownerId}", ["GET"], self.get_owner, template="/crm/v3/owners/{id}")
        r("/crm/v3/pipelines/{objectType}", ["GET"], self.list_pipelines)
        r("/crm/v3/pipelines/{objectType}/{pipelineId}", ["GET"], self.get_pipeline)
        r("/crm/v3/pipelines/{objectType}/{pipelineId}/stages", ["GET"], self.list_stages)

    # ----------------------------------------------------------------- properties
    async def list_properties(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        return JSONResponse({"results": list(self.definitions(object_type).values())})

    def _existing_property(self: HubSpotEmulator, request: Request) -> tuple[str, dict[str, Any]]:
        object_type = self.object_type_param(request)
        name = request.path_params["propertyName"]
        definition = self.definition(object_type, name)
        if definition is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for {object_type}")
        return object_type, definition

    async def get_property(self: HubSpotEmulator, request: Request) -> Response:
        return JSONResponse(self._existing_property(request)[1])

    def _check_definition(self: HubSpotEmulator, object_type: str, body: dict[str, Any], partial: bool) -> None:
        problems = []
        if not partial:
            if not valid_property_name(body.get("name")):
                problems.append("name must start with a lowercase letter and hold only a-z, 0-9 and _")
            for required in ("label", "type", "fieldType", "groupName"):
                if not isinstance(body.get(required), str) or not body.get(required):
                    problems.append(f"{required} is required")
        if "type" in body and body["type"] not in PROPERTY_TYPES:
            problems.append(f"type must be one of {', '.join(PROPERTY_TYPES)}")
        if "fieldType" in body and body["fieldType"] not in FIELD_TYPES:
            problems.append(f"fieldType must be one of {', '.join(FIELD_TYPES)}")
        if body.get("groupName") and body["groupName"] not in self.property_groups.get(object_type, {}):
            problems.append(f"property group {body['groupName']} does not exist")
        options = body.get("options")
        if options is not None:
            if not isinstance(options, list) or not all(isinstance(o, dict) and isinstance(o.get("value"), str)
                                                        for o in options):
                problems.append("options must be a list of {label, value} objects")
            else:
                values = [o["value"] for o in options]
                if len(set(values)) != len(values):
                    problems.append("option values must be unique")
        if body.get("type") == "enumeration" and not partial and not options:
            problems.append("an enumeration property needs options")
        if problems:
            raise CrmError(400, "VALIDATION_ERROR", "; ".join(problems),
                           errors=[{"message": p, "code": "INVALID_PROPERTY_DEFINITION"} for p in problems])

    async def create_property(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        body = await self.json_body(request)
        if not isinstance(body, dict):
            raise CrmError(400, "VALIDATION_ERROR", "body must be a property definition")
        self._check_definition(object_type, body, partial=False)
        if self.definition(object_type, body["name"]) is not None:
            raise CrmError(409, "CONFLICT", f"Property named '{body['name']}' already exists.",
                           context={"name": [body["name"]]})
        definition = property_definition(body, _now())
        self.state["properties"][f"{object_type}/{body['name']}"] = definition
        return JSONResponse(definition, status_code=201)

    async def update_property(self: HubSpotEmulator, request: Request) -> Response:
        object_type, definition = self._existing_property(request)
        body = await self.json_body(request)
        if not isinstance(body, dict):
            raise CrmError(400, "VALIDATION_ERROR", "body must be an object")
        if definition["hubspotDefined"]:
            raise CrmError(400, "VALIDATION_ERROR", f"{definition['name']} is a HubSpot-defined property")
        self._check_definition(object_type, body, partial=True)
        merged = {**definition, **{k: body[k] for k in _EDITABLE if k in body}}
        updated = property_definition(merged, _now())
        updated["createdAt"] = definition["createdAt"]
        self.state["properties"][f"{object_type}/{definition['name']}"] = updated
        return JSONResponse(updated)

    async def delete_property(self: HubSpotEmulator, request: Request) -> Response:
        object_type, definition = self._existing_property(request)
        if definition["hubspotDefined"]:
            raise CrmError(400, "VALIDATION_ERROR", f"{definition['name']} is a HubSpot-defined property")
        del self.state["properties"][f"{object_type}/{definition['name']}"]
        return Response(status_code=204)

    async def list_groups(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        return JSONResponse({"results": list(self.property_groups[object_type].values())})

    async def get_group(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        group = self.property_groups[object_type].get(request.path_params["groupName"])
        if group is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Unable to find group {request.path_params['groupName']}")
        return JSONResponse(group)

    async def create_group(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        body = await self.json_body(request)
        if not isinstance(body, dict) or not valid_property_name(body.get("name")) or not body.get("label"):
            raise CrmError(400, "VALIDATION_ERROR", "a property group needs a valid name and a label")
        if body["name"] in self.property_groups[object_type]:
            raise CrmError(409, "CONFLICT", f"Property group named '{body['name']}' already exists.")
        group = {"name": body["name"], "label": body["label"], "displayOrder": body.get("displayOrder", -1),
                 "archived": False}
        self.property_groups[object_type][body["name"]] = group
        return JSONResponse(group, status_code=201)

    async def update_group(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        group = self.property_groups[object_type].get(request.path_params["groupName"])
        if group is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Unable to find group {request.path_params['groupName']}")
        body = await self.json_body(request) or {}
        group.update({k: body[k] for k in ("label", "displayOrder") if k in body})
        return JSONResponse(group)

    # ----------------------------------------------------------------- associations v4
    def _pair(self: HubSpotEmulator, request: Request) -> tuple[str, str, str, str]:
        from_type = self.object_type_param(request, "fromObjectType")
        to_type = self.object_type_param(request, "toObjectType")
        return from_type, request.path_params["fromObjectId"], to_type, request.path_params.get("toObjectId", "")

    async def put_default_association(self: HubSpotEmulator, request: Request) -> Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        started = _now()
        specs = self.default_association_spec(from_type, to_type)
        back = self.default_association_spec(to_type, from_type)
        self.associate(from_type, from_id, to_type, to_id, specs, source="INTEGRATION")
        results = [
            {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": specs[0]},
            {"from": {"id": to_id}, "to": {"id": from_id}, "associationSpec": back[0]},
        ]
        return batch_response(results, [], started, 200)

    async def put_labelled_association(self: HubSpotEmulator, request: Request) -> Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        specs = self.check_association_specs(from_type, to_type, await self.json_body(request))
        self.associate(from_type, from_id, to_type, to_id, specs, source="INTEGRATION")
        labels = [ASSOCIATION_TYPE_IDS[s["associationTypeId"]][2] for s in specs]
        return JSONResponse({
            "fromObjectTypeId": object_type_id(from_type), "fromObjectId": int(from_id),
            "toObjectTypeId": object_type_id(to_type), "toObjectId": int(to_id),
            "labels": [label for label in labels if label],
        }, status_code=201)

    async def delete_association(self: HubSpotEmulator, request: Request) -> Response:
        from_type, from_id, to_type, to_id = self._pair(request)
        self.dissociate(from_type, from_id, to_type, to_id, source="INTEGRATION")
        return Response(status_code=204)

    async def list_associations(self: HubSpotEmulator, request: Request) -> Response:
        from_type, from_id, to_type, _ = self._pair(request)
        if from_id not in self.state[from_type]:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"{singular(from_type)} {from_id} does not exist")
        results = [{"toObjectId": int(to_id), "associationTypes": _specs_view(specs)}
                   for to_id, specs in self.associations_of(from_type, from_id, to_type)]
        return JSONResponse({"results": results})

    async def batch_read_associations(self: HubSpotEmulator, request: Request) -> Response:
        started = _now()
        from_type = self.object_type_param(request, "fromObjectType")
        to_type = self.object_type_param(request, "toObjectType")
        body = await self.json_body(request)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or len(inputs) > MAX_ASSOCIATION_BATCH:
            raise CrmError(400, "VALIDATION_ERROR", f"inputs must be a list of at most {MAX_ASSOCIATION_BATCH} ids")
        results, errors = [], []
        for record_input in inputs:
            from_id = str((record_input or {}).get("id", ""))
            linked = self.associations_of(from_type, from_id, to_type)
            if linked:
                results.append({"from": {"id": from_id}, "to": [
                    {"toObjectId": int(to_id), "associationTypes": _specs_view(specs)} for to_id, specs in linked
                ]})
            else:
                errors.append(CrmError(
                    404, "OBJECT_NOT_FOUND",
                    f"No {to_type} is associated with {singular(from_type)} {from_id}.",
                ).standard_error({"fromObjectId": [from_id]}))
        return batch_response(results, errors, started, 200)

    # ----------------------------------------------------------------- owners and pipelines
    async def list_owners(self: HubSpotEmulator, request: Request) -> Response:
        try:
            limit = max(1, min(int(request.query_params.get("limit", "100")), 500))
            after = int(request.query_params.get("after", "0") or 0)
        except ValueError as exc:
            raise CrmError(400, "VALIDATION_ERROR", "limit and after must be integers") from exc
        email = request.query_params.get("email")
        owners = sorted((o for o in self.state["owners"].values()
                         if not email or o["email"].lower() == email.lower()), key=lambda o: int(o["id"]))
        page = [o for o in owners if int(o["id"]) > after][:limit]
        body: dict[str, Any] = {"results": page}
        if page and int(page[-1]["id"]) < int(owners[-1]["id"]):
            body["paging"] = {"next": {"after": page[-1]["id"]}}
        return JSONResponse(body)

    async def get_owner(self: HubSpotEmulator, request: Request) -> Response:
        owner_id = request.path_params["ownerId"]
        if request.query_params.get("idProperty") == "userId":
            owner = next((o for o in self.state["owners"].values() if str(o["userId"]) == owner_id), None)
        else:
            owner = self.state["owners"].get(owner_id)
        if owner is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} does not exist")
        return JSONResponse(owner)

    def _pipeline_type(self: HubSpotEmulator, request: Request) -> None:
        if self.object_type_param(request) != "deals":
            raise CrmError(400, "VALIDATION_ERROR", "the sandbox serves deal pipelines only")

    async def list_pipelines(self: HubSpotEmulator, request: Request) -> Response:
        self._pipeline_type(request)
        return JSONResponse({"results": list(self.pipelines.values())})

    async def get_pipeline(self: HubSpotEmulator, request: Request) -> Response:
        self._pipeline_type(request)
        pipeline = self.pipelines.get(request.path_params["pipelineId"])
        if pipeline is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Pipeline {request.path_params['pipelineId']} does not exist")
        return JSONResponse(pipeline)

    async def list_stages(self: HubSpotEmulator, request: Request) -> Response:
        self._pipeline_type(request)
        pipeline = self.pipelines.get(request.path_params["pipelineId"])
        if pipeline is None:
            raise CrmError(404, "OBJECT_NOT_FOUND", f"Pipeline {request.path_params['pipelineId']} does not exist")
        return JSONResponse({"results": pipeline["stages"]})
