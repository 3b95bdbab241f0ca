"""Record validation compiled once from the stream's JSON Schema.

The schema is turned into msgspec types (a Struct per object, with the JSON Schema
keywords msgspec can check: types, formats date-time/date/time, enum, lengths, pattern,
bounds, multipleOf, required, additionalProperties false), so one C-level decode of the
record's raw JSON both parses and validates it. A property whose schema msgspec cannot
express (e.g. an anyOf of two object shapes) is decoded as-is and checked with
jsonschema instead, so validation stays complete and only that property pays for it.

Values of NUMBER(38,s) columns (integers, numbers with a decimal multipleOf) must also
have at most 38 - s digits before the point: msgspec's bounds stop at 64 bits, so that is
one comparison per such property after the decode. A record the decoder cannot read
whole (nested too deep, a number beyond a double) is still refused by name: its key comes
from a shallow or lenient decode.
"""

from __future__ import annotations

import datetime
import operator
import re
import sys
import typing as t
from decimal import Decimal
from types import GenericAlias

import jsonschema
import msgspec

from target_snowflake.types import NUMBER_DIGITS, from_jsonschema

KEY_NULL_MESSAGE = "is null"
# How deep a record is decoded to name it (its key) when it is too deep to decode whole.
_NAMING_DEPTH = 100
# A JSON string, or one structural character (what the depth scan needs to see).
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)
# Numbers beyond a double's range stay Decimal: such a record can still be named.
_decode_leniently = msgspec.json.Decoder(float_hook=Decimal).decode
_decode_any = msgspec.json.Decoder().decode

_FORMATS: dict[str, type] = {
    "date-time": datetime.datetime,
    "date": datetime.date,
    "time": datetime.time,
}


class _Unsupported(Exception):
    """A schema fragment msgspec cannot express."""


def _annotated(base: t.Any, schema: dict[str, t.Any], keywords: dict[str, str]) -> t.Any:
    constraints = {meta: schema[key] for key, meta in keywords.items() if key in schema}
    return t.Annotated[base, msgspec.Meta(**constraints)] if constraints else base


def _scalar(kind: str, schema: dict[str, t.Any]) -> t.Any:
    if "enum" in schema:
        values = tuple(value for value in schema["enum"] if value is not None)
        if not values or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            raise _Unsupported
        return t.Literal[values]
    if kind == "string":
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        return _annotated(
            str,
            schema,
            {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"},
        )
    numeric = {
        "minimum": "ge",
        "maximum": "le",
        "exclusiveMinimum": "gt",
        "exclusiveMaximum": "lt",
        "multipleOf": "multiple_of",
    }
    if kind == "integer":
        return _annotated(int, schema, numeric)
    if kind == "number":
        # multipleOf on floats is exact-arithmetic-sensitive; the column's scale enforces it.
        return _annotated(float, schema, {k: v for k, v in numeric.items() if k != "multipleOf"})
    if kind == "boolean":
        return bool
    if kind == "object":
        if schema.get("properties"):
            return object_type(schema)
        return dict[str, t.Any]
    if kind == "array":
        items = schema.get("items")
        inner = property_type(items) if isinstance(items, dict) else t.Any
        array = GenericAlias(list, (inner,))  # list[inner], built at run time
        return _annotated(array, schema, {"minItems": "min_length", "maxItems": "max_length"})
    raise _Unsupported


def property_type(schema: dict[str, t.Any]) -> t.Any:
    """The msgspec type that accepts exactly the values the property schema allows."""
    if not isinstance(schema, dict) or set(schema) & {"allOf", "not", "$ref", "if"}:
        raise _Unsupported
    if "anyOf" in schema or "oneOf" in schema:
        branches = [property_type(branch) for branch in schema.get("anyOf") or schema["oneOf"]]
        union: t.Any = t.Union[tuple(branches)]  # noqa: UP007
        msgspec.json.Decoder(union)  # raises TypeError for unions msgspec cannot tell apart
        return union
    kinds = schema.get("type")
    if kinds is None:
        return t.Any
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "integer" in kinds and "number" in kinds:
        kinds.remove("integer")
    types = [_scalar(kind, schema) for kind in kinds if kind != "null"]
    if "null" in kinds:
        types.append(None)
    if not types:
        return None
    union = t.Union[tuple(types)] if len(types) > 1 else types[0]  # noqa: UP007
    if len(types) > 1:
        msgspec.json.Decoder(union)
    return union


def _field(name: str, schema: dict[str, t.Any]) -> tuple[t.Any, dict[str, t.Any] | None]:
    """A field's type, or (t.Any, schema) when jsonschema must check it."""
    try:
        return property_type(schema), None
    except (_Unsupported, TypeError):
        return t.Any, schema


def object_type(
    schema: dict[str, t.Any],
    required: t.Collection[str] = (),
    fallbacks: dict[str, t.Any] | None = None,
) -> type[msgspec.Struct]:
    """A Struct type for an object schema; `required` adds to the schema's own list."""
    needed = set(schema.get("required", [])) | set(required)
    fields: list[tuple[str, t.Any] | tuple[str, t.Any, None]] = []
    rename = {}
    for index, (name, prop) in enumerate(schema.get("properties", {}).items()):
        attribute = f"p{index}"
        rename[attribute] = name
        kind, fallback = _field(name, prop)
        if fallback is not None:
            if fallbacks is None:
                raise _Unsupported  # nested: let the parent property fall back as a whole
            fallbacks[attribute] = jsonschema.Draft7Validator(fallback)
        if name in needed:
            fields.append((attribute, kind))
        else:
            fields.append((attribute, kind, None))
    fields.sort(key=lambda field: len(field) == 3)
    try:
        return msgspec.defstruct(
            "Record",  # a name for messages only: each schema gets a class of its own
            fields,
            rename=rename,
            forbid_unknown_fields=schema.get("additionalProperties") is False,
        )
    except ValueError:  # a property name msgspec cannot rename to (quote, backslash...)
        raise _Unsupported from None


def cut_to_depth(raw: bytes | msgspec.Raw, depth: int) -> tuple[bytes, int]:
    """The JSON text with every array or object nested deeper than `depth` replaced by
    null, and the deepest nesting it had. Iterative: for text too deep to decode."""
    raw = bytes(raw)
    parts = []
    level = deepest = copied = 0
    for match in _TOKEN.finditer(raw):
        char = match.group()[:1]
        if char in b"[{":
            level += 1
            deepest = max(deepest, level)
            if level == depth + 1:
                parts.append(raw[copied : match.start()])
        elif char in b"]}":
            if level == depth + 1:
                parts.append(b"null")
                copied = match.end()
            level -= 1
    parts.append(raw[copied:])
    return b"".join(parts), deepest


def member_text(raw: bytes, name: bytes) -> bytes | None:
    """The JSON text of a top-level member of an object (`name` as a JSON string), found
    without decoding: for a message too deep to decode."""
    level = 0
    start: int | None = None
    last_string = b""
    for match in _TOKEN.finditer(raw):
        token = match.group()
        char = token[:1]
        if char in b"[{":
            level += 1
        elif char in b"]}":
            level -= 1
            if level == 0 and start is not None:
                return raw[start : match.start()].strip()
        elif level == 1:
            if char == b'"':
                last_string = token
            elif char == b":" and last_string == name:
                start = match.end()
            elif char == b"," and start is not None:
                return raw[start : match.start()].strip()
    return None


def too_deep(raw: bytes) -> str:
    """Why a record the decoder gave up on (RecursionError) is refused."""
    _, depth = cut_to_depth(raw, 0)
    return (
        f"it is nested {depth} levels deep, deeper than the target's JSON decoder "
        f"goes (it stops near Python's recursion limit, {sys.getrecursionlimit()} levels)"
    )


def readable(raw: bytes) -> t.Any:
    """The record as Python values, for naming it in an error, whatever is wrong with it:
    numbers beyond a double's range as Decimal, containers too deep to decode as None.
    ValidationError only for an integer of thousands of digits."""
    try:
        return _decode_any(raw)
    except msgspec.ValidationError:
        return _decode_leniently(raw)
    except RecursionError:
        return readable(cut_to_depth(raw, _NAMING_DEPTH)[0])


def number_limits(properties: dict[str, t.Any]) -> dict[str, int]:
    """For each property loaded into a NUMBER(38,s) column (integers; numbers with a
    decimal multipleOf): the bound its absolute value must stay under, 10**(38-s)."""
    limits = {}
    for name, schema in properties.items():
        kind = from_jsonschema(schema) if isinstance(schema, dict) else None
        if kind is not None and kind.name == "NUMBER":
            limits[name] = 10 ** (NUMBER_DIGITS - kind.scale)
    return limits


def schema_problem(message: t.Mapping[str, t.Any]) -> str | None:
    """What makes a SCHEMA message unusable (the SDK would fail on it with a bare
    KeyError or TypeError, or read a string of keys as letters), or None."""
    if not isinstance(message.get("stream"), str):
        return "SCHEMA message: `stream` is not a string"
    schema = message.get("schema")
    if not isinstance(schema, dict):
        return "SCHEMA message: `schema` is not a JSON object"
    keys = message.get("key_properties")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        return f"SCHEMA message: `key_properties` is not a list of names: {keys!r}"
    if not isinstance(schema.get("properties", {}), dict):
        return "SCHEMA message: `schema.properties` is not a JSON object"
    return None


def _over_bound(name: str, number: int | float, bound: int) -> str:
    digits = len(str(bound)) - 1  # bound is 10**digits
    scale = NUMBER_DIGITS - digits
    shown = f"a {len(str(abs(number)))}-digit integer" if isinstance(number, int) else f"{number:g}"
    return (
        f"`$.{name}` is {shown}, over the {digits} digits before the point that its "
        f"column's NUMBER(38,{scale}) holds"
    )


def refusal(
    raw: bytes, problem: str, key_properties: t.Sequence[str], *, fails: str = "fails its schema"
) -> RecordError:
    """The RecordError for a refused record: its key (or the missing key) and the problem."""
    if problem.startswith(("Number out of range", "Integer value out of range")):
        # msgspec's words for a number no double (nor Python int) holds; Snowflake keeps
        # JSON numbers as NUMBER(38) or DOUBLE
        fails = "cannot be loaded"
        problem = "a number beyond a double's range (about 1.8e308)" + problem.partition("range")[2]
    try:
        record = readable(raw)
    except msgspec.ValidationError:  # an integer of thousands of digits: key unknown
        return RecordError(f"the record {fails}: {problem}")
    if not isinstance(record, dict):
        return RecordError("the record is not a JSON object")
    key = {k: record.get(k) for k in key_properties}
    missing = [k for k in key_properties if record.get(k) is None]
    if missing:
        names = ", ".join(repr(k) for k in missing)
        return RecordError(f"missing key property {names} (absent or null)", key, missing_key=True)
    return RecordError(f"the record {fails}: {problem}", key)


def decode_record(raw: bytes, key_properties: t.Sequence[str]) -> t.Any:
    """The record as Python values (for stream maps); RecordError, naming its key, for a
    record no decoder reads (a number beyond a double, nesting too deep)."""
    try:
        return _decode_any(raw)
    except msgspec.ValidationError as exc:
        raise refusal(raw, str(exc), key_properties) from None
    except RecursionError:
        raise refusal(raw, too_deep(raw), key_properties, fails="cannot be loaded") from None


class SchemaProblem(ValueError):
    """A stream's schema (after stream maps) the target cannot load."""


class RecordError(ValueError):
    """A record the target refuses; `key` holds the record's key values when known."""

    def __init__(
        self, message: str, key: dict[str, t.Any] | None = None, *, missing_key: bool = False
    ) -> None:
        super().__init__(message)
        self.key = key
        self.missing_key = missing_key


class RecordValidator:
    """Checks one record's raw JSON in a single decode: schema (if on) and key properties;
    then that the values of NUMBER(38,s) columns have at most 38 - s digits before the point.

    With validation off only the key properties are decoded and checked.
    """

    def __init__(
        self,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str],
        *,
        validate: bool = True,
    ) -> None:
        keys = list(key_properties)
        properties = schema.get("properties", {})
        if "" in properties or "" in keys:
            msg = (
                "a property has an empty name, which no Snowflake column (or path into the "
                "staged JSON) can take: rename it with a stream map"
            )
            raise SchemaProblem(msg)
        self._key_properties = keys
        # (getter, -bound, bound, property) of each property loaded into a NUMBER column
        self._number_bounds: list[tuple[t.Callable[[t.Any], t.Any], int, int, str]]
        self._fallbacks: dict[str, jsonschema.Draft7Validator] = {}
        self._whole: jsonschema.Draft7Validator | None = None
        self._decode: t.Callable[[bytes], t.Any]
        self._key_values: t.Callable[[t.Any], tuple[t.Any, ...]]
        if validate:
            full = {**schema, "properties": {**{k: {} for k in keys}, **properties}}
        else:
            full = {"properties": {k: {} for k in keys}}
        names = list(full["properties"])
        self._rename = {f"p{index}": name for index, name in enumerate(names)}
        bounds = number_limits(properties) if validate else {}
        try:
            struct = object_type(full, required=keys, fallbacks=self._fallbacks)
        except _Unsupported:
            # Names msgspec cannot map (e.g. containing a quote): decode a dict and let
            # jsonschema check the whole record. Slower, but only for such streams.
            self._fallbacks.clear()
            self._decode = msgspec.json.Decoder(dict[str, t.Any]).decode
            self._key_values = lambda value: tuple(value.get(k) for k in keys)
            self._whole = jsonschema.Draft7Validator(full) if validate else None
            self._number_bounds = [
                (operator.methodcaller("get", name), -bound, bound, name)
                for name, bound in bounds.items()
            ]
            return
        self._decode = msgspec.json.Decoder(struct).decode
        self._number_bounds = [
            (operator.attrgetter(f"p{names.index(name)}"), -bound, bound, name)
            for name, bound in bounds.items()
        ]
        if not keys:
            self._key_values = lambda value: ()
            return
        getter = operator.attrgetter(*[f"p{names.index(k)}" for k in keys])
        if len(keys) == 1:
            self._key_values = lambda value: (getter(value),)
        else:
            self._key_values = getter

    def check(self, raw: bytes) -> tuple[t.Any, ...]:
        """The record's key values; RecordError if it fails its schema or lacks a key."""
        try:
            value = self._decode(raw)
        except msgspec.ValidationError as exc:
            raise self._diagnose(raw, str(exc)) from None
        except RecursionError:
            raise self._diagnose(raw, too_deep(raw), fails="cannot be loaded") from None
        keys = self._key_values(value)
        if None in keys:
            raise self._diagnose(raw, "")
        if self._whole is not None:
            self._check_with_jsonschema(self._whole, value, raw, "")
        for attribute, validator in self._fallbacks.items():
            prop = getattr(value, attribute)
            if prop is not None:
                self._check_with_jsonschema(validator, prop, raw, self._rename[attribute])
        for number_of, low, high, name in self._number_bounds:
            number = number_of(value)
            if number is not None and not low < number < high:
                # a double near the bound may be rounded up: the digits as sent decide
                exact = _decode_leniently(raw).get(name)
                if not low < exact < high:
                    problem = _over_bound(name, number, high)
                    raise self._diagnose(raw, problem, fails="cannot be loaded")
        return keys

    def _check_with_jsonschema(
        self, validator: jsonschema.Draft7Validator, value: t.Any, raw: bytes, prefix: str
    ) -> None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is not None:
            path = "".join(f"[{p!r}]" for p in error.absolute_path)
            raise self._diagnose(raw, f"{error.message} - at `$.{prefix}{path}`")

    def _diagnose(
        self, raw: bytes, problem: str, *, fails: str = "fails its schema"
    ) -> RecordError:
        return refusal(raw, problem, self._key_properties, fails=fails)
