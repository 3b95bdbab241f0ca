"""Stream, property and configured names to Snowflake identifiers.

Stream and property names are normalized deterministically: upper-cased, every character
other than A-Z, 0-9, `_` and `$` replaced by `_`, a leading digit or `$` prefixed with
`_`. Every identifier is also quoted, so reserved words work and nothing a tap sends can
end a quoted identifier early (no SQL injection through stream or property names).

Database and schema names in the config follow Snowflake's own rule for identifiers: a
name without double quotes is normalized like a stream name (so `raw` is `RAW`, as an
unquoted identifier resolves on Snowflake); a name in double quotes (`"raw"`) is used
exactly as written, case included.

Names the target generates (temporary tables, type-change columns, quarantine side
tables) end in a marker that starts with `#`, which no normalized name can contain (not
even ignoring case), so they never collide with a user's table or column; they are cut to
fit within 255 characters, with a hash of what was cut.
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


def config_identifier(name: str) -> str:
    """A database or schema name from the config: quoted as written, else normalized."""
    if len(name) > 2 and name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')[:MAX_IDENTIFIER_LENGTH]
    return normalize(name)


def generated(base: str, marker: str) -> str:
    """The name `base + marker` for something the target creates, within 255 characters.

    `marker` starts with `#`, so the name cannot equal a normalized stream or property
    name. A base too long to fit is cut and a hash of the
    whole base added, so two long bases with a common start stay apart.
    """
    if not marker.startswith("#"):
        msg = f"generated names are marked with '#': {marker!r}"
        raise ValueError(msg)
    name = base + marker
    if len(name) <= MAX_IDENTIFIER_LENGTH:
        return name
    digest = hashlib.sha1(base.encode()).hexdigest()[:10]
    return f"{base[: MAX_IDENTIFIER_LENGTH - len(marker) - 11]}_{digest}{marker}"


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
