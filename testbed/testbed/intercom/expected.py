"""What the tap must emit for a raw Intercom record, and comparing record lists.

`expected_record` is deliberately written apart from `tap_intercom.schemas.timestamp_converter`
(a plain recursive walk of the schema per call, returning a new record) so that tests
comparing the tap's output with the sandbox's truth do not reuse the code under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from tap_intercom.schemas import load_schema

Key = str | Sequence[str]
MAX_REPORTED = 5


@cache
def _schema(stream: str) -> dict[str, Any]:
    return load_schema(stream)  # cached: the callers only read it


def _map_date_times(value: Any, schema: Mapping[str, Any], convert: Callable[[Any], Any]) -> Any:
    """A copy of `value` with `convert` applied to the values at date-time positions."""
    if schema.get("format") == "date-time":
        return convert(value)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {
            key: _map_date_times(item, properties.get(key, {}), convert)
            for key, item in value.items()
        }
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_map_date_times(item, items, convert) for item in value]
    return value


def _unix_seconds_to_rfc3339(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return value


def _parse_date_time(value: Any) -> Any:
    """Parsed, so "Z" and "+00:00" compare equal; anything else is left to compare as is."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def expected_record(stream: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The record the tap must emit for `raw` (API form, UNIX seconds); `raw` is untouched."""
    return _map_date_times(dict(raw), _schema(stream), _unix_seconds_to_rfc3339)


def key_of(record: Mapping[str, Any], key: Key) -> tuple[Any, ...]:
    """The key tuple of `record` (`key`: one property name or several)."""
    names = (key,) if isinstance(key, str) else tuple(key)
    return tuple(record.get(name) for name in names)


def by_key(records: Iterable[Mapping[str, Any]], key: Key) -> dict[tuple[Any, ...], Any]:
    """Records indexed by key; a later record replaces an earlier one (as an upsert does)."""
    return {key_of(record, key): record for record in records}


def _field_differences(actual: Any, expected: Any, path: str) -> list[str]:
    if isinstance(actual, dict) and isinstance(expected, dict):
        differences = []
        for name in sorted(set(actual) | set(expected)):
            if name not in actual:
                differences.append(f"{path}.{name}: missing, expected {expected[name]!r}")
            elif name not in expected:
                differences.append(f"{path}.{name}: unexpected {actual[name]!r}")
            else:
                differences += _field_differences(actual[name], expected[name], f"{path}.{name}")
        return differences
    if actual != expected:
        return [f"{path}: {actual!r} != expected {expected!r}"]
    return []


def record_differences(
    stream: str,
    actual: Iterable[Mapping[str, Any]],
    expected: Iterable[Mapping[str, Any]],
    key: Key,
) -> list[str]:
    """Readable differences between two record lists of `stream`, matched by `key`.

    Duplicates within a list collapse to the last record per key (the tap may re-read a
    window; the target upserts). Date-time fields compare as instants.
    """
    schema = _schema(stream)
    actual_by_key = {
        k: _map_date_times(r, schema, _parse_date_time) for k, r in by_key(actual, key).items()
    }
    expected_by_key = {
        k: _map_date_times(r, schema, _parse_date_time) for k, r in by_key(expected, key).items()
    }
    missing = [k for k in expected_by_key if k not in actual_by_key]
    unexpected = [k for k in actual_by_key if k not in expected_by_key]
    differences = []
    if missing:
        differences.append(f"{stream}: {len(missing)} missing, e.g. {missing[:MAX_REPORTED]}")
    if unexpected:
        differences.append(
            f"{stream}: {len(unexpected)} unexpected, e.g. {unexpected[:MAX_REPORTED]}"
        )
    for record_key, expected_record_value in expected_by_key.items():
        if record_key in actual_by_key:
            field_differences = _field_differences(
                actual_by_key[record_key], expected_record_value, f"{stream}{list(record_key)}"
            )
            differences += field_differences[:MAX_REPORTED]
    return differences


def assert_same_records(
    stream: str,
    actual: Iterable[Mapping[str, Any]],
    expected: Iterable[Mapping[str, Any]],
    key: Key,
) -> None:
    """Fail with the first differences unless both lists hold the same records by key."""
    differences = record_differences(stream, actual, expected, key)
    shown = "\n".join(differences[:50])
    more = f"\n... and {len(differences) - 50} more" if len(differences) > 50 else ""
    assert not differences, f"{stream} records differ:\n{shown}{more}"
