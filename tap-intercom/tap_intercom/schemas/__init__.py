"""The streams' JSON Schemas and the UNIX-seconds -> RFC 3339 record conversion.

The ``<stream>.json`` files are generated from Intercom's OpenAPI description by
``scripts/generate_tap_schemas.py``; do not edit them by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any

Record = dict[str, Any]
# Converts, in place, the timestamps inside one JSON value found at a schema position.
_ValueConverter = Callable[[Any], None]


class TimestampError(ValueError):
    """A value documented as UNIX seconds cannot be converted to a date-time."""


@cache
def _load_schema_text(stream_name: str) -> str:
    resource = resources.files(__package__).joinpath(f"{stream_name}.json")
    if not resource.is_file():
        raise KeyError(f"no schema for stream {stream_name!r}")
    return resource.read_text(encoding="utf-8")


def load_schema(stream_name: str) -> dict[str, Any]:
    """The JSON Schema of `stream_name` (a fresh copy: callers may modify it)."""
    schema: dict[str, Any] = json.loads(_load_schema_text(stream_name))
    return schema


def stream_names() -> list[str]:
    """Every stream that has a packaged schema, sorted."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".json")
    )


def _is_timestamp(schema: Mapping[str, Any]) -> bool:
    return schema.get("format") == "date-time"


def _types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    value = schema.get("type", ())
    return (value,) if isinstance(value, str) else tuple(value)


# RFC 3339 text of integer UNIX seconds, built from cached pieces: about 3x faster than
# datetime.fromtimestamp(ts, UTC).isoformat(), with identical output. Records span few
# distinct days, so the day memo stays small; it is bounded all the same.
_SECONDS_PER_DAY = 86_400
_minute_texts = tuple(f"T{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_second_texts = tuple(f"{second:02d}+00:00" for second in range(60))


def _not_a_timestamp(path: str, value: int | float) -> TimestampError:
    return TimestampError(f"{path}: {value!r} is not a UNIX-seconds timestamp")


@lru_cache(maxsize=100_000)
def _day_text(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * _SECONDS_PER_DAY, UTC).date().isoformat()


def iso_timestamp(value: int | float, path: str) -> str:
    """`datetime.fromtimestamp(value, UTC).isoformat()`; `path` names the field in errors."""
    if value.__class__ is int:
        day_number, second = divmod(value, _SECONDS_PER_DAY)
        try:
            day = _day_text(day_number)
        except (OverflowError, OSError, ValueError) as error:
            raise _not_a_timestamp(path, value) from error
        return f"{day}{_minute_texts[second // 60]}{_second_texts[second % 60]}"
    try:
        return datetime.fromtimestamp(value, UTC).isoformat()
    except (OverflowError, OSError, ValueError) as error:
        raise _not_a_timestamp(path, value) from error


def _compile(schema: Mapping[str, Any], path: str) -> _ValueConverter | None:
    """A converter for values at `schema`, or None when no timestamp can be inside."""
    types = _types(schema)
    if "object" in types and schema.get("properties"):
        return _compile_object(schema["properties"], path)
    if "array" in types and isinstance(schema.get("items"), Mapping):
        return _compile_array(schema["items"], path)
    return None


def _compile_object(properties: Mapping[str, Any], path: str) -> _ValueConverter | None:
    # Timestamps directly on the object are converted inline (no call per field):
    # this is the hot path for top-level fields like `created_at`. Paths are built here,
    # once, for error messages only.
    timestamp_keys = tuple(
        (key, f"{path}.{key}") for key, sub in properties.items() if _is_timestamp(sub)
    )
    nested = tuple(
        (key, converter)
        for key, sub in properties.items()
        if not _is_timestamp(sub) and (converter := _compile(sub, f"{path}.{key}")) is not None
    )
    if not timestamp_keys and not nested:
        return None

    def convert_object(value: Any) -> None:
        if value.__class__ is not dict:
            return
        for key, key_path in timestamp_keys:
            timestamp = value.get(key)
            if timestamp.__class__ is int or timestamp.__class__ is float:
                value[key] = iso_timestamp(timestamp, key_path)
        for key, converter in nested:
            child = value.get(key)
            if child is not None:
                converter(child)

    return convert_object


def _compile_array(items: Mapping[str, Any], path: str) -> _ValueConverter | None:
    item_path = f"{path}[]"
    if _is_timestamp(items):

        def convert_timestamps(value: Any) -> None:
            if value.__class__ is not list:
                return
            for index, timestamp in enumerate(value):
                if timestamp.__class__ is int or timestamp.__class__ is float:
                    value[index] = iso_timestamp(timestamp, item_path)

        return convert_timestamps

    item_converter = _compile(items, item_path)
    if item_converter is None:
        return None

    def convert_items(value: Any) -> None:
        if value.__class__ is not list:
            return
        for item in value:
            if item is not None:
                item_converter(item)

    return convert_items


def timestamp_converter(schema: Mapping[str, Any]) -> Callable[[Record], Record]:
    """A function converting a record's UNIX-seconds timestamps to RFC 3339 UTC, in place.

    The schema's date-time positions (nested objects, arrays of objects, arrays inside
    arrays) are compiled once; the returned function touches only those positions.
    Integers and floats there become ``datetime.fromtimestamp(ts, UTC).isoformat()``;
    None, strings and other values are left as they are. The function returns the record.
    A value out of datetime's range raises :class:`TimestampError` naming its path.
    """
    converter = _compile({"type": "object", "properties": schema.get("properties", {})}, "record")

    if converter is None:

        def unchanged(record: Record) -> Record:
            return record

        return unchanged

    def convert(record: Record) -> Record:
        converter(record)
        return record

    return convert
