"""CRM v3 object routes of the HubSpot emulator: list, create, read, update, archive, the five
batch operations and search, for deals, contacts, companies and notes.

Batch semantics: at most 100 inputs (more -> 400); records are processed one by one, valid ones
are written, and each invalid one (unknown id, invalid or unknown property, taken unique value)
becomes an entry of ``errors`` with a ``context`` naming it (``ids`` and, when the input had one,
``objectWriteTraceId``); any error makes the answer a 207. Results echo ``objectWriteTraceId``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from partner_sync.sandbox.hubspot_schema import ASSOCIATION_TYPE_IDS, DEFAULT_RETURNED, iso_millis, singular
from partner_sync.sandbox.hubspot_search import SearchRequestError, object_matches, sorted_matches, validate_search
from partner_sync.sandbox.hubspot_store import CrmError, not_found

if TYPE_CHECKING:
    from partner_sync.sandbox.hubspot import HubSpotEmulator

MAX_BATCH_INPUTS = 100
OBJECTS = "/crm/v3/objects/{objectType}"


def _csv(request: Request, name: str) -> list[str] | None:
    values = [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v]
    return values or None


def _names(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CrmError(400, "VALIDATION_ERROR", "properties must be a list of property names")
    return value or None


def _inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise CrmError(400, "VALIDATION_ERROR", "inputs must be a list of objects")
    if len(inputs) > MAX_BATCH_INPUTS:
        raise CrmError(
            400, "VALIDATION_ERROR",
            f"Batch input size of {len(inputs)} exceeds the limit of {MAX_BATCH_INPUTS} inputs",
        )
    return inputs


def batch_response(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str, ok_status: int) -> Response:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_millis(datetime.now(timezone.utc)),
    }
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
    return JSONResponse(body, status_code=207 if errors else ok_status)


def _trace(record_input: dict[str, Any]) -> dict[str, list[str]]:
    trace = record_input.get("objectWriteTraceId")
    return {"objectWriteTraceId": [str(trace)]} if trace is not None else {}


class ObjectRoutes:
    """Route handlers for ``/crm/v3/objects/{objectType}...`` (mixed into the emulator)."""

    search_result_cap: int

    def register_object_routes(self: HubSpotEmulator) -> None:
        r = self.api_route
        r(OBJECTS, ["GET"], self.list_objects)
        r(OBJECTS, ["POST"], self.create_object, write=True)
        r(OBJECTS + "/search", ["POST"], self.search_objects, search=True)
        r(OBJECTS + "/batch/read", ["POST"], self.batch_read)
        r(OBJECTS + "/batch/create", ["POST"], self.batch_create, write=True)
        r(OBJECTS + "/batch/update", ["POST"], self.batch_update, write=True)
        r(OBJECTS + "/batch/upsert", ["POST"], self.batch_upsert, write=True)
        r(OBJECTS + "/batch/archive", ["POST"], self.batch_archive, write=True)
        r(OBJECTS + "/{objectId}", ["GET"], self.get_object, template=OBJECTS + "/{id}")
        r(OBJECTS + "/{objectId}", ["PATCH"], self.update_object, template=OBJECTS + "/{id}", write=True)
        r(OBJECTS + "/{objectId}", ["DELETE"], self.delete_object, template=OBJECTS + "/{id}", write=True)

    # ----------------------------------------------------------------- single objects
    async def list_objects(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        try:
            limit = int(request.query_params.get("limit", "10"))
            after = int(request.query_params.get("after", "0") or 0)
        except ValueError as exc:
            raise CrmError(400, "VALIDATION_ERROR", "limit and after must be integers") from exc
        limit = max(1, min(limit, 100))
        records = sorted(
            (r for r in self.state[object_type].values() if int(r["id"]) > after), key=lambda r: int(r["id"])
        )
        page = records[:limit]
        body: dict[str, Any] = {"results": [
            self.object_view(object_type, r, _csv(request, "properties"), _csv(request, "associations"))
            for r in page
        ]}
        if len(records) > limit:
            body["paging"] = {"next": {"after": page[-1]["id"],
                                       "link": f"{request.url.path}?after={page[-1]['id']}"}}
        return JSONResponse(body)

    async def get_object(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        object_id = request.path_params["objectId"]
        id_property = request.query_params.get("idProperty")
        if id_property:
            self.unique_id_property(object_type, id_property)
        record = self.find(object_type, object_id, id_property)
        if record is None:
            raise not_found(object_type, object_id)
        return JSONResponse(self.object_view(
            object_type, record, _csv(request, "properties"), _csv(request, "associations"),
            _csv(request, "propertiesWithHistory"),
        ))

    def _inline_associations(self: HubSpotEmulator, object_type: str, associations: Any) -> list[tuple[str, str, list]]:
        """Validate ``associations`` of a create: [(to type, to id, specs)]."""
        if associations is None:
            return []
        if not isinstance(associations, list):
            raise CrmError(400, "VALIDATION_ERROR", "associations must be a list")
        links = []
        for association in associations:
            to_id = str(((association or {}).get("to") or {}).get("id", ""))
            types = (association or {}).get("types")
            first = types[0].get("associationTypeId") if isinstance(types, list) and types and isinstance(types[0], dict) else None
            known = ASSOCIATION_TYPE_IDS.get(first) if isinstance(first, int) else None
            if known is None or known[0] != object_type:
                raise CrmError(400, "VALIDATION_ERROR",
                               f"association type {first} is not valid for a {singular(object_type)}")
            to_type = known[1]
            specs = self.check_association_specs(object_type, to_type, types)
            if to_id not in self.state[to_type]:
                raise CrmError(400, "VALIDATION_ERROR",
                               f"One or more associations are invalid: {singular(to_type)} {to_id} does not exist",
                               context={"toObjectId": [to_id]})
            links.append((to_type, to_id, specs))
        return links

    def _create(self: HubSpotEmulator, object_type: str, record_input: dict[str, Any]) -> dict[str, Any]:
        values = self.validate_properties(object_type, record_input.get("properties", {}))
        links = self._inline_associations(object_type, record_input.get("associations"))
        self.unique_conflict(object_type, values, None)
        record = self.create_record(object_type, values, source="INTEGRATION")
        for to_type, to_id, specs in links:
            self.associate(object_type, record["id"], to_type, to_id, specs, source="INTEGRATION")
        view = self.object_view(object_type, record, list(DEFAULT_RETURNED[object_type]) + list(values))
        if record_input.get("objectWriteTraceId") is not None:
            view["objectWriteTraceId"] = str(record_input["objectWriteTraceId"])
        return view

    async def create_object(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        body = await self.json_body(request)
        if not isinstance(body, dict):
            raise CrmError(400, "VALIDATION_ERROR", "body must be an object with properties")
        return JSONResponse(self._create(object_type, body), status_code=201)

    def _update(self: HubSpotEmulator, object_type: str, record: dict[str, Any], properties: Any) -> dict[str, Any]:
        values = self.validate_properties(object_type, properties, record["properties"])
        self.unique_conflict(object_type, values, record["id"])
        self.update_record(object_type, record, values, source="INTEGRATION")
        return self.object_view(object_type, record, list(DEFAULT_RETURNED[object_type]) + list(values))

    async def update_object(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        object_id = request.path_params["objectId"]
        id_property = request.query_params.get("idProperty")
        if id_property:
            self.unique_id_property(object_type, id_property)
        body = await self.json_body(request)
        record = self.find(object_type, object_id, id_property)
        if record is None:
            raise not_found(object_type, object_id)
        return JSONResponse(self._update(object_type, record, (body or {}).get("properties", {})))

    async def delete_object(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        id_property = request.query_params.get("idProperty")
        if id_property:
            self.unique_id_property(object_type, id_property)
        record = self.find(object_type, request.path_params["objectId"], id_property)
        if record is not None:
            self.archive_record(object_type, record["id"], source="INTEGRATION")
        return Response(status_code=204)

    # ----------------------------------------------------------------- batch
    async def batch_read(self: HubSpotEmulator, request: Request) -> Response:
        started = iso_millis(datetime.now(timezone.utc))
        object_type = self.object_type_param(request)
        body = await self.json_body(request)
        inputs = _inputs(body)
        id_property = body.get("idProperty")
        if id_property:
            self.unique_id_property(object_type, id_property)
        properties = _names(body.get("properties"))
        history = _names(body.get("propertiesWithHistory"))
        results, missing = [], []
        for record_input in inputs:
            object_id = str(record_input.get("id", ""))
            record = self.find(object_type, object_id, id_property)
            if record is None:
                missing.append(object_id)
            else:
                results.append(self.object_view(object_type, record, properties, None, history))
        errors = [not_found(object_type, "").standard_error({"ids": missing})] if missing else []
        return batch_response(results, errors, started, 200)

    async def batch_create(self: HubSpotEmulator, request: Request) -> Response:
        started = iso_millis(datetime.now(timezone.utc))
        object_type = self.object_type_param(request)
        results, errors = [], []
        for index, record_input in enumerate(_inputs(await self.json_body(request))):
            try:
                results.append(self._create(object_type, record_input))
            except CrmError as exc:
                errors.append(exc.standard_error({"index": [str(index)], **_trace(record_input)}))
        return batch_response(results, errors, started, 201)

    async def batch_update(self: HubSpotEmulator, request: Request) -> Response:
        started = iso_millis(datetime.now(timezone.utc))
        object_type = self.object_type_param(request)
        inputs = _inputs(await self.json_body(request))
        ids = [str(i.get("id")) for i in inputs]
        if len(set(ids)) != len(ids):
            raise CrmError(400, "VALIDATION_ERROR", "Duplicate IDs found in batch input: "
                           + ", ".join(sorted({i for i in ids if ids.count(i) > 1})))
        results, errors = [], []
        for record_input in inputs:
            object_id = str(record_input.get("id", ""))
            context = {"ids": [object_id], **_trace(record_input)}
            try:
                id_property = record_input.get("idProperty")
                if id_property:
                    self.unique_id_property(object_type, id_property)
                record = self.find(object_type, object_id, id_property)
                if record is None:
                    raise not_found(object_type, object_id)
                view = self._update(object_type, record, record_input.get("properties", {}))
                if record_input.get("objectWriteTraceId") is not None:
                    view["objectWriteTraceId"] = str(record_input["objectWriteTraceId"])
                results.append(view)
            except CrmError as exc:
                errors.append(exc.standard_error(context))
        return batch_response(results, errors, started, 200)

    async def batch_upsert(self: HubSpotEmulator, request: Request) -> Response:
        started = iso_millis(datetime.now(timezone.utc))
        object_type = self.object_type_param(request)
        results, errors = [], []
        for record_input in _inputs(await self.json_body(request)):
            object_id = str(record_input.get("id", ""))
            context = {"ids": [object_id], **_trace(record_input)}
            try:
                id_property = record_input.get("idProperty") or "hs_object_id"
                self.unique_id_property(object_type, id_property)
                record = self.find(object_type, object_id, id_property)
                properties = dict(record_input.get("properties") or {})
                if record is None:
                    if id_property == "hs_object_id":
                        raise not_found(object_type, object_id)
                    properties[id_property] = object_id
                    view = self._create(object_type, {"properties": properties})
                    view["new"] = True
                else:
                    view = self._update(object_type, record, properties)
                    view["new"] = False
                if record_input.get("objectWriteTraceId") is not None:
                    view["objectWriteTraceId"] = str(record_input["objectWriteTraceId"])
                results.append(view)
            except CrmError as exc:
                errors.append(exc.standard_error(context))
        return batch_response(results, errors, started, 200)

    async def batch_archive(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        for record_input in _inputs(await self.json_body(request)):
            self.archive_record(object_type, str(record_input.get("id", "")), source="INTEGRATION")
        return Response(status_code=204)

    # ----------------------------------------------------------------- search
    async def search_objects(self: HubSpotEmulator, request: Request) -> Response:
        object_type = self.object_type_param(request)
        body = await self.json_body(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise CrmError(400, "VALIDATION_ERROR", "the search body must be an object")
        definitions = self.definitions(object_type)
        try:
            validate_search(body, definitions)
            after = int(body.get("after") or 0)
        except (SearchRequestError, ValueError) as exc:
            raise CrmError(400, "VALIDATION_ERROR", str(exc)) from exc
        cap = self.search_result_cap
        if after >= cap or after < 0:
            raise CrmError(
                400, "VALIDATION_ERROR",
                f"Search results are limited to {cap} records; after={after} pages past that limit",
            )
        matching = [r for r in self.state[object_type].values()
                    if object_matches(object_type, r["properties"], body, definitions)]
        ordered = sorted_matches(matching, body, definitions)
        limit = body.get("limit", 10)
        end = min(after + limit, len(ordered), cap)
        properties = _names(body.get("properties"))
        response: dict[str, Any] = {
            "total": len(ordered),
            "results": [self.object_view(object_type, r, properties) for r in ordered[after:end]],
        }
        if end < min(len(ordered), cap):
            response["paging"] = {"next": {"after": str(end)}}
        return JSONResponse(response)
