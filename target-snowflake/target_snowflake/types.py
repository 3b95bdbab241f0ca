"""JSON Schema to Snowflake column types, and how a column's type may evolve."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from decimal import Decimal

import msgspec

TIMESTAMP_TYPES = {"TZ": "TIMESTAMP_TZ", "NTZ": "TIMESTAMP_NTZ", "LTZ": "TIMESTAMP_LTZ"}
# The longest VARCHAR Snowflake declares (characters); a value may hold up to 128 MiB
# (134,217,728 bytes) since the 2024_08 behaviour change. A VARCHAR without a length means
# 16,777,216 characters, so columns the target creates are declared with this length.
MAX_VARCHAR_LENGTH = 134_217_728
DEFAULT_VARCHAR_LENGTH = 16_777_216
# Digits of Snowflake's NUMBER: a NUMBER(38,s) column holds 38 - s digits before the point.
NUMBER_DIGITS = 38
# The longest text of a DOUBLE cast to VARCHAR (sign, 17 digits, point, exponent), which
# may be longer than the JSON number it came from (1e5 is 100000).
DOUBLE_TEXT_LENGTH = 25
# Conversions to VARCHAR in a type change spell out their format, so the session's or
# account's output formats cannot drop digits (the default keeps milliseconds only).
VARCHAR_FORMATS = {
    "TIMESTAMP_TZ": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
    "TIMESTAMP_LTZ": 'YYYY-MM-DD"T"HH24:MI:SS.FF9TZH:TZM',
    "TIMESTAMP_NTZ": 'YYYY-MM-DD"T"HH24:MI:SS.FF9',
    "DATE": "YYYY-MM-DD",
    "TIME": "HH24:MI:SS.FF9",
    # Text-minimal in scientific notation: as many digits as the double needs to read back
    # exactly (up to 17 significant), always with an exponent: 1.5 -> '1.5E0'. Snowflake
    # prints DOUBLE with TME by default too; a fixed-position format would cut digits.
    # https://docs.snowflake.com/en/sql-reference/sql-format-models (text-minimal formats)
    "FLOAT": "TME",
}
_NUMERIC = {"NUMBER", "FLOAT"}
_TIMESTAMPS = set(TIMESTAMP_TYPES.values())


@dataclass(frozen=True)
class SnowflakeType:
    """A column type: its family name; for NUMBER the scale (precision is always 38), for
    VARCHAR the declared length in characters."""

    name: str
    scale: int = 0
    length: int | None = None

    @property
    def sql(self) -> str:
        """The type as written in DDL and casts."""
        if self.name == "NUMBER":
            return f"NUMBER(38,{self.scale})"
        if self.name == "VARCHAR":
            return f"VARCHAR({self.length or MAX_VARCHAR_LENGTH})"
        return self.name


VARCHAR = SnowflakeType("VARCHAR", length=MAX_VARCHAR_LENGTH)
VARIANT = SnowflakeType("VARIANT")
FLOAT = SnowflakeType("FLOAT")
INTEGER = SnowflakeType("NUMBER", 0)


def _non_null_types(schema: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The non-null alternatives a property schema allows, one schema per JSON type."""
    if "anyOf" in schema or "oneOf" in schema:
        branches = schema.get("anyOf") or schema.get("oneOf") or []
        return [alt for branch in branches for alt in _non_null_types(branch)]
    types = schema.get("type")
    if types is None:
        return [{}]  # untyped
    if isinstance(types, str):
        types = [types]
    return [{**schema, "type": kind} for kind in types if kind != "null"]


def _fixed_scale(multiple_of: t.Any) -> int | None:
    """The scale a `multipleOf` pins (0.01 -> 2), if it is a power of ten up to 1."""
    step = Decimal(str(multiple_of))
    exponent = step.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or step.normalize() != Decimal(1).scaleb(exponent):
        return None
    return -exponent if exponent <= 0 else None


def from_jsonschema(schema: dict[str, t.Any], timestamp_type: str = "TZ") -> SnowflakeType:
    """The column type for a property's JSON Schema."""
    alternatives = _non_null_types(schema)
    kinds = {alt.get("type") for alt in alternatives}
    if kinds == {"integer", "number"}:  # an integer is a number: not a real union
        alternatives = [alt for alt in alternatives if alt.get("type") == "number"]
        kinds = {"number"}
    if len(alternatives) != 1 or len(kinds) != 1:
        if kinds == {"string"} and len({alt.get("format") for alt in alternatives}) > 1:
            return VARCHAR  # e.g. anyOf date-time string | plain string
        return VARIANT
    alt = alternatives[0]
    kind = alt.get("type")
    if kind == "string":
        fmt = alt.get("format")
        if fmt == "date-time":
            return SnowflakeType(TIMESTAMP_TYPES[timestamp_type])
        if fmt == "date":
            return SnowflakeType("DATE")
        if fmt == "time":
            return SnowflakeType("TIME")
        return VARCHAR
    if kind == "integer":
        return INTEGER
    if kind == "number":
        scale = _fixed_scale(alt["multipleOf"]) if "multipleOf" in alt else None
        return FLOAT if scale is None else SnowflakeType("NUMBER", scale)
    if kind == "boolean":
        return SnowflakeType("BOOLEAN")
    return VARIANT  # object, array, untyped


def from_information_schema(
    data_type: str, scale: int | None, length: int | None = None
) -> SnowflakeType:
    """The type of an existing column as INFORMATION_SCHEMA.COLUMNS reports it (length:
    CHARACTER_MAXIMUM_LENGTH)."""
    name = data_type.upper()
    if name in {"TEXT", "VARCHAR", "STRING", "CHAR"}:
        return SnowflakeType("VARCHAR", length=length or DEFAULT_VARCHAR_LENGTH)
    if name in {"NUMBER", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT"}:
        return SnowflakeType("NUMBER", scale or 0)
    if name in {"FLOAT", "DOUBLE", "REAL"}:
        return FLOAT
    if name in {"OBJECT", "ARRAY"}:
        return VARIANT
    return SnowflakeType(name)


def widen(current: SnowflakeType, wanted: SnowflakeType) -> SnowflakeType:
    """The type a column needs to hold both its current values and values of `wanted`.

    Columns never narrow: a column that must change type moves to a type that can hold
    every value it already has (see `Table.retype_column` for how). An existing VARCHAR
    keeps its length: only a longer value lengthens it (`tables.Table.lengthen`). An
    existing NUMBER keeps its type for a schema that allows more (a float, a larger
    scale): only a value it cannot hold exactly changes it (`number_fits`, `roomier_number`).
    """
    if current == wanted:
        return current
    if VARIANT in (current, wanted):
        return VARIANT
    if current.name == "VARCHAR":  # holds the text of any scalar
        return current
    if wanted.name == "VARCHAR":
        return VARCHAR
    if current.name in _NUMERIC and wanted.name in _NUMERIC:
        return current
    if current.name in _TIMESTAMPS and wanted.name in _TIMESTAMPS:
        return current  # timestamp_type changed: existing column keeps its flavour
    if current.name == "DATE" and wanted.name in _TIMESTAMPS:
        return wanted  # a date is a timestamp at midnight
    if wanted.name == "DATE" and current.name in _TIMESTAMPS:
        return current
    return VARCHAR


def roomier_number(current: SnowflakeType, wanted: SnowflakeType) -> SnowflakeType | None:
    """What a NUMBER column `widen` kept for a numeric schema that allows more becomes once
    a value does not fit it (FLOAT, or NUMBER with the schema's scale); None when every
    value the schema allows fits it."""
    if current.name != "NUMBER" or wanted.name not in _NUMERIC:
        return None
    if wanted == FLOAT:
        return FLOAT
    return wanted if wanted.scale > current.scale else None


def number_fits(value: bytes, scale: int) -> bool:
    """Whether a JSON number (raw; `null` fits) is held exactly by NUMBER(38,`scale`): no
    more than `scale` digits after the point once trailing zeros go, and no more than
    38 - `scale` before it. A cast would round a longer fraction without a word."""
    if value[:1] not in b"-0123456789":
        return True  # null, or not a number: the validator's (or the load's) to name
    if not any(char in value for char in b".eE"):  # an integer, as JSON writes it
        return len(value.lstrip(b"-")) <= NUMBER_DIGITS - scale
    _, digits, exponent = Decimal(value.decode()).as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity: JSON has neither
        return False
    if not any(digits):
        return True  # zero, however written
    significant = len(digits)
    while digits[significant - 1] == 0 and exponent < 0:
        significant -= 1
        exponent += 1
    return -exponent <= scale and significant + exponent <= NUMBER_DIGITS - scale


def text_length(value: bytes) -> int:
    """How many characters a JSON value (raw) has once cast to VARCHAR; for a number with
    a fraction or an exponent, at most that many."""
    if value[:1] == b'"':
        return len(msgspec.json.decode(value))
    if value == b"null":
        return 0
    if value[:1] in b"-0123456789" and any(char in value for char in b".eE"):
        return max(len(value), DOUBLE_TEXT_LENGTH)
    return len(value)  # an integer, true/false; an object's text is no longer than its JSON


def from_variant(path: str, to: SnowflakeType) -> str:
    """SQL that turns a value of the staged VARIANT (a path into it) into a column value."""
    if to == VARIANT:
        return path
    if to.name == "TIMESTAMP_NTZ":  # the instant in UTC, not the wall clock as written
        return f"CONVERT_TIMEZONE('UTC', {path}::TIMESTAMP_TZ)::TIMESTAMP_NTZ"
    return f"{path}::{to.sql}"


def convert(column: str, current: SnowflakeType, to: SnowflakeType) -> str:
    """SQL that converts an existing column's values to `to` (for a type change).

    To VARCHAR with an explicit format for timestamps (nanoseconds and offset), dates,
    times and floats; NUMBER converts exactly without one.
    """
    if to == VARIANT:
        return f"TO_VARIANT({column})"
    if to.name == "VARCHAR" and current.name in VARCHAR_FORMATS:
        return f"TO_VARCHAR({column}, '{VARCHAR_FORMATS[current.name]}')"
    return f"{column}::{to.sql}"
