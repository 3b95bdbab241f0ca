"""Named stages as Snowflake has them, over fakesnow: storage integrations, external S3
stages read from a local S3 server (moto), and the privileges on stages.

fakesnow records a stage's URL but reads an `s3://` URL through DuckDB's httpfs
extension, which DuckDB 2.x cannot load here; so the layer reads the bucket itself, as
Snowflake does through the integration's IAM role: `COPY INTO ... FROM @stage/path
[FILES = (...)]` fetches those objects into a local directory and hands fakesnow the COPY
from there; `LIST @stage/path` and `REMOVE @stage/path` answer from the bucket. Where
"AWS" is (endpoint and the keys standing for the integration's role) is set by tests
through `POST /strict/s3`.

Privileges, as on Snowflake: an external stage needs USAGE (COPY, LIST, DESCRIBE); an
internal named stage READ (COPY, LIST, DESCRIBE) and WRITE (PUT, REMOVE). Without one
the stage "does not exist or not authorized" (002003). A PUT to an external stage is
refused. Temporary stages are fakesnow's alone, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakesnow.transforms import stage as fakesnow_stage
from sqlglot import exp

from testbed.snowflake_strict.access import name_of, plain_text
from testbed.snowflake_strict.account import SUPERUSER_ROLE
from testbed.snowflake_strict.rules import Checker, StrictError, identifier, parts_of

Rows = tuple[list[str], list[tuple[Any, ...]]]
StageKey = tuple[str, str, str]
# A stage reference: @name.parts/path (quoted parts may hold dots and slashes).
_REFERENCE = re.compile(r'@((?:"(?:[^"]|"")*"|[^./"\s]+)(?:\.(?:"(?:[^"]|"")*"|[^./"\s]+))*)(.*)')
_PART = re.compile(r'"(?:[^"]|"")*"|[^."]+')
_INTEGRATION = re.compile(
    r"(?i)CREATE\s+(OR\s+REPLACE\s+)?STORAGE\s+INTEGRATION\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r'("(?:[^"]|"")*"|\w+)\s+(.*)'
)
_ALLOWED = re.compile(r"(?i)STORAGE_ALLOWED_LOCATIONS\s*=\s*\(([^)]*)\)")
# A fetched COPY's directory is removed this long after (the COPY runs right after).
_FETCHED_LIFETIME = 600.0


@dataclass
class NamedStage:
    url: str  # "" for an internal stage
    integration: str | None


def _not_found(key: StageKey) -> StrictError:
    return StrictError(
        "002003",
        "02000",
        f"SQL compilation error:\nStage '{'.'.join(key)}' does not exist or not authorized.",
        "stage-privileges",
    )


class ExternalStages:
    """Named stages and integrations of the account, and the local S3 behind them."""

    def __init__(self) -> None:
        self.stages: dict[StageKey, NamedStage] = {}
        self.integrations: dict[str, list[str]] = {}  # name -> allowed locations
        self.s3: dict[str, str] = {}  # endpoint_url, aws_access_key_id, ... (POST /strict/s3)
        self._fetched = Path(tempfile.mkdtemp(prefix="strict-external-stages-"))

    # What a statement needs (under the account lock, before it runs)

    def answer(self, checker: Checker, statement: exp.Expr | None, sql: str) -> Rows | None:
        """Answer what the layer handles itself (integrations, DESCRIBE STAGE, LIST and
        REMOVE of a named stage); check the stage privileges of PUT and COPY (a
        `StrictError`). None: fakesnow runs the statement."""
        text = plain_text(sql)
        if integration := _INTEGRATION.fullmatch(text):
            return self._create_integration(checker, integration)
        if isinstance(statement, exp.Create) and str(statement.args.get("kind")) == "STAGE":
            self._check_create_stage(statement)
            return None
        if isinstance(statement, exp.Describe) and str(statement.args.get("kind")) == "STAGE":
            key = self._key(checker, [identifier(p) for p in parts_of(statement.this)])
            stage = self._usable(checker, key, "READ")
            return (
                ["parent_property", "property", "property_type", "property_value", "default"],
                [
                    (
                        "STAGE_LOCATION",
                        "URL",
                        "String",
                        f'["{stage.url}"]' if stage.url else "",
                        "",
                    ),
                    (
                        "STAGE_INTEGRATION",
                        "STORAGE_INTEGRATION",
                        "String",
                        stage.integration or "",
                        "",
                    ),
                ],
            )
        reference = self._reference(statement, text)
        if reference is None:
            return None
        kind, parts, path = reference
        key = self._key(checker, parts)
        if key not in self.stages:
            return None  # a temporary stage: fakesnow's own
        stage = self.stages[key]
        if kind == "PUT":
            if stage.url:
                raise StrictError(
                    "001006",
                    "22023",
                    f"SQL compilation error:\nPUT is not supported for external stage "
                    f"'{'.'.join(key)}': upload to {stage.url} instead",
                    "stage-privileges",
                )
            self._usable(checker, key, "WRITE")
            return None
        self._usable(checker, key, "WRITE" if kind == "REMOVE" else "READ")
        if kind == "LIST":  # fakesnow lists no path under a named stage
            return self._list(stage, path) if stage.url else self._list_internal(key, path)
        if kind == "REMOVE":
            return self._remove(key, stage, path)
        return None

    def _create_integration(self, checker: Checker, match: re.Match[str]) -> Rows:
        if SUPERUSER_ROLE not in checker.account.role_hierarchy(checker.session.role):
            raise StrictError(
                "003001",
                "42501",
                "SQL access control error:\nInsufficient privileges to operate on account "
                "(CREATE INTEGRATION needed)",
                "stage-privileges",
            )
        name = name_of(match[2])
        allowed = _ALLOWED.search(match[3])
        self.integrations[name] = (
            [location.strip().strip("'") for location in allowed[1].split(",")] if allowed else []
        )
        return (["status"], [(f"Integration {name} successfully created.",)])

    def _check_create_stage(self, statement: exp.Create) -> None:
        url, integration = _stage_properties(statement)
        if not url:
            return
        if integration is None or integration not in self.integrations:
            raise StrictError(
                "002003",
                "02000",
                f"SQL compilation error:\nIntegration '{integration}' does not exist or not "
                "authorized.",
                "stage-privileges",
            )
        if not any(url.startswith(allowed) for allowed in self.integrations[integration]):
            raise StrictError(
                "003118",
                "42601",
                f"SQL compilation error:\nLocation '{url}' is not allowed by integration "
                f"'{integration}'.",
                "stage-privileges",
            )

    def _key(self, checker: Checker, parts: list[str]) -> StageKey:
        session = checker.session
        full = [session.database or "", session.schema or ""][: 3 - len(parts)] + parts
        return (full[0], full[1], full[2])

    @staticmethod
    def _reference(statement: exp.Expr | None, text: str) -> tuple[str, list[str], str] | None:
        """(PUT, COPY, LIST or REMOVE; the parts of the stage's name; the path) of a
        statement on a stage."""
        if isinstance(statement, exp.Put):
            kind, where = "PUT", statement.args["target"].text("this")
        elif isinstance(statement, exp.Copy):
            source = statement.args["files"][0]
            var = source.this if isinstance(source, exp.Table) else None
            if not isinstance(var, exp.Var):
                return None
            kind, where = "COPY", var.this
        elif isinstance(statement, exp.ListStage):
            kind, where = "LIST", statement.this.name
        elif re.match(r"(?i)(REMOVE|RM)\s+@", text):
            kind, where = "REMOVE", text.split(None, 1)[1].strip().strip("'")
        else:
            return None
        match = _REFERENCE.fullmatch(where.strip())
        if match is None:
            return None
        parts = [name_of(part) for part in _PART.findall(match[1])]
        return kind, parts, match[2].strip("/")

    def _usable(self, checker: Checker, key: StageKey, internal_privilege: str) -> NamedStage:
        stage = self.stages.get(key)
        if stage is None:
            raise _not_found(key)
        wanted = "USAGE" if stage.url else internal_privilege
        if not checker.account.has(checker.principals(), wanted, ("STAGE", key)):
            raise _not_found(key)
        return stage

    # The bucket

    def _client(self) -> Any:
        """The S3 client of the integration's role (its errors: `_storage`)."""
        import boto3  # type: ignore[import-untyped]

        if not self.s3:
            raise StrictError(
                "091016",
                "22000",
                "Remote storage is not configured for this local Snowflake (POST /strict/s3)",
                "external-stage",
            )
        return boto3.client(
            "s3",
            endpoint_url=self.s3["endpoint_url"],
            aws_access_key_id=self.s3.get("aws_access_key_id"),
            aws_secret_access_key=self.s3.get("aws_secret_access_key"),
            region_name=self.s3.get("region_name", "us-east-1"),
        )

    @staticmethod
    @contextlib.contextmanager
    def _storage() -> Iterator[None]:
        """S3 refusing the integration's role, as Snowflake reports a stage's storage
        failing (091003)."""
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "NoSuchKey":
                raise StrictError(
                    "091016",
                    "22000",
                    f"Remote file '{error.get('Key')}' was not found.",
                    "external-stage",
                ) from None
            raise StrictError(
                "091003",
                "22000",
                f"Failure using stage area. Cause: [{error.get('Message')} (Error Code: "
                f"{error.get('Code')})]",
                "external-stage",
            ) from None

    @staticmethod
    def _location(stage: NamedStage, path: str) -> tuple[str, str]:
        """The bucket and key prefix a path under an external stage stands for."""
        bucket, _, prefix = stage.url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        key = "/".join(part for part in (prefix, path) if part)
        return bucket, key

    def _objects(self, stage: NamedStage, path: str) -> list[dict[str, Any]]:
        bucket, prefix = self._location(stage, path)
        pages = (
            self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return [item for page in pages for item in page.get("Contents", [])]

    def _list(self, stage: NamedStage, path: str) -> Rows:
        bucket, _ = self._location(stage, path)
        rows = [
            (
                f"s3://{bucket}/{item['Key']}",
                item["Size"],
                str(item["ETag"]).strip('"'),
                item["LastModified"].strftime("%a, %d %b %Y %H:%M:%S GMT"),
            )
            for item in self._objects(stage, path)
        ]
        return (["name", "size", "md5", "last_modified"], rows)

    @staticmethod
    def _internal_files(key: StageKey, path: str) -> list[tuple[str, Path]]:
        """(name as LIST shows it, file) under a path of an internal named stage."""
        root = Path(fakesnow_stage.internal_dir(".".join(key)))
        directory = root / path
        return [
            (f"{key[2].lower()}/{file.relative_to(root)}", file)
            for file in sorted(directory.rglob("*"))
            if file.is_file()
        ]

    def _list_internal(self, key: StageKey, path: str) -> Rows:
        rows = [
            (
                name,
                file.stat().st_size,
                hashlib.md5(file.read_bytes()).hexdigest(),
                time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(file.stat().st_mtime)),
            )
            for name, file in self._internal_files(key, path)
        ]
        return (["name", "size", "md5", "last_modified"], rows)

    def _remove(self, key: StageKey, stage: NamedStage, path: str) -> Rows:
        if stage.url:
            bucket, _ = self._location(stage, path)
            client = self._client()
            removed = []
            for item in self._objects(stage, path):
                with self._storage():
                    client.delete_object(Bucket=bucket, Key=item["Key"])
                removed.append(f"s3://{bucket}/{item['Key']}")
        else:
            files = self._internal_files(key, path)
            for _, file in files:
                file.unlink()
            removed = [name for name, _ in files]
        return (["name", "result"], [(name, "removed") for name in removed])

    # COPY from an external stage (after the checks, outside the account lock)

    def fetched_copy(self, checker: Checker, statement: exp.Expr | None) -> exp.Expr | None:
        """A COPY from an external stage as one fakesnow can run: the objects it names
        (FILES, else every one under the path) fetched into a local directory, which the
        COPY then reads. None for any other statement."""
        if not isinstance(statement, exp.Copy):
            return None
        reference = self._reference(statement, "")
        if reference is None:
            return None
        stage = self.stages.get(self._key(checker, reference[1]))
        if stage is None or not stage.url:
            return None
        files = [
            literal.name
            for param in statement.args.get("params") or []
            if param.this.name.upper() == "FILES"
            for literal in param.find_all(exp.Literal)
        ]
        bucket, prefix = self._location(stage, reference[2])
        names = files or [
            item["Key"][len(prefix) :].lstrip("/") for item in self._objects(stage, reference[2])
        ]
        self._forget_old_fetches()
        directory = self._fetched / uuid.uuid4().hex
        directory.mkdir()
        client = self._client()
        for name in names:
            object_key = f"{prefix}/{name}" if prefix else name
            local = directory / name
            local.parent.mkdir(parents=True, exist_ok=True)
            with self._storage():  # GetObject: moto checks HeadObject apart from it
                local.write_bytes(client.get_object(Bucket=bucket, Key=object_key)["Body"].read())
        copy = statement.copy()
        copy.args["files"][0].set("this", exp.Literal.string(f"file://{directory}/"))
        params = [p for p in copy.args.get("params") or [] if p.this.name.upper() != "FILES"]
        if names:
            params.append(
                exp.CopyParameter(
                    this=exp.Var(this="FILES"),
                    expression=exp.Tuple(expressions=[exp.Literal.string(n) for n in names]),
                )
            )
        copy.set("params", params)
        return copy

    def _forget_old_fetches(self) -> None:
        cutoff = time.time() - _FETCHED_LIFETIME
        for directory in self._fetched.iterdir():
            with contextlib.suppress(OSError):
                if directory.stat().st_mtime < cutoff:
                    shutil.rmtree(directory)

    # After a statement succeeded

    def apply(self, checker: Checker, statement: exp.Expr) -> None:
        """Remember a named stage once fakesnow has created it (a temporary one is
        fakesnow's alone); forget a dropped one."""
        kind = str(statement.args.get("kind") or "").upper()
        if kind != "STAGE" or not isinstance(statement, exp.Create | exp.Drop):
            return
        table = statement.this
        if not isinstance(table, exp.Table):
            return
        key = self._key(checker, [identifier(p) for p in parts_of(table)])
        if isinstance(statement, exp.Drop):
            self.stages.pop(key, None)
        elif statement.find(exp.TemporaryProperty) is None:
            url, integration = _stage_properties(statement)
            self.stages[key] = NamedStage(url, integration)


def _stage_properties(statement: exp.Create) -> tuple[str, str | None]:
    """A CREATE STAGE's URL and STORAGE_INTEGRATION."""
    url, integration = "", None
    properties = statement.args.get("properties")
    for prop in properties.expressions if properties else []:
        if not isinstance(prop, exp.Property):
            continue
        name = prop.name.upper() if prop.name else str(prop.this).upper()
        value = prop.args.get("value")
        if name == "URL" and isinstance(value, exp.Literal):
            url = value.this
        elif name == "STORAGE_INTEGRATION" and value is not None:
            integration = name_of(value.sql(dialect="snowflake"))
    return url, integration
