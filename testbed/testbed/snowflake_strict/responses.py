"""Login, PUT and result responses as Snowflake sends them, where fakesnow's differ.

Connector 4.x reads a session token and little else, and tolerates arrow that breaks
arrow's rules; connector 5.x (a Rust core) reads a login response, a PUT's stage
information and an arrow result as Snowflake sends them and refuses fakesnow's ("Missing
response field: master token", "Missing parameter in Snowflake response: stage info ->
region", "GCS presigned URL does not authorize every x-goog-* header required by a
conditional OVERWRITE=FALSE upload", "Found unmasked nulls for non-nullable StructArray
field \"epoch\""). The layer completes them as Snowflake sends them: it makes the local
Snowflake no kinder, only complete. 5.x also sends login session parameters as strings,
which Snowflake types per parameter (`typed_session_parameters`).
"""

from __future__ import annotations

import base64
import fnmatch
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa
import pyarrow.compute as pc

# Snowflake's defaults: a session token valid for an hour, a master token for four.
SESSION_VALIDITY_SECONDS = 3600
MASTER_VALIDITY_SECONDS = 14400
SIGNED_UPLOAD_HEADERS = ("host", "x-goog-if-generation-match", "x-goog-meta-sfc-digest")


def complete_login(data: dict[str, Any], session_id: int, user: str) -> None:
    """Add the login response fields Snowflake sends besides the session token (4.x sends
    its logout only to a session that has a master token; 5.x refuses a login without)."""
    data.update(
        {
            "masterToken": f"master-{data['token']}",
            "validityInSeconds": SESSION_VALIDITY_SECONDS,
            "masterValidityInSeconds": MASTER_VALIDITY_SECONDS,
            "sessionId": session_id,
            "displayUserName": user,
            "firstLogin": False,
            "healthCheckInterval": 45,
            "idToken": None,
            "mfaToken": None,
        }
    )


def typed_session_parameters(
    parameters: dict[str, Any], kinds: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """Login session parameters with the types Snowflake gives them: connector 5.x sends
    every value as a string (`"false"`, `"600"`), Snowflake reads each as its parameter's
    type (fakesnow would read `AUTOCOMMIT: "false"` as true). `kinds`: each parameter's
    (default, type); a value that is no valid BOOLEAN or NUMBER, or of a parameter not in
    `kinds`, is kept as sent."""
    typed = {}
    for name, value in parameters.items():
        kind = kinds.get(name.upper(), ("", "STRING"))[1]
        text = str(value).strip().lower()
        if isinstance(value, str) and kind == "BOOLEAN" and text in {"true", "false"}:
            value = text == "true"
        elif isinstance(value, str) and kind == "NUMBER" and text.lstrip("-").isdigit():
            value = int(text)
        typed[name] = value
    return typed


def complete_stage_info(data: dict[str, Any]) -> None:
    """Add the stage fields Snowflake sends with a PUT's upload instructions.

    fakesnow answers a PUT with GCS-shaped stage information (a presigned URL back to
    itself) but without the bucket's region and path, and without encryption (which the
    local bucket does not do: `isClientSideEncrypted` false, as on a stage created with
    `ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')`).
    """
    stage = data.get("stageInfo")
    if not isinstance(stage, dict):
        return
    location = str(stage.get("location") or "")
    defaults: dict[str, Any] = {
        "path": location.split("/", 1)[1] if "/" in location else "",
        "region": "US-CENTRAL1",
        "storageAccount": None,
        "isClientSideEncrypted": False,
        "endPoint": None,
        "useS3RegionalUrl": False,
        "useRegionalUrl": False,
        "useVirtualUrl": False,
    }
    for key, value in defaults.items():
        stage.setdefault(key, value)
    if stage.get("presignedUrl") and "?" not in stage["presignedUrl"]:
        stage["presignedUrl"] += "?" + urlencode(
            {
                "X-Goog-Algorithm": "GOOG4-RSA-SHA256",
                "X-Goog-Expires": "3600",
                "X-Goog-SignedHeaders": ";".join(SIGNED_UPLOAD_HEADERS),
                "X-Goog-Signature": "local",
            }
        )
    data.setdefault("encryptionMaterial", None)


def repair_timestamps(data: dict[str, Any]) -> bool:
    """A NULL timestamp as Snowflake encodes it in an arrow result.

    Snowflake sends TIMESTAMP_* values as structs (epoch, fraction[, timezone]) whose
    fields are declared non-nullable: a NULL value is a null struct slot. fakesnow leaves
    the struct slot valid and puts the nulls in the non-nullable fields, which is invalid
    arrow (4.x reads it; 5.x refuses the whole result). True if the result changed.
    """
    if data.get("queryResultFormat") != "arrow" or not data.get("rowsetBase64"):
        return False
    if not any(str(c.get("type", "")).startswith("timestamp") for c in data.get("rowtype") or []):
        return False
    table = pa.ipc.open_stream(base64.b64decode(data["rowsetBase64"])).read_all()
    columns = [_null_struct_slots(column.combine_chunks()) for column in table.columns]
    repaired = pa.Table.from_arrays(columns, schema=table.schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, repaired.schema) as writer:
        writer.write_table(repaired)
    data["rowsetBase64"] = base64.b64encode(sink.getvalue().to_pybytes()).decode()
    return True


def _null_struct_slots(column: pa.Array) -> pa.Array:
    if not pa.types.is_struct(column.type) or column.null_count or not len(column):
        return column
    fields = [column.field(i) for i in range(column.type.num_fields)]
    if not fields[0].null_count:
        return column
    return pa.StructArray.from_arrays(
        [pc.fill_null(field, 0) for field in fields],
        fields=list(column.type),
        mask=pc.is_null(fields[0]),
    )


def edit_rows(
    data: dict[str, Any], edit: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> bool:
    """Pass each row of a result (as {column: value}) through `edit`, which returns it
    (changed or not) or None to leave it out. True if the result changed."""
    if data.get("queryResultFormat") != "arrow":
        names = [str(column["name"]) for column in data.get("rowtype") or []]
        before = [dict(zip(names, row, strict=True)) for row in data.get("rowset") or []]
        after = [row for row in map(edit, [dict(row) for row in before]) if row is not None]
        if after == before:
            return False
        data["rowset"] = [[row[name] for name in names] for row in after]
        data["total"] = len(after)
        return True
    if not data.get("rowsetBase64"):
        return False
    table = pa.ipc.open_stream(base64.b64decode(data["rowsetBase64"])).read_all()
    before = table.to_pylist()
    after = [row for row in map(edit, [dict(row) for row in before]) if row is not None]
    if after == before:
        return False
    edited = pa.Table.from_pylist(after, schema=table.schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, edited.schema) as writer:
        writer.write_table(edited)
    data["rowsetBase64"] = base64.b64encode(sink.getvalue().to_pybytes()).decode()
    data["total"] = edited.num_rows
    return True


# DuckDB's names for types that fakesnow's DESCRIBE and INFORMATION_SCHEMA.COLUMNS pass
# through, as the Snowflake types they are: every integer a NUMBER (Snowflake has no
# unsigned or sized integers), lists ARRAYs, structs and maps OBJECTs. Exact names, then
# LIKE patterns.
DUCKDB_TYPES: dict[str, str] = {
    **dict.fromkeys(
        (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINYINT",
            "USMALLINT",
            "UINTEGER",
            "UBIGINT",
            "UHUGEINT",
        ),
        "NUMBER",
    ),
    "FLOAT": "FLOAT",
    "REAL": "FLOAT",
    "DOUBLE": "FLOAT",
    **dict.fromkeys(("TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"), "TIMESTAMP_NTZ"),
}
DUCKDB_TYPE_PATTERNS = (("%]", "ARRAY"), ("STRUCT(%", "OBJECT"), ("MAP(%", "OBJECT"))
# DESCRIBE spells a type out with its precision
_DESCRIBED = {"NUMBER": "NUMBER(38,0)", "TIMESTAMP_NTZ": "TIMESTAMP_NTZ(9)"}


def described_type(duckdb: str) -> str:
    """The type Snowflake's DESCRIBE shows for a column fakesnow describes as `duckdb`."""
    name = DUCKDB_TYPES.get(duckdb.upper())
    for pattern, snowflake in DUCKDB_TYPE_PATTERNS:
        if fnmatch.fnmatchcase(duckdb.upper(), pattern.replace("%", "*")):
            name = snowflake
    return duckdb if name is None else _DESCRIBED.get(name, name)
