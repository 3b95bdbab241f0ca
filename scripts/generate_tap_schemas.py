"""Generate tap-intercom's stream JSON Schemas from Intercom's OpenAPI descriptions.

Usage (from the repository root):

    .venv/bin/python -m scripts.generate_tap_schemas [--spec-dir DIR] [--out DIR] [--check]

Reads ``api.intercom.io.2.15.yaml`` (every stream) and ``api.intercom.io.2.16.yaml`` (only
the deleted-conversations list) from ``vendor/intercom-openapi`` (the official
descriptions, MIT) by default and writes one
``<stream>.json`` per stream into ``tap-intercom/tap_intercom/schemas/``.

Rules, and why:
- every property is nullable: Intercom serves null for many documented fields;
- every object stays open (``additionalProperties: true``): Intercom adds fields, and
  singer-sdk drops undeclared properties unless the schema says they are allowed;
- ``custom_attributes`` and free-form maps (``additionalProperties: <schema>``) become open
  objects without declared properties: their keys are workspace-defined;
- UNIX-second timestamps (``integer``/``number`` with format ``date-time`` or
  ``timestamp``, a name ending in ``_at``, or a description saying "unix timestamp")
  become ``{"type": ["string", "null"], "format": "date-time"}``: the tap emits them as
  RFC 3339 UTC strings;
- ``allOf`` is merged; ``anyOf``/``oneOf`` become the union of their alternatives;
- enums, examples, titles, validation bounds and non-date formats are dropped (Intercom
  adds enum values and serves empty strings for URLs and emails);
- ``$ref`` cycles and nesting deeper than ``MAX_REF_DEPTH`` become open objects.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC_DIR = REPO_ROOT / "vendor" / "intercom-openapi"
DEFAULT_OUT_DIR = REPO_ROOT / "tap-intercom" / "tap_intercom" / "schemas"
SPEC_2_15 = "api.intercom.io.2.15.yaml"
SPEC_2_16 = "api.intercom.io.2.16.yaml"
CONVERSATION_ATTRIBUTE_2_16 = "conversation_attribute"

MAX_REF_DEPTH = 8
MAX_DESCRIPTION_CHARS = 120

# stream -> (component schema of one record in the endpoint the tap reads, parent id field)
STREAM_SOURCES: dict[str, tuple[str, str | None]] = {
    "admins": ("admin", None),  # GET /admins
    "teams": ("team", None),  # GET /teams
    "tags": ("tag", None),  # GET /tags
    "segments": ("segment", None),  # GET /segments (person and company segments)
    "company_attributes": ("data_attribute", None),  # GET /data_attributes?model=company
    "contact_attributes": ("data_attribute", None),  # GET /data_attributes?model=contact
    "conversation_attributes": ("data_attribute", None),  # ?model=conversation
    "ticket_types": ("ticket_type", None),  # GET /ticket_types
    "help_centers": ("help_center", None),  # GET /help_center/help_centers
    "help_center_collections": ("collection", None),  # GET /help_center/collections
    "subscription_types": ("subscription_type", None),  # GET /subscription_types
    "news_items": ("news_item", None),  # GET /news/news_items
    "newsfeeds": ("newsfeed", None),  # GET /news/newsfeeds
    "articles": ("article_list_item", None),  # GET /articles
    "contacts": ("contact", None),  # POST /contacts/search
    "conversations": ("conversation_list_item", None),  # POST /conversations/search
    "tickets": ("ticket", None),  # POST /tickets/search
    "conversation_parts": ("conversation_part", "conversation_id"),  # GET /conversations/{id}
    "ticket_parts": ("ticket_part", "ticket_id"),  # GET /tickets/{id}
    "companies": ("company", None),  # GET /companies/scroll
    "company_segments": ("segment", "company_id"),  # GET /companies/{id}/segments
    "contact_notes": ("note", "contact_id"),  # GET /contacts/{id}/notes
    "contact_events": ("data_event", "contact_id"),  # GET /events?type=user
    # contact.tags.data items, or GET /contacts/{id}/tags when the embedded list is cut short
    "contact_tags": ("tag", "contact_id"),
    # contact.companies.data items, or GET /contacts/{id}/companies (id and type kept)
    "contact_companies": ("company_data", "contact_id"),
    "activity_logs": ("activity_log", None),  # GET /admins/activity_logs
}

# Deleted conversations (GET /conversations/deleted, 2.16 only) are emitted as records of
# `conversations`: their item fields join that schema, plus the Singer deletion marker.
DELETED_CONVERSATION_ITEM = "deleted_conversation_item"
SDC_DELETED_AT = "_sdc_deleted_at"
# Contacts (deleted, merged) and companies (archived) are marked deleted too; on 2.16 a user
# lists the contacts merged into it (`include_merge_history=true`).
DELETABLE_STREAMS = ("contacts", "companies")
MERGE_HISTORY_ITEM = "merge_history_item"
# Membership rows (contact_tags, contact_companies) carry the contact's updated_at.
MEMBERSHIP_STREAMS = ("contact_tags", "contact_companies")

# Where the spec's own response examples (recorded API responses) contradict its schemas,
# the schema is widened to accept both: component -> properties added or replaced.
EXAMPLE_CORRECTIONS: dict[str, dict[str, Any]] = {
    # Examples show strings ("changed your app name from before to after").
    "activity_log_metadata": {"before": {}, "after": {}},
    # Examples list the attributes under `data`, the schema under `ticket_type_attributes`.
    "ticket_type_attribute_list": {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/ticket_type_attribute"}}
    },
    # Examples (and every real contact) carry `"type": "list"` beside `data`; undeclared,
    # it was reported as drift on every contact of every run.
    "contact_social_profiles": {"type": {"type": "string"}},
}

OPEN_OBJECT_NAMES = frozenset({"custom_attributes"})
UNIX_TIMESTAMP_FORMATS = frozenset({"date-time", "timestamp"})
UNIX_TIMESTAMP_DESCRIPTION = re.compile(r"unix\s+timestamp", re.IGNORECASE)

DATE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
OPEN_OBJECT: dict[str, Any] = {"type": ["object", "null"], "additionalProperties": True}
JSON_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


class SpecError(ValueError):
    """The OpenAPI description lacks something a stream schema needs."""


class SchemaConverter:
    """Turns OpenAPI 3.0 component schemas into the tap's JSON Schemas."""

    def __init__(
        self,
        components: Mapping[str, Any],
        corrections: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._components = dict(components)
        for name, properties in (corrections or {}).items():
            if name not in self._components:
                raise SpecError(f"correction for unknown component {name!r}")
            component = self._components[name]
            self._components[name] = {
                **component,
                "properties": {**component.get("properties", {}), **properties},
            }

    def record_schema(self, component: str) -> dict[str, Any]:
        """The top-level (non-nullable) object schema of one record."""
        schema = self.convert({"$ref": f"#/components/schemas/{component}"})
        if "object" not in schema.get("type", []) or "properties" not in schema:
            raise SpecError(f"component {component!r} is not an object schema")
        return {**schema, "type": "object"}

    def convert(
        self, node: Mapping[str, Any], name: str = "", refs: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Convert one OpenAPI schema node; `name` is the property it describes."""
        if "$ref" in node:
            ref_name = self._ref_name(node["$ref"])
            if ref_name in refs or len(refs) >= MAX_REF_DEPTH:
                return _with_description(dict(OPEN_OBJECT), node)
            target = self._components[ref_name]
            # Sibling keys of a $ref (e.g. a description) override the target's.
            merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            return self.convert(merged, name, (*refs, ref_name))
        if name in OPEN_OBJECT_NAMES:
            return _with_description(dict(OPEN_OBJECT), node)
        if "allOf" in node:
            # Parts without a type (a description, `nullable`) constrain nothing.
            parts = [self.convert(part, name, refs) for part in node["allOf"]]
            return _with_description(_union([p for p in parts if "type" in p]), node)
        for keyword in ("anyOf", "oneOf"):
            if keyword in node:
                parts = [self.convert(part, name, refs) for part in node[keyword]]
                return _with_description(_union(parts), node)
        return _with_description(self._convert_typed(node, name, refs), node)

    def _convert_typed(
        self, node: Mapping[str, Any], name: str, refs: tuple[str, ...]
    ) -> dict[str, Any]:
        node_type = node.get("type")
        if node_type is None:
            if "properties" in node:
                node_type = "object"
            elif "items" in node:
                node_type = "array"
            else:
                return {}  # any JSON value
        if node_type in ("integer", "number") and _is_unix_timestamp(node, name):
            return dict(DATE_TIME)
        if node_type == "object":
            properties = node.get("properties")
            if not properties:
                return dict(OPEN_OBJECT)  # free-form object or a map of workspace keys
            return {
                "type": ["object", "null"],
                "properties": {
                    prop: self.convert(sub, prop, refs) for prop, sub in properties.items()
                },
                "additionalProperties": True,
            }
        if node_type == "array":
            items = node.get("items")
            converted_items = self.convert(items, name, refs) if items else {}
            return {"type": ["array", "null"], "items": converted_items}
        converted: dict[str, Any] = {"type": [node_type, "null"]}
        if node_type == "string" and node.get("format") == "date-time":
            converted["format"] = "date-time"
        return converted

    def _ref_name(self, ref: str) -> str:
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix) or ref[len(prefix) :] not in self._components:
            raise SpecError(f"unresolvable $ref {ref!r}")
        return ref[len(prefix) :]


def _is_unix_timestamp(node: Mapping[str, Any], name: str) -> bool:
    return (
        node.get("format") in UNIX_TIMESTAMP_FORMATS
        or name.endswith("_at")
        or bool(UNIX_TIMESTAMP_DESCRIPTION.search(node.get("description") or ""))
    )


def _short_description(text: str) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    sentence = re.split(r"(?<=[.!?])\s", first_line, maxsplit=1)[0]
    if len(sentence) > MAX_DESCRIPTION_CHARS:
        sentence = sentence[: MAX_DESCRIPTION_CHARS - 3].rstrip() + "..."
    return sentence


def _with_description(schema: dict[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    description = node.get("description")
    short = _short_description(description) if isinstance(description, str) else ""
    return {"description": short, **schema} if short else schema


def _types(schema: Mapping[str, Any]) -> list[str]:
    value = schema.get("type", [])
    return [value] if isinstance(value, str) else list(value)


def _union(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """A schema accepting what any of `schemas` accepts (properties merged by name)."""
    if not schemas or any("type" not in schema for schema in schemas):
        return {}  # one alternative accepts anything
    types = {t for schema in schemas for t in _types(schema)} | {"null"}
    merged: dict[str, Any] = {"type": [t for t in JSON_TYPE_ORDER if t in types]}
    formats = {schema.get("format") for schema in schemas}
    if len(formats) == 1 and None not in formats:
        merged["format"] = formats.pop()
    if "object" in types:
        properties: dict[str, list[dict[str, Any]]] = {}
        open_object = False
        for schema in schemas:
            if "object" not in _types(schema):
                continue
            if "properties" not in schema:
                open_object = True
            for prop, sub in schema.get("properties", {}).items():
                properties.setdefault(prop, []).append(sub)
        if properties and not open_object:
            merged["properties"] = {
                prop: subs[0] if len(subs) == 1 else _union(subs)
                for prop, subs in properties.items()
            }
        merged["additionalProperties"] = True
    if "array" in types:
        item_schemas = [schema.get("items", {}) for schema in schemas if "items" in schema]
        merged["items"] = _union(item_schemas) if item_schemas else {}
    return merged


def load_spec(path: Path) -> dict[str, Any]:
    """Parse one OpenAPI YAML file (with libyaml when available: the files are large)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)  # a safe loader


def generate_schemas(spec_dir: Path = DEFAULT_SPEC_DIR) -> dict[str, dict[str, Any]]:
    """Every stream's JSON Schema, by stream name."""
    converter = SchemaConverter(
        load_spec(spec_dir / SPEC_2_15)["components"]["schemas"], EXAMPLE_CORRECTIONS
    )
    schemas: dict[str, dict[str, Any]] = {}
    for stream, (component, parent_field) in STREAM_SOURCES.items():
        schema = converter.record_schema(component)
        if parent_field is not None:
            schema["properties"][parent_field] = {
                "description": "The id of the parent record (added by the tap).",
                "type": ["string", "null"],
            }
        schemas[stream] = schema

    deleted = SchemaConverter(load_spec(spec_dir / SPEC_2_16)["components"]["schemas"])
    conversation_properties = schemas["conversations"]["properties"]
    for prop, sub in deleted.record_schema(DELETED_CONVERSATION_ITEM)["properties"].items():
        conversation_properties.setdefault(prop, sub)
    # 2.16 lists conversation attributes at GET /conversations/attributes, in a shape
    # of their own; the stream keeps one schema for both versions.
    # Its `options` are objects where 2.15's are strings: the property takes either.
    attribute_properties = schemas["conversation_attributes"]["properties"]
    for prop, sub in deleted.record_schema(CONVERSATION_ATTRIBUTE_2_16)["properties"].items():
        if prop not in attribute_properties:
            attribute_properties[prop] = sub
        elif _types(attribute_properties[prop]) != _types(sub) or "items" in sub:
            kept = attribute_properties[prop]
            attribute_properties[prop] = _with_description(_union([kept, sub]), kept)
    conversation_properties[SDC_DELETED_AT] = {
        "description": "When the conversation was deleted in Intercom (deletion records only).",
        **DATE_TIME,
    }
    for stream in DELETABLE_STREAMS:
        schemas[stream]["properties"][SDC_DELETED_AT] = {
            "description": "When the tap saw the record gone (deletion records only).",
            **DATE_TIME,
        }
    schemas["contacts"]["properties"]["merge_history"] = {
        "description": "Contacts merged into this one (2.16, users only).",
        "type": ["array", "null"],
        "items": {**deleted.record_schema(MERGE_HISTORY_ITEM), "type": ["object", "null"]},
    }
    tag_properties = schemas["contact_tags"]["properties"]
    tag_properties.setdefault("url", {"description": "The tag's URL.", "type": ["string", "null"]})
    for stream in MEMBERSHIP_STREAMS:
        schemas[stream]["properties"]["contact_updated_at"] = {
            "description": "The contact's updated_at when the row was read (added by the tap).",
            **DATE_TIME,
        }
    return schemas


def render(schema: Mapping[str, Any]) -> str:
    """The committed file text of one schema."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) the schema files; exit 1 when --check finds drift."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec-dir", type=Path, default=DEFAULT_SPEC_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)

    for spec in (SPEC_2_15, SPEC_2_16):
        if not (args.spec_dir / spec).is_file():
            parser.error(f"{args.spec_dir / spec} not found (use --spec-dir)")
    schemas = generate_schemas(args.spec_dir)
    drift = []
    for stream, schema in schemas.items():
        path = args.out / f"{stream}.json"
        text = render(schema)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                drift.append(stream)
        else:
            path.write_text(text, encoding="utf-8")
    if drift:
        print(f"schemas out of date: {', '.join(drift)}", file=sys.stderr)
        return 1
    print(f"{'checked' if args.check else 'wrote'} {len(schemas)} schemas in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
