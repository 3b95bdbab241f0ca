"""Schema drift: records that differ from their stream's schema, absorbed and reported.

Intercom sends what its description does not promise (see docs/schema-drift.md): other
types, fields nobody listed. Nothing here stops a run or drops a value:

- a value that converts to the declared type without loss is converted in place (a
  number where a string is declared becomes its JSON text; a numeric string where an
  integer or number is declared becomes the number; "true"/"false" where a boolean is);
- a value that cannot be converted moves to the record's `_sdc_drift` object (a
  VARIANT column), keyed by its JSON path (`statistics.last_closed_by_id`,
  `source.attachments[0].width`); its typed position becomes null, so typed columns
  stay typed and the target's schema check holds;
- a top-level field the schema does not know becomes a property of the stream's schema
  (typed from its first non-null value) and the stream announces it in a new SCHEMA
  message before the record that carries it; the target adds the column;
- a nested field the schema does not list stays where it is (objects keep unknown keys:
  they load into VARIANT columns untouched) and is reported;
- an item of a nested list without the key the tap reads of it (a company without `id`
  in a contact's company list) is skipped where the tap would make a row or an id of it,
  with a warning naming the stream, whose list it is and the item's path
  (`IntercomStream.keyed_items`); a record that embeds the list keeps it as sent.

Every drift is counted per (JSON path with `[]` for array positions, declared type,
seen type, outcome).

Speed: the schema is compiled once into msgspec types (a Struct per object, unknown
fields forbidden), so checking a record that needs nothing is one strict C-level
conversion. Only records that drift take the slow path in Python that converts, moves
and reports. Unlisted nested fields, once seen, are added to the compiled types and
counted by walking their path alone, so they do not put every record on the slow path.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import GenericAlias
from typing import Any, Union

import msgspec

from tap_intercom.schemas import TimestampError, iso_timestamp

DRIFT_PROPERTY = "_sdc_drift"
DRIFT_SCHEMA: dict[str, Any] = {
    "description": (
        "Values Intercom sent that do not fit the declared type, by JSON path "
        "(see docs/schema-drift.md)."
    ),
    "type": ["object", "null"],
    "additionalProperties": True,
}


def with_drift_column(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (modified) with the `_sdc_drift` property every stream declares."""
    schema.setdefault("properties", {})[DRIFT_PROPERTY] = dict(DRIFT_SCHEMA)
    return schema


CONVERTED = "converted"
MOVED = "moved to _sdc_drift"
NEW_COLUMN = "new column"
KEPT = "kept (unlisted nested field)"
SKIPPED = "item skipped"
NOT_DECLARED = "(not in schema)"
#: What a skipped item lacked: the key the tap reads of it.
REQUIRED_KEY = "key"

_INTEGER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"\[\d+\]")
_NONE = type(None)
_JSON_TYPE_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
    _NONE: "null",
}
# The Python classes a JSON type arrives as, with nothing to check or convert.
_PLAIN_CLASSES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "object": frozenset({dict}),
    "array": frozenset({list}),
    "null": frozenset({_NONE}),
}
_EVERYTHING = frozenset(_PLAIN_CLASSES)


def json_type_name(value: Any) -> str:
    """The JSON type of a decoded value."""
    name: str = _JSON_TYPE_NAMES.get(value.__class__, value.__class__.__name__)
    return name


def property_schema_for(value: Any) -> dict[str, Any]:
    """The schema announced for a new top-level field, from its first non-null value."""
    if isinstance(value, dict):
        return {"type": ["object", "null"], "additionalProperties": True}
    if isinstance(value, list):
        return {"type": ["array", "null"]}
    return {"type": [json_type_name(value), "null"]}


@dataclass
class DriftLog:
    """What drifted in one stream during this run, and how often."""

    counts: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    _skipped_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, path: str, declared: str, value: Any, outcome: str) -> None:
        pattern = _INDEX.sub("[]", path)
        self.counts[(pattern, declared, json_type_name(value), outcome)] += 1

    def note_skipped(self, path: str, key: str) -> None:
        """An item at `path` skipped for want of `key` (called from worker threads)."""
        with self._skipped_lock:
            self.note(f"{path}.{key}", REQUIRED_KEY, None, SKIPPED)

    def entries(self) -> list[dict[str, Any]]:
        """One entry per drift, most frequent first (the summary's form)."""
        return [
            {"path": path, "declared": declared, "seen": seen, "outcome": outcome, "count": n}
            for (path, declared, seen, outcome), n in sorted(
                self.counts.items(), key=lambda item: (-item[1], item[0])
            )
        ]


# -- conversions ---------------------------------------------------------------------


def _valid_datetime_text(text: str) -> bool:
    try:
        msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        return False
    return True


def _convert(value: Any, types: frozenset[str], date_time: bool) -> tuple[bool, Any]:
    """(True, converted) when `value` fits the declared `types` without loss."""
    cls = value.__class__
    if date_time and "string" in types:
        if cls is int or cls is float:
            try:
                iso_timestamp(value, "")
            except TimestampError:
                return False, None
            return True, value  # UNIX seconds: the timestamp converter turns them to text
        if cls is str:
            if _INTEGER_TEXT.fullmatch(value):
                return _convert(int(value), types, date_time)
            return _valid_datetime_text(value), value
        return False, None
    if "integer" in types:
        if cls is float and value.is_integer():
            return True, int(value)
        if cls is str and _INTEGER_TEXT.fullmatch(value):
            return True, int(value)
    if "number" in types and cls is str and _NUMBER_TEXT.fullmatch(value):
        number = int(value) if _INTEGER_TEXT.fullmatch(value) else float(value)
        if not (isinstance(number, float) and math.isinf(number)):
            return True, number
    if "boolean" in types and cls is str and value in ("true", "false"):
        return True, value == "true"
    if "string" in types:
        if cls is int or cls is float:
            return True, msgspec.json.encode(value).decode()
        if cls is bool:
            return True, "true" if value else "false"
    return False, None


# -- compiled checks -----------------------------------------------------------------

# A drift counted on the fast path: (path pattern, declared, seen, outcome).
CountKey = tuple[str, str, str, str]
# The way from the record to a position: keys, and "[]" for every item of an array.
Steps = tuple[str, ...]
_names = itertools.count()


class _Unsupported(Exception):
    """A property name msgspec cannot map: such a schema is checked field by field."""


class _Context:
    """One record's slow path: where moved values go and what is reported."""

    __slots__ = ("learnt", "log", "moved", "new_field")

    def __init__(self, log: DriftLog, new_field: Callable[[str, Any], bool]) -> None:
        self.log = log
        self.moved: dict[str, Any] = {}
        self.new_field = new_field
        self.learnt = False  # an unlisted nested field was seen for the first time


class _Position:
    """What one schema position accepts: its msgspec type (the fast check) and the
    repair of a value that does not fit (the slow path)."""

    def __init__(self, schema: Mapping[str, Any], steps: Steps) -> None:
        raw = schema.get("type")
        types = frozenset([raw] if isinstance(raw, str) else raw or ())
        self.untyped = not types or "anyOf" in schema or "oneOf" in schema
        self.types = (_EVERYTHING if self.untyped else types) - {"null"}
        self.nullable = self.untyped or "null" in types
        self.date_time = schema.get("format") == "date-time"
        self.declared = "any" if self.untyped else "|".join(sorted(self.types))
        if self.date_time:
            self.declared += "(date-time)"
        plain: set[type] = {_NONE} if self.nullable else set()
        for kind in self.types:
            plain |= _PLAIN_CLASSES.get(kind, frozenset())
        self.plain = frozenset(plain)
        self.object: _Object | None = None
        self.items: _Position | None = None
        if "object" in self.types and not self.untyped and schema.get("properties"):
            self.object = _Object(schema["properties"], steps)
        if "array" in self.types and not self.untyped and isinstance(schema.get("items"), dict):
            self.items = _Position(schema["items"], (*steps, "[]"))
            if self.items.untyped:
                self.items = None

    def msgspec_type(self) -> Any:
        """The type msgspec checks a value of this position against (strictly)."""
        if self.untyped:
            return Any
        options: list[Any] = []
        for kind in sorted(self.types):
            if kind == "string":
                # Date-times arrive as UNIX seconds (converted after the check); text
                # there needs a closer look, on the slow path.
                options += [int, float] if self.date_time else [str]
            elif kind == "integer" and "number" not in self.types:
                options.append(int)
            elif kind == "number":
                options.append(float)
            elif kind == "boolean":
                options.append(bool)
            elif kind == "object":
                options.append(self.object.msgspec_type() if self.object else dict[str, Any])
            elif kind == "array":
                item_type = self.items.msgspec_type() if self.items else Any
                options.append(GenericAlias(list, (item_type,)))  # list[item_type]
        if self.nullable:
            options.append(None)
        return Union[tuple(options)] if len(options) > 1 else options[0]  # noqa: UP007

    def tolerated(self) -> Iterator[tuple[Steps, str, str]]:
        """Every unlisted nested field learnt below this position."""
        if self.object is not None:
            yield from self.object.tolerated_fields()
        if self.items is not None:
            yield from self.items.tolerated()

    def repair(self, value: Any, path: str, ctx: _Context) -> tuple[bool, Any]:
        """(True, value to keep) or (False, None) when the value must move."""
        cls = value.__class__
        if cls in self.plain and not self.date_time:
            if cls is dict and self.object is not None:
                self.object.repair(value, path, ctx)
            elif cls is list and self.items is not None:
                for index, item in enumerate(value):
                    kept, fixed = self.items.repair(item, f"{path}[{index}]", ctx)
                    if not kept:
                        ctx.moved[f"{path}[{index}]"] = item
                        ctx.log.note(f"{path}[{index}]", self.items.declared, item, MOVED)
                    value[index] = fixed
            return True, value
        if cls is _NONE and self.nullable:
            return True, None
        converted, fixed = _convert(value, self.types, self.date_time)
        if converted:
            if fixed is not value or fixed.__class__ is not cls:
                ctx.log.note(path, self.declared, value, CONVERTED)
            return True, fixed
        return False, None


class _Object:
    """An object with declared properties.

    At the top level a field the schema does not list needs a repair (it becomes a
    column). Inside, it is kept as it is; once seen it is learnt (the fast check
    accepts it) and counted by a walk of its path alone.
    """

    def __init__(self, properties: Mapping[str, Any], steps: Steps) -> None:
        self.steps = steps
        self.positions = {
            key: _Position(schema, (*steps, key)) for key, schema in properties.items()
        }
        self.unlisted: dict[str, None] = {}  # learnt nested fields, in order
        self.added: dict[str, None] = {}  # new top-level fields, in order

    def add(self, key: str, schema: Mapping[str, Any], *, new_field: bool = False) -> None:
        """A new property (a top-level field announced in a new SCHEMA)."""
        self.positions[key] = _Position(schema, (*self.steps, key))
        if new_field:
            self.added[key] = None

    def msgspec_type(self) -> type[msgspec.Struct]:
        names = [*self.positions, *self.unlisted]
        fields = [
            (f"p{index}", self.positions[name].msgspec_type() if name in self.positions else Any)
            for index, name in enumerate(names)
        ]
        try:
            return msgspec.defstruct(
                f"Drift{next(_names)}",
                [(attribute, kind, msgspec.UNSET) for attribute, kind in fields],
                rename={f"p{index}": name for index, name in enumerate(names)},
                forbid_unknown_fields=True,
                gc=False,  # built and dropped at once, never in a cycle: no GC tracking
            )
        except ValueError:  # a name msgspec cannot rename to (quote, backslash...)
            raise _Unsupported from None

    def tolerated_fields(self) -> Iterator[tuple[Steps, str, str]]:
        """(steps, path pattern, outcome) of every field counted on the fast path:
        learnt nested fields and new top-level fields."""
        for key in self.added:
            yield (key,), key, NEW_COLUMN
        for key in self.unlisted:
            yield (*self.steps, key), _pattern((*self.steps, key)), KEPT
        for position in self.positions.values():
            yield from position.tolerated()

    def repair(self, value: dict[str, Any], path: str, ctx: _Context) -> None:
        prefix = f"{path}." if path else ""
        for key, item in list(value.items()):
            item_path = prefix + key
            position = self.positions.get(key)
            if key in self.added and item is not None:
                ctx.log.note(item_path, NOT_DECLARED, item, NEW_COLUMN)
            if position is None:
                if not path and ctx.new_field(key, item):
                    position = self.positions[key]
                else:
                    if item is not None:
                        ctx.log.note(item_path, NOT_DECLARED, item, KEPT)
                        if path and key not in self.unlisted:
                            self.unlisted[key] = None
                            ctx.learnt = True
                    continue
            kept, fixed = position.repair(item, item_path, ctx)
            if kept:
                value[key] = fixed
            else:
                ctx.moved[item_path] = item
                ctx.log.note(item_path, position.declared, item, MOVED)
                value[key] = None


def _pattern(steps: Steps) -> str:
    text = ""
    for step in steps:
        text += step if step == "[]" or not text else f".{step}"
    return text


def _values_at(value: Any, steps: Steps) -> Iterator[Any]:
    """The non-null values at `steps` below `value`."""
    step, rest = steps[0], steps[1:]
    children: Iterable[Any]
    if step == "[]":
        children = value if value.__class__ is list else ()
    else:
        children = (value.get(step),) if value.__class__ is dict else ()
    for child in children:
        if child is not None:
            yield from _values_at(child, rest) if rest else (child,)


def _value_finder(steps: Steps) -> Callable[[Any], Iterable[Any]]:
    """`_values_at` for `steps`; without arrays on the way, a plain loop (the common
    case, and the one run for every record)."""
    if "[]" in steps:
        return lambda record: _values_at(record, steps)

    def value_at(record: Any) -> tuple[Any, ...]:
        node = record
        for step in steps:
            if node.__class__ is not dict:
                return ()
            node = node.get(step)
            if node is None:
                return ()
        return (node,)

    return value_at


class DriftGuard:
    """The compiled drift handling of one stream's schema.

    `absorb(record)` returns the record ready for the target: converted in place,
    unconvertible values moved to `_sdc_drift`, new top-level fields added to the
    schema through `on_new_field(name, property_schema)` (called before the record
    is emitted, so the new SCHEMA goes out first). Every drift is counted in `log`.
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        log: DriftLog,
        on_new_field: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.log = log
        self._root = _Object(schema.get("properties", {}), ())
        self._on_new_field = on_new_field
        self._compile()

    def _compile(self) -> None:
        """The fast check: one strict msgspec conversion of the whole record."""
        try:
            self._struct: type[msgspec.Struct] | None = self._root.msgspec_type()
        except _Unsupported:
            self._struct = None  # every record takes the slow path
        # Per tolerated field: its value finder, and its count keys by the value's class
        # (made on first sight, so the fast path builds no key).
        self._tolerated: list[
            tuple[Callable[[Any], Iterable[Any]], str, str, dict[type, CountKey]]
        ] = [
            (_value_finder(steps), pattern, outcome, {})
            for steps, pattern, outcome in self._root.tolerated_fields()
        ]

    def absorb(self, record: dict[str, Any], *, thorough: bool = False) -> dict[str, Any]:
        """Convert, move and announce whatever drifted in `record` (in place).

        The fast check accepts any number at a date-time position; `thorough` also
        checks that each one is a date-time (for when the timestamp converter refused
        one)."""
        if not thorough and self._struct is not None:
            try:
                msgspec.convert(record, self._struct, strict=True)
            except msgspec.ValidationError:
                pass
            else:
                counts = self.log.counts
                for values_in, pattern, outcome, keys in self._tolerated:
                    for value in values_in(record):
                        key = keys.get(value.__class__)
                        if key is None:
                            key = (pattern, NOT_DECLARED, json_type_name(value), outcome)
                            keys[value.__class__] = key
                        counts[key] += 1
                return record
        ctx = _Context(self.log, self._new_field)
        self._root.repair(record, "", ctx)
        if ctx.moved:
            if DRIFT_PROPERTY not in self._root.positions:  # a catalog from before it
                self._add(DRIFT_PROPERTY, dict(DRIFT_SCHEMA))
            moved = record.get(DRIFT_PROPERTY)
            record[DRIFT_PROPERTY] = {**moved, **ctx.moved} if moved else ctx.moved
        if ctx.learnt:
            self._compile()
        return record

    def _add(self, key: str, schema: dict[str, Any], *, new_field: bool = False) -> None:
        self._root.add(key, schema, new_field=new_field)
        self._on_new_field(key, schema)
        self._compile()

    def _new_field(self, key: str, value: Any) -> bool:
        if value is None:
            return False  # nothing to type it by (and a null loads as nothing)
        self._add(key, property_schema_for(value), new_field=True)
        self.log.note(key, NOT_DECLARED, value, NEW_COLUMN)
        return True
