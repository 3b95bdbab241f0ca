"""Stream and property names to Snowflake identifiers.

Names are normalized deterministically: upper-cased, every character other than
A-Z, 0-9, `_` and `$` replaced by `_`, a leading digit or `$` prefixed with `_`. Every
identifier is also quoted, so reserved words work and nothing a tap sends can end a
quoted identifier early (no SQL injection through stream or property names).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

MAX_IDENTIFIER_LENGTH = 255
_NOT_ALLOWED = re.compile(r"[^A-Z0-9_$]")


def normalize(name: str) -> str:
    """The normalized (unquoted) identifier for a stream or property name."""
    identifier = _NOT_ALLOWED.sub("_", name.upper())
    if not identifier or not (identifier[0].isalpha() or identifier[0] == "_"):
        identifier = "_" + identifier
    return identifier[:MAX_IDENTIFIER_LENGTH]


def quote(identifier: str) -> str:
    """A quoted identifier; an embedded double quote is doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """A single-quoted SQL string literal (quote doubled, backslash escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def json_path(column: str, *keys: str) -> str:
    """A path into a VARIANT column: V:"key1":"key2", keys quoted like identifiers."""
    return column + "".join(":" + quote(key) for key in keys)


def column_names(properties: Iterable[str]) -> dict[str, str]:
    """Column name for each property; names that collide after normalization are told apart.

    Within a group of colliding properties, one whose name already equals the normalized
    form keeps it (else the first in sorted order does); every other one gets a suffix
    derived from a hash of its own name, so the mapping does not depend on the order in
    which properties arrive.
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(set(properties)):
        groups.setdefault(normalize(name), []).append(name)
    columns: dict[str, str] = {}
    for normalized, names in groups.items():
        keeper = normalized if normalized in names else names[0]
        for name in names:
            if name == keeper:
                columns[name] = normalized
            else:
                digest = hashlib.sha1(name.encode()).hexdigest()[:8].upper()
                columns[name] = f"{normalized[: MAX_IDENTIFIER_LENGTH - 9]}_{digest}"
    return columns
