"""The stream schemas, their generator, the timestamp converter and the test normaliser."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tap_intercom.schemas import (
    TimestampError,
    load_schema,
    stream_names,
    timestamp_converter,
)

from scripts.generate_tap_schemas import (
    DEFAULT_SPEC_DIR,
    SPEC_2_15,
    SchemaConverter,
    generate_schemas,
    load_spec,
    main,
    render,
)
from testbed.intercom.expected import assert_same_records, expected_record, record_differences

# From the shared contract (notes/contract.md, issue 6).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "admins": ("id",),
    "teams": ("id",),
    "tags": ("id",),
    "segments": ("id",),
    "company_attributes": ("model", "name"),
    "contact_attributes": ("model", "name"),
    "conversation_attributes": ("model", "name"),
    "ticket_types": ("id",),
    "help_centers": ("id",),
    "help_center_collections": ("id",),
    "subscription_types": ("id",),
    "news_items": ("id",),
    "newsfeeds": ("id",),
    "articles": ("id",),
    "contacts": ("id",),
    "conversations": ("id",),
    "tickets": ("id",),
    "conversation_parts": ("id",),
    "ticket_parts": ("id",),
    "companies": ("id",),
    "company_segments": ("company_id", "id"),
    "contact_notes": ("id",),
    "contact_events": ("contact_id", "event_name", "created_at"),
    "contact_tags": ("contact_id", "id"),
    "contact_companies": ("contact_id", "id"),
    "activity_logs": ("id",),
}
REPLICATION_KEYS = {
    "contacts": "updated_at",
    "conversations": "updated_at",
    "tickets": "updated_at",
    "companies": "updated_at",
    "activity_logs": "created_at",
}
PARENT_FIELDS = {
    "conversation_parts": "conversation_id",
    "ticket_parts": "ticket_id",
    "company_segments": "company_id",
    "contact_notes": "contact_id",
    "contact_events": "contact_id",
    "contact_tags": "contact_id",
    "contact_companies": "contact_id",
}
DATE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
OPEN_OBJECTS = {"custom_attributes", "ticket_attributes"}
# Where the spec's 200-response examples hold records: stream -> (path, method, list key).
RESPONSE_EXAMPLES: dict[str, tuple[str, str, str | None]] = {
    "admins": ("/admins", "get", "admins"),
    "tags": ("/tags", "get", "data"),
    "segments": ("/segments", "get", "segments"),
    "company_attributes": ("/data_attributes", "get", "data"),
    "ticket_types": ("/ticket_types", "get", "data"),
    "help_center_collections": ("/help_center/collections", "get", "data"),
    "subscription_types": ("/subscription_types", "get", "data"),
    "news_items": ("/news/news_items", "get", "data"),
    "newsfeeds": ("/news/newsfeeds", "get", "data"),
    "articles": ("/articles", "get", "data"),
    "contacts": ("/contacts/{contact_id}", "get", None),
    "conversations": ("/conversations/search", "post", "conversations"),
    "tickets": ("/tickets/search", "post", "tickets"),
    "conversation_parts": (
        "/conversations/{conversation_id}",
        "get",
        "conversation_parts.conversation_parts",
    ),
    "ticket_parts": ("/tickets/{ticket_id}", "get", "ticket_parts.ticket_parts"),
    "companies": ("/companies/scroll", "get", "data"),
    "contact_notes": ("/contacts/{contact_id}/notes", "get", "data"),
    "activity_logs": ("/admins/activity_logs", "get", "activity_logs"),
}
TIMESTAMP_NAMES = {"snoozed_until", "waiting_since"}
# The GET /conversations/{id} example numbers its parts 1, 2, ...; the schema (and the
# live API) has string ids, so the example is brought in line before validating.
EXAMPLE_FIXES = {"conversation_parts": lambda record: {**record, "id": str(record["id"])}}


def _types(schema: dict[str, Any]) -> list[str]:
    value = schema.get("type", [])
    return [value] if isinstance(value, str) else list(value)


def _walk(schema: dict[str, Any], path: str = ""):
    """(path, property name, property schema) for every property at any depth."""
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}.{name}", name, sub
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        items = schema["items"]
        yield f"{path}[]", "", items
        yield from _walk(items, f"{path}[]")


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


# --- the committed schemas ------------------------------------------------------------


def test_committed_schemas_equal_a_fresh_generation() -> None:
    generated = generate_schemas(DEFAULT_SPEC_DIR)
    assert sorted(generated) == stream_names()
    stale = [s for s, schema in generated.items() if render(schema) != render(load_schema(s))]
    assert not stale, f"run `python -m scripts.generate_tap_schemas`; stale: {stale}"


def test_every_contract_stream_has_a_schema() -> None:
    assert stream_names() == sorted(KEY_PROPERTIES)


@pytest.mark.parametrize("stream", sorted(KEY_PROPERTIES))
def test_schema_is_valid_draft7_with_open_nullable_properties(stream: str) -> None:
    schema = load_schema(stream)
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is True
    for path, _name, sub in _walk(schema):
        if sub:  # {} accepts anything, null included
            assert "null" in _types(sub), f"{stream}{path} is not nullable"
        if "object" in _types(sub):
            assert sub.get("additionalProperties") is True, f"{stream}{path} is closed"
        assert "enum" not in sub, f"{stream}{path} keeps an enum"


@pytest.mark.parametrize("stream", sorted(KEY_PROPERTIES))
def test_key_and_replication_properties_exist_and_timestamps_are_date_time(stream: str) -> None:
    properties = load_schema(stream)["properties"]
    wanted = {*KEY_PROPERTIES[stream], *filter(None, [REPLICATION_KEYS.get(stream)])}
    for name in wanted:
        assert name in properties, f"{stream}.{name} missing"
        if name.endswith("_at"):
            assert properties[name] == {
                "description": properties[name].get("description"),
                "type": ["string", "null"],
                "format": "date-time",
            }
    for name in ("created_at", "updated_at"):
        if name in properties:
            assert properties[name].get("format") == "date-time", f"{stream}.{name}"


@pytest.mark.parametrize("stream", sorted(PARENT_FIELDS))
def test_child_streams_carry_their_parent_id(stream: str) -> None:
    parent = load_schema(stream)["properties"][PARENT_FIELDS[stream]]
    assert parent["type"] == ["string", "null"]


def test_conversations_are_the_search_form_with_deletion_fields() -> None:
    properties = load_schema("conversations")["properties"]
    assert "conversation_parts" not in properties
    for name in ("_sdc_deleted_at", "deleted_at"):
        assert properties[name]["format"] == "date-time"


def test_custom_attributes_are_open_objects_without_properties() -> None:
    found = 0
    for stream in stream_names():
        for path, name, sub in _walk(load_schema(stream)):
            if name in OPEN_OBJECTS:
                found += 1
                assert sub["type"] == ["object", "null"], f"{stream}{path}"
                assert "properties" not in sub, f"{stream}{path}"
                assert sub["additionalProperties"] is True, f"{stream}{path}"
    assert found >= 4  # contacts, companies, conversations (and its company), tickets


def test_segments_keep_the_person_type() -> None:
    assert "person_type" in load_schema("segments")["properties"]


# --- the generator's OpenAPI rules ------------------------------------------------------


def _convert(components: dict[str, Any], root: str) -> dict[str, Any]:
    return SchemaConverter(components).record_schema(root)


def test_generator_turns_unix_timestamps_into_date_time_strings() -> None:
    schema = _convert(
        {
            "thing": {
                "type": "object",
                "properties": {
                    "formatted": {"type": "integer", "format": "date-time"},
                    "legacy": {"type": "integer", "format": "timestamp"},
                    "seen_at": {"type": "integer"},
                    "when": {"type": "number", "description": "A UNIX timestamp."},
                    "count": {"type": "integer"},
                    "iso": {"type": "string", "format": "date-time"},
                    "link": {"type": "string", "format": "uri"},
                },
            }
        },
        "thing",
    )
    properties = schema["properties"]
    for name in ("formatted", "legacy", "seen_at", "iso"):
        assert properties[name] == DATE_TIME, name
    assert properties["when"] == {"description": "A UNIX timestamp.", **DATE_TIME}
    assert properties["count"] == {"type": ["integer", "null"]}
    assert properties["link"] == {"type": ["string", "null"]}


def test_generator_merges_all_of_and_unions_any_of() -> None:
    schema = _convert(
        {
            "base": {"type": "object", "properties": {"id": {"type": "string"}}},
            "thing": {
                "allOf": [
                    {"$ref": "#/components/schemas/base"},
                    {"type": "object", "properties": {"name": {"type": "string"}}},
                    {"description": "Constrains nothing."},
                ]
            },
            "root": {
                "type": "object",
                "properties": {
                    "merged": {"$ref": "#/components/schemas/thing"},
                    "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "shape": {
                        "anyOf": [
                            {"type": "object", "properties": {"a": {"type": "string"}}},
                            {"type": "object", "properties": {"b": {"type": "boolean"}}},
                        ]
                    },
                    "anything": {"anyOf": [{"type": "string"}, {}]},
                    "choice": {"type": "string", "enum": ["x", "y"], "nullable": True},
                    "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                },
            },
        },
        "root",
    )
    properties = schema["properties"]
    assert set(properties["merged"]["properties"]) == {"id", "name"}
    assert properties["merged"]["type"] == ["object", "null"]
    assert properties["either"]["type"] == ["string", "integer", "null"]
    assert set(properties["shape"]["properties"]) == {"a", "b"}
    assert properties["anything"] == {}
    assert properties["choice"] == {"type": ["string", "null"]}
    assert properties["map"] == {"type": ["object", "null"], "additionalProperties": True}


def test_generator_stops_ref_cycles_with_an_open_object() -> None:
    schema = _convert(
        {
            "node": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "parent": {"$ref": "#/components/schemas/node"},
                },
            }
        },
        "node",
    )
    assert schema["properties"]["parent"] == {
        "type": ["object", "null"],
        "additionalProperties": True,
    }


def test_generator_cli_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--out", str(tmp_path), "--check"]) == 1  # nothing written yet
    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == stream_names()
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "tags.json").write_text("{}\n", encoding="utf-8")
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert "schemas out of date: tags" in capsys.readouterr().err


def test_generator_cli_names_a_missing_spec(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--spec-dir", str(tmp_path), "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"{tmp_path / SPEC_2_15} not found" in capsys.readouterr().err


# --- the timestamp converter ------------------------------------------------------------

NESTED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "created_at": DATE_TIME,
        "name": {"type": ["string", "null"]},
        "stats": {
            "type": ["object", "null"],
            "properties": {
                "closed_at": DATE_TIME,
                "deep": {
                    "type": ["object", "null"],
                    "properties": {"at": DATE_TIME},
                },
            },
        },
        "parts": {
            "type": ["array", "null"],
            "items": {
                "type": ["object", "null"],
                "properties": {
                    "seen_at": DATE_TIME,
                    "grid": {
                        "type": ["array", "null"],
                        "items": {
                            "type": ["array", "null"],
                            "items": DATE_TIME,
                        },
                    },
                },
            },
        },
        "custom_attributes": {"type": ["object", "null"], "additionalProperties": True},
    },
}
T1, T2, T3 = 1704164645, 1663597223, 1734537546


def test_converter_converts_nested_objects_and_arrays_of_arrays_in_place() -> None:
    record = {
        "created_at": T1,
        "name": "x",
        "stats": {"closed_at": T2, "deep": {"at": T3}},
        "parts": [{"seen_at": T1, "grid": [[T2, None], [], [T3]]}, None, {"seen_at": None}],
        "custom_attributes": {"signup_at": T1},
        "extra_at": T1,
    }
    converted = timestamp_converter(NESTED_SCHEMA)(record)
    assert converted is record
    assert record == {
        "created_at": "2024-01-02T03:04:05+00:00",
        "name": "x",
        "stats": {"closed_at": _iso(T2), "deep": {"at": _iso(T3)}},
        "parts": [
            {"seen_at": _iso(T1), "grid": [[_iso(T2), None], [], [_iso(T3)]]},
            None,
            {"seen_at": None},
        ],
        "custom_attributes": {"signup_at": T1},  # open objects are not touched
        "extra_at": T1,  # undeclared fields are not touched
    }


def test_converter_leaves_nulls_strings_booleans_and_wrong_shapes_alone() -> None:
    convert = timestamp_converter(NESTED_SCHEMA)
    record = {
        "created_at": "2024-01-02T03:04:05Z",
        "stats": None,
        "parts": {"not": "a list"},
        "name": 5,
    }
    assert convert(copy.deepcopy(record)) == record
    assert convert({"created_at": True}) == {"created_at": True}
    assert convert({"stats": [1, 2]}) == {"stats": [1, 2]}
    assert convert({}) == {}


def test_converter_keeps_fractional_seconds_and_names_bad_values() -> None:
    convert = timestamp_converter(NESTED_SCHEMA)
    assert convert({"created_at": 1.5}) == {"created_at": "1970-01-01T00:00:01.500000+00:00"}
    with pytest.raises(TimestampError, match=r"record\.stats\.closed_at: 1000+ is not"):
        convert({"stats": {"closed_at": 10**20}})


def test_converter_text_equals_datetime_isoformat_over_the_whole_range() -> None:
    convert = timestamp_converter(NESTED_SCHEMA)
    generator = random.Random(7)
    first, last = -62135596800, 253402300799  # 0001-01-01 .. 9999-12-31T23:59:59
    edges = [first, last, -86401, -86400, -1, 0, 1, 86399, 86400, T1]
    for value in edges + [generator.randint(first, last) for _ in range(20_000)]:
        assert convert({"created_at": value})["created_at"] == _iso(value), value
    for value in (first - 1, last + 1, float("nan"), float("inf")):
        with pytest.raises(TimestampError, match=r"record\.created_at"):
            convert({"created_at": value})


def test_converter_without_timestamps_returns_the_record() -> None:
    convert = timestamp_converter({"type": "object", "properties": {"a": {"type": "string"}}})
    record = {"a": 1}
    assert convert(record) is record


def test_expected_record_does_not_modify_the_raw_record() -> None:
    raw = {"created_at": T1, "parts": [{"seen_at": T2}]}
    before = copy.deepcopy(raw)
    assert expected_record("conversations", raw)["created_at"] == _iso(T1)
    assert raw == before


# --- converter and normaliser agree on realistic records ------------------------------


def _sample(schema: dict[str, Any], depth: int = 0) -> Any:
    """A value filling every declared position of `schema` (timestamps as UNIX seconds)."""
    types = _types(schema)
    if schema.get("format") == "date-time":
        return T2 + depth
    if "object" in types:
        if not schema.get("properties"):
            return {"plan": "pro", "renewal_at": T3}
        return {name: _sample(sub, depth + 1) for name, sub in schema["properties"].items()}
    if "array" in types:
        item = schema.get("items", {})
        return [_sample(item, depth + 1), None if item else "any", _sample(item, depth + 2)]
    for json_type, value in (("string", "text"), ("integer", 7), ("number", 2.5)):
        if json_type in types:
            return value
    return True if "boolean" in types else {"free": "form"}


@pytest.mark.parametrize("stream", sorted(KEY_PROPERTIES))
def test_converter_and_expected_record_agree_on_a_full_sample(stream: str) -> None:
    schema = load_schema(stream)
    raw = _sample(schema)
    converted = timestamp_converter(schema)(copy.deepcopy(raw))
    assert converted == expected_record(stream, raw)
    jsonschema.validate(converted, schema)
    for path, _name, sub in _walk(schema):
        if sub.get("format") == "date-time" and "[]" not in path:
            value: Any = converted
            for part in path.strip(".").split("."):
                value = value[part]
            assert isinstance(value, str), f"{stream}{path} not converted"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec(DEFAULT_SPEC_DIR / SPEC_2_15)


def _example_records(spec: dict[str, Any], stream: str) -> list[dict[str, Any]]:
    path, method, list_key = RESPONSE_EXAMPLES[stream]
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    records = []
    for example in content["examples"].values():
        found: Any = example["value"]
        for part in list_key.split(".") if list_key else ():
            found = found[part]
        records += found if isinstance(found, list) else [found]
    parent = PARENT_FIELDS.get(stream)
    fix = EXAMPLE_FIXES.get(stream, dict)
    return [fix({**record, parent: "parent-1"} if parent else record) for record in records]


def _unconverted_timestamps(raw: Any, converted: Any, path: str) -> list[str]:
    """Integer `*_at` fields of a real example that did not become date-time strings."""
    if isinstance(raw, dict):
        problems = []
        for name, value in raw.items():
            if name in OPEN_OBJECTS:
                continue
            if (name.endswith("_at") or name in TIMESTAMP_NAMES) and isinstance(value, int):
                if converted[name] != _iso(value):
                    problems.append(f"{path}.{name}")
            else:
                problems += _unconverted_timestamps(value, converted[name], f"{path}.{name}")
        return problems
    if isinstance(raw, list):
        return [
            problem
            for index, (item, out) in enumerate(zip(raw, converted, strict=True))
            for problem in _unconverted_timestamps(item, out, f"{path}[{index}]")
        ]
    return []


@pytest.mark.parametrize("stream", sorted(RESPONSE_EXAMPLES))
def test_spec_response_examples_convert_and_validate(spec: dict[str, Any], stream: str) -> None:
    schema = load_schema(stream)
    convert = timestamp_converter(schema)
    raws = _example_records(spec, stream)
    assert raws, f"no example records for {stream}"
    converted = [convert(copy.deepcopy(raw)) for raw in raws]
    expected = [expected_record(stream, raw) for raw in raws]
    assert converted == expected
    assert_same_records(stream, converted, expected, KEY_PROPERTIES[stream])
    for raw, record in zip(raws, converted, strict=True):
        assert _unconverted_timestamps(raw, record, stream) == []
        jsonschema.validate(record, schema)


# --- comparing record lists ---------------------------------------------------------------


def test_record_comparison_parses_date_times_and_reports_differences() -> None:
    expected = [expected_record("segments", {"id": "s1", "created_at": T1, "name": "A"})]
    same_instant = [{"id": "s1", "created_at": "2024-01-02T03:04:05Z", "name": "A"}]
    assert record_differences("segments", same_instant, expected, "id") == []

    changed = [
        {"id": "s1", "created_at": "2024-01-02T03:04:06Z", "name": "A"},
        {"id": "s2", "name": "B"},
    ]
    differences = record_differences("segments", changed, expected, "id")
    assert len(differences) == 2
    assert "1 unexpected" in differences[0] and "('s2',)" in differences[0]
    assert "segments['s1'].created_at" in differences[1]
    assert record_differences("segments", [], expected, "id") == [
        "segments: 1 missing, e.g. [('s1',)]"
    ]
    with pytest.raises(AssertionError, match="segments records differ"):
        assert_same_records("segments", changed, expected, "id")


def test_record_comparison_keeps_the_last_record_per_key() -> None:
    first = {"id": "c1", "contact_id": "p", "event_name": "e", "created_at": T1}
    later = {**first, "email": "new@example.com"}
    key = KEY_PROPERTIES["contact_events"]
    raw = [expected_record("contact_events", r) for r in (first, later)]
    assert record_differences("contact_events", raw, [later | {"created_at": _iso(T1)}], key) == []
