"""The HubSpot emulator's CRM store: objects, property validation, unique values, associations.

:class:`CrmStore` is a mixin of :class:`~partner_sync.sandbox.hubspot.HubSpotEmulator` that
holds every rule about *what* a write does, independent of HTTP: the route handlers and
``/_sandbox/seed`` both go through it, so a seeded edit behaves exactly like an edit made in
HubSpot (same validation, same webhook events, ``changeSource`` ``CRM`` instead of
``INTEGRATION``). Objects are kept as the API returns them: ``{id, properties, createdAt,
updatedAt, archived}`` with every value a string.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from partner_sync.sandbox.core import new_uuid
from partner_sync.sandbox.hubspot_schema import (
    ASSOCIATION_TYPE_IDS,
    DEFAULT_ASSOCIATION_TYPES,
    DEFAULT_RETURNED,
    INVERSE_ASSOCIATION_TYPE,
    READ_ONLY,
    association_type_name,
    iso_millis,
    normalise_value,
    singular,
)
from partner_sync.sandbox.hubspot_webhooks import WebhookDispatcher

OBJECT_COLLECTIONS = ("deals", "contacts", "companies", "notes")
#: first id handed out per object type (ids are numeric strings, as in HubSpot)
ID_BASES = {"deals": 1_000_000_000, "companies": 2_000_000_000, "contacts": 3_000_000_000, "notes": 4_000_000_000}
#: properties the emulator maintains; changes to them raise no propertyChange events
MANAGED = {"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate", "lastmodifieddate"}
WEBHOOK_TYPES = ("deals", "contacts", "companies")


class CrmError(Exception):
    """An error the API answers with its standard error body."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.context = context or {}
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": new_uuid(),
            "category": self.category,
        }
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        return body

    def standard_error(self, context: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """The entry of a batch response's ``errors`` list."""
        return {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": {**self.context, **(context or {})},
            "errors": self.errors,
            "links": {},
        }


def validation_error(problems: list[dict[str, Any]]) -> CrmError:
    """400 "Property values were not valid", with the problem list embedded as the API does."""
    return CrmError(
        400,
        "VALIDATION_ERROR",
        "Property values were not valid: " + json.dumps(problems),
        errors=[
            {"message": p["message"], "code": p["error"], "in": p["name"], "context": {"propertyName": [p["name"]]}}
            for p in problems
        ],
    )


def not_found(object_type: str, object_id: str) -> CrmError:
    return CrmError(
        404, "OBJECT_NOT_FOUND",
        f"Could not get some {singular(object_type).upper()} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        context={"ids": [str(object_id)]},
    )


class CrmStore:
    """Object, property and association rules shared by the API routes and the seed endpoint."""

    state: dict[str, dict[str, dict[str, Any]]]
    webhooks: WebhookDispatcher
    pipelines: dict[str, dict[str, Any]]
    id_counters: dict[str, int]

    # ----------------------------------------------------------------- properties
    def definitions(self, object_type: str) -> dict[str, dict[str, Any]]:
        prefix = f"{object_type}/"
        return {k[len(prefix):]: v for k, v in self.state["properties"].items() if k.startswith(prefix)}

    def definition(self, object_type: str, name: str) -> dict[str, Any] | None:
        return self.state["properties"].get(f"{object_type}/{name}")

    def _allowed_options(self, object_type: str, name: str, merged: dict[str, str]) -> list[str] | None:
        if name == "hubspot_owner_id":
            return list(self.state["owners"])
        if object_type == "deals" and name == "pipeline":
            return list(self.pipelines)
        if object_type == "deals" and name == "dealstage":
            pipeline = self.pipelines.get(merged.get("pipeline") or "default")
            return [stage["id"] for stage in pipeline["stages"]] if pipeline else []
        return None

    def validate_properties(
        self, object_type: str, properties: Any, current: dict[str, str] | None = None, seeding: bool = False
    ) -> dict[str, str]:
        """Normalised values of a write; raises :class:`CrmError` naming every invalid one."""
        if not isinstance(properties, dict):
            raise CrmError(400, "VALIDATION_ERROR", "properties must be an object of property values")
        merged = {**(current or {}), **{k: v for k, v in properties.items() if isinstance(v, str)}}
        values: dict[str, str] = {}
        problems = []
        for name, raw in properties.items():
            if name in READ_ONLY and seeding:
                continue  # seeds may carry the API's read-only fields; the store recomputes them
            definition = self.definition(object_type, name)
            if definition is not None and definition["modificationMetadata"]["readOnlyValue"]:
                message = f'"{name}" is a read only property; its value cannot be set.'
                problems.append({"isValid": False, "message": message, "error": "READ_ONLY_VALUE", "name": name,
                                 "localizedErrorMessage": message})
                continue
            value, problem = normalise_value(
                definition, name, raw, self._allowed_options(object_type, name, merged)
            )
            if problem:
                problems.append(problem)
            else:
                values[name] = value  # type: ignore[assignment]
        if problems:
            raise validation_error(problems)
        return values

    def unique_conflict(self, object_type: str, values: dict[str, str], exclude_id: str | None) -> None:
        """409 if a unique value (a ``hasUniqueValue`` property, or a contact's email) is taken."""
        for name, value in values.items():
            definition = self.definition(object_type, name)
            is_email = object_type == "contacts" and name == "email"
            if not value or definition is None or not (definition["hasUniqueValue"] or is_email):
                continue
            existing = self.find_by_property(object_type, name, value)
            if existing is not None and existing["id"] != exclude_id:
                if is_email:
                    message = f"Contact already exists. Existing ID: {existing['id']}"
                else:
                    message = (f'A {singular(object_type)} with {name} "{value}" already exists. '
                               f"Existing ID: {existing['id']}")
                raise CrmError(409, "CONFLICT", message, context={"id": [existing["id"]], "propertyName": [name]})

    def find_by_property(self, object_type: str, name: str, value: str) -> dict[str, Any] | None:
        """The record whose property ``name`` holds ``value`` (a contact's email in any case)."""
        wanted = _folded(object_type, name, value)
        for object_id in self._value_index(object_type, name).get(wanted, ()):
            record = self.state[object_type].get(object_id)
            if record is not None and _folded(object_type, name, record["properties"].get(name)) == wanted:
                return record
        return None

    def _value_index(self, object_type: str, name: str) -> dict[str, list[str]]:
        """``{value: [ids]}`` of one property, so that unique-value checks and upserts by an
        ``idProperty`` do not scan every record (an upsert of 10,000 deals scanned the store
        20,000 times). Built by one scan on first use, kept current by :meth:`_index_record`;
        rebuilt when the collection was replaced (reset)."""
        indexes: dict[tuple[str, str], tuple[dict, dict[str, list[str]]]] = self.__dict__.setdefault("_indexes", {})
        collection = self.state[object_type]
        cached = indexes.get((object_type, name))
        if cached is not None and cached[0] is collection:
            return cached[1]
        index: dict[str, list[str]] = {}
        for object_id, record in collection.items():
            value = _folded(object_type, name, record["properties"].get(name))
            if value:
                index.setdefault(value, []).append(object_id)
        indexes[(object_type, name)] = (collection, index)
        return index

    def _index_record(self, object_type: str, object_id: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        """Move a record between the value indexes built so far (``after`` empty: archived)."""
        collection = self.state[object_type]
        for (indexed_type, name), (indexed, index) in self.__dict__.get("_indexes", {}).items():
            if indexed_type != object_type or indexed is not collection:
                continue
            old, new = _folded(object_type, name, before.get(name)), _folded(object_type, name, after.get(name))
            if old == new:
                continue
            if old and object_id in index.get(old, ()):
                index[old].remove(object_id)
                if not index[old]:
                    del index[old]
            if new:
                index.setdefault(new, []).append(object_id)

    def unique_id_property(self, object_type: str, id_property: str) -> None:
        """400 unless ``id_property`` may identify objects (``hs_object_id`` or a unique property)."""
        if id_property == "hs_object_id" or (object_type == "contacts" and id_property == "email"):
            return
        definition = self.definition(object_type, id_property)
        if definition is None or not definition["hasUniqueValue"]:
            raise CrmError(400, "VALIDATION_ERROR",
                           f"{id_property} is not a unique identifier property for {object_type}",
                           context={"idProperty": [id_property]})

    def find(self, object_type: str, object_id: str, id_property: str | None = None) -> dict[str, Any] | None:
        if not id_property or id_property == "hs_object_id":
            return self.state[object_type].get(str(object_id))
        return self.find_by_property(object_type, id_property, str(object_id))

    # ----------------------------------------------------------------- objects
    def next_id(self, object_type: str) -> str:
        self.id_counters[object_type] = max(self.id_counters.get(object_type, 0), ID_BASES[object_type]) + 1
        return str(self.id_counters[object_type])

    def claim_id(self, object_type: str, object_id: str) -> None:
        """Keep generated ids above an explicitly given (seeded) numeric id."""
        if object_id.isdigit():
            self.id_counters[object_type] = max(self.id_counters.get(object_type, 0), int(object_id))

    def create_record(
        self,
        object_type: str,
        values: dict[str, str],
        source: str,
        object_id: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        emit: bool = True,
    ) -> dict[str, Any]:
        now = iso_millis(datetime.now(timezone.utc))
        if object_id:
            self.claim_id(object_type, object_id)
        else:
            object_id = self.next_id(object_type)
        created = created_at or values.get("createdate") or now
        if updated_at:
            updated = updated_at
        elif created_at or values.get("createdate"):
            updated = created
        else:
            updated = now
        properties = {k: v for k, v in values.items() if v != ""}
        properties.update(hs_object_id=object_id, createdate=created, hs_createdate=created,
                          hs_lastmodifieddate=updated)
        if object_type == "contacts":
            properties["lastmodifieddate"] = updated
        if object_type == "deals":
            properties.setdefault("pipeline", "default")
        record = {"id": object_id, "properties": properties, "createdAt": created, "updatedAt": updated,
                  "archived": False}
        previous = self.state[object_type].get(object_id)
        self.state[object_type][object_id] = record
        self._index_record(object_type, object_id, previous["properties"] if previous else {}, properties)
        if emit and object_type in WEBHOOK_TYPES:
            self.webhooks.emit(f"{singular(object_type)}.creation", object_id, source)
        return record

    def update_record(self, object_type: str, record: dict[str, Any], values: dict[str, str], source: str) -> list[str]:
        """Apply changed values; returns the names that changed (none changed: nothing written)."""
        changed = [k for k, v in values.items() if record["properties"].get(k, "") != v]
        if not changed:
            return []
        before = dict(record["properties"])
        for name in changed:
            if values[name] == "":
                record["properties"].pop(name, None)
            else:
                record["properties"][name] = values[name]
        self._index_record(object_type, record["id"], before, record["properties"])
        now = iso_millis(datetime.now(timezone.utc))
        record["updatedAt"] = now
        record["properties"]["hs_lastmodifieddate"] = now
        if object_type == "contacts":
            record["properties"]["lastmodifieddate"] = now
        if object_type in WEBHOOK_TYPES:
            for name in changed:
                if name not in MANAGED:
                    self.webhooks.emit(f"{singular(object_type)}.propertyChange", record["id"], source,
                                       propertyName=name, propertyValue=values[name])
        return changed

    def archive_record(self, object_type: str, object_id: str, source: str) -> bool:
        record = self.state[object_type].pop(str(object_id), None)
        if record is None:
            return False
        self._index_record(object_type, str(object_id), record["properties"], {})
        for key in [k for k in self.state["associations"] if _touches(k, object_type, str(object_id))]:
            del self.state["associations"][key]
        if object_type in WEBHOOK_TYPES:
            self.webhooks.emit(f"{singular(object_type)}.deletion", str(object_id), source)
        return True

    def object_view(
        self,
        object_type: str,
        record: dict[str, Any],
        properties: list[str] | None = None,
        associations: list[str] | None = None,
        with_history: list[str] | None = None,
    ) -> dict[str, Any]:
        """An object as the API returns it: the requested properties (or the type's defaults)."""
        names = properties if properties else list(DEFAULT_RETURNED[object_type])
        view: dict[str, Any] = {
            "id": record["id"],
            "properties": {n: record["properties"].get(n) for n in names if self.definition(object_type, n)},
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": record.get("archived", False),
        }
        if with_history:
            view["propertiesWithHistory"] = {
                n: ([{"value": record["properties"][n], "timestamp": record["updatedAt"], "sourceType": "API"}]
                    if n in record["properties"] else [])
                for n in with_history if self.definition(object_type, n)
            }
        if associations:
            linked: dict[str, Any] = {}
            for to_type in associations:
                results = [
                    {"id": to_id, "type": association_type_name(object_type, to_type, spec["associationTypeId"])}
                    for to_id, specs in self.associations_of(object_type, record["id"], to_type)
                    for spec in specs
                ]
                if results:
                    linked[to_type] = {"results": results}
            if linked:
                view["associations"] = linked
        return view

    # ----------------------------------------------------------------- associations
    def check_association_specs(
        self, from_type: str, to_type: str, specs: Any
    ) -> list[dict[str, Any]]:
        if not isinstance(specs, list) or not specs:
            raise CrmError(400, "VALIDATION_ERROR", "association types must be a non-empty list")
        clean = []
        for spec in specs:
            if not isinstance(spec, dict):
                raise CrmError(400, "VALIDATION_ERROR", "each association type must be an object")
            category = spec.get("associationCategory")
            type_id = spec.get("associationTypeId")
            known = ASSOCIATION_TYPE_IDS.get(type_id) if isinstance(type_id, int) else None
            if category != "HUBSPOT_DEFINED" or known is None or known[:2] != (from_type, to_type):
                raise CrmError(
                    400, "VALIDATION_ERROR",
                    f"{category} association type {type_id} is not valid from {from_type} to {to_type}",
                )
            clean.append({"associationCategory": category, "associationTypeId": type_id})
        return clean

    def default_association_spec(self, from_type: str, to_type: str) -> list[dict[str, Any]]:
        if (from_type, to_type) not in DEFAULT_ASSOCIATION_TYPES:
            raise CrmError(400, "VALIDATION_ERROR", f"{from_type} cannot be associated with {to_type}")
        return [{"associationCategory": "HUBSPOT_DEFINED",
                 "associationTypeId": DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)][0]}]

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, specs: list[dict[str, Any]], source: str
    ) -> bool:
        """Add association types both ways; True if anything was new."""
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if str(object_id) not in self.state[object_type]:
                raise not_found(object_type, object_id)
        inverse = [{"associationCategory": s["associationCategory"],
                    "associationTypeId": INVERSE_ASSOCIATION_TYPE[s["associationTypeId"]]} for s in specs]
        added = self._add_link(from_type, str(from_id), to_type, str(to_id), specs)
        self._add_link(to_type, str(to_id), from_type, str(from_id), inverse)
        if added:
            self._emit_association(from_type, str(from_id), to_type, str(to_id), specs, source, removed=False)
        return added

    def _add_link(self, from_type: str, from_id: str, to_type: str, to_id: str, specs: list[dict[str, Any]]) -> bool:
        key = f"{from_type}/{from_id}/{to_type}/{to_id}"
        link = self.state["associations"].setdefault(key, {
            "fromObjectType": from_type, "fromObjectId": from_id, "toObjectType": to_type, "toObjectId": to_id,
            "associationTypes": [],
        })
        new = [s for s in specs if s not in link["associationTypes"]]
        link["associationTypes"].extend(new)
        return bool(new)

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str, source: str) -> bool:
        link = self.state["associations"].pop(f"{from_type}/{from_id}/{to_type}/{to_id}", None)
        self.state["associations"].pop(f"{to_type}/{to_id}/{from_type}/{from_id}", None)
        if link:
            self._emit_association(from_type, from_id, to_type, to_id, link["associationTypes"], source, removed=True)
        return link is not None

    def associations_of(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, list[dict[str, Any]]]]:
        prefix = f"{from_type}/{from_id}/{to_type}/"
        links = [(link["toObjectId"], link["associationTypes"])
                 for key, link in self.state["associations"].items() if key.startswith(prefix)]
        return sorted(links, key=lambda pair: int(pair[0]))

    def _emit_association(
        self, from_type: str, from_id: str, to_type: str, to_id: str, specs: list[dict[str, Any]],
        source: str, removed: bool,
    ) -> None:
        primary = any(ASSOCIATION_TYPE_IDS[s["associationTypeId"]][2] == "Primary" for s in specs)
        for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id)):
            if a_type in WEBHOOK_TYPES:
                self.webhooks.emit(
                    f"{singular(a_type)}.associationChange", a_id, source,
                    associationType=f"{singular(a_type)}_TO_{singular(b_type)}".upper(),
                    fromObjectId=int(a_id), toObjectId=int(b_id),
                    associationRemoved=removed, isPrimaryAssociation=primary,
                )


def _folded(object_type: str, name: str, value: Any) -> str:
    """A property value as lookups compare it: a contact's email case-insensitively."""
    if not value:
        return ""
    return str(value).lower() if object_type == "contacts" and name == "email" else str(value)


def _touches(key: str, object_type: str, object_id: str) -> bool:
    from_type, from_id, to_type, to_id = key.split("/")
    return (from_type, from_id) == (object_type, object_id) or (to_type, to_id) == (object_type, object_id)
