"""Where batch files go before COPY INTO reads them, and what becomes of them afterwards.

Three places, chosen by the settings (docs/external-stages.md):
- the run's temporary internal stage (the default): PUT, then COPY with PURGE;
- a named internal stage (`stage`): PUT under a fresh path per batch, COPY with PURGE;
- a named external S3 stage (`stage` and `s3_bucket`): the file is uploaded to the
  bucket with boto3 (multipart for large files, retries with backoff) under
  `s3_key_prefix/<batch id>/`, COPY reads exactly that file (`FILES = (...)`), and the
  object is deleted once the batch is committed.
With `archive_load_files` (named stages only: a temporary stage goes with the session)
every loaded file is kept, once, under `archive_load_files_prefix/<TABLE>/` of the stage,
named after the time, the stream and the batch id: S3 copies the object there after the
commit; an internal stage gets a second PUT of the local file.

A file is named the same everywhere (`<UTC time>_<stream>_<batch id>.json[.gz]`), so a
file left in the load prefix by a killed run says what it is. Such a file was either
never loaded or loaded and committed without being cleaned up; a rerun never reads it.
"""

from __future__ import annotations

import datetime
import re
import typing as t
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from singer_sdk.exceptions import ConfigValidationError

from target_snowflake import statements
from target_snowflake.naming import config_identifier, quote

if t.TYPE_CHECKING:
    from target_snowflake.connection import Connection

# Runs one statement: (SQL, what the run was doing, for the error message) -> rows.
Execute = Callable[[str, str], list[tuple[t.Any, ...]]]

SSE_ALGORITHMS = ("AES256", "aws:kms")
S3_EXTRA = "pip install 'intersnow-target-snowflake[s3]'"
# Files larger than this go up in parts of this size (S3 allows 10,000 parts of 5 MiB to
# 5 GiB; 64 MiB parts keep a 100,000-row batch in one or two requests).
MULTIPART_BYTES = 64 * 1024 * 1024
# botocore's "standard" retry mode: exponential backoff with jitter on throttling,
# 5xx and connection errors, this many attempts in all.
S3_MAX_ATTEMPTS = 8
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


class StageError(Exception):
    """The stage or the bucket cannot be used as configured; the message says what is
    missing (never a credential)."""


@dataclass(frozen=True)
class StagedFile:
    """One batch file where COPY can read it."""

    path: str  # the directory under the stage, without a leading or trailing slash
    name: str  # the file's name in it
    local: Path  # the local file, for an archive PUT
    table: str  # the table it loads into (the archive's directory)
    label: str  # `<UTC time>_<stream>_<batch id>`: the archive entry's name


def label(stream: str, batch_id: str) -> str:
    """`<UTC time>_<stream>_<batch id>`, the stream with anything but letters, digits,
    `.`, `_` and `-` replaced by `_`."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}_{_UNSAFE_IN_NAME.sub('_', stream)}_{batch_id}"


def is_gzip(local: Path) -> bool:
    with local.open("rb") as file:
        return file.read(2) == b"\x1f\x8b"


def qualified_stage(name: str) -> str:
    """A configured stage name `db.schema.stage` (each part quoted as written, else
    normalized like `database`) as SQL."""
    parts = re.findall(r'"(?:[^"]|"")*"|[^."]+', name.strip())
    if len(parts) != 3 or ".".join(parts) != name.strip():
        msg = f"`stage` must be fully qualified as database.schema.stage, got {name!r}"
        raise ConfigValidationError(msg, errors=[msg])
    return ".".join(quote(config_identifier(part)) for part in parts)


class BatchStage:
    """The run's temporary internal stage: PUT under a fresh path, COPY with PURGE."""

    archive_prefix: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name  # as SQL

    def upload(self, local: Path, table: str, stream: str, execute: Execute) -> StagedFile:
        """Put the batch file under a fresh path of the stage (PUT keeps its name)."""
        batch_id = uuid.uuid4().hex
        staged = StagedFile(batch_id, local.name, local, table, label(stream, batch_id))
        execute(statements.put(local, self.name, staged.path), "uploading the batch file")
        return staged

    def copy(self, variant_table: str, staged: StagedFile) -> str:
        """The COPY of the batch's path (it holds that file only) into a VARIANT table;
        PURGE removes the file unless it is to be archived."""
        return statements.copy_json(
            variant_table, self.name, staged.path, purge=self.archive_prefix is None
        )

    def committed(self, staged: StagedFile, execute: Execute) -> None:
        """After the batch is committed: archive the file if configured."""
        _ = staged, execute


class NamedInternalStage(BatchStage):
    """A named internal stage: like the temporary one, with an optional archive."""

    def __init__(self, name: str, archive_prefix: str | None) -> None:
        super().__init__(name)
        self.archive_prefix = archive_prefix

    def committed(self, staged: StagedFile, execute: Execute) -> None:
        if self.archive_prefix is None:
            return
        execute(
            statements.put(
                staged.local, self.name, f"{self.archive_prefix}/{staged.table}/{staged.label}"
            ),
            "archiving the loaded batch file",
        )
        # COPY left the file (no PURGE: a failed archive PUT must not lose it)
        execute(statements.remove(self.name, staged.path), "removing the loaded batch file")


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    key_prefix: str  # without slashes at either end; may be empty
    region: str | None
    endpoint_url: str | None
    profile: str | None
    access_key_id: str | None
    secret_access_key: str | None
    session_token: str | None
    sse: str | None
    kms_key_id: str | None
    acl: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> S3Settings:
        sse = config.get("s3_server_side_encryption") or None
        if sse is not None and sse not in SSE_ALGORITHMS:
            msg = f"`s3_server_side_encryption` must be one of {', '.join(SSE_ALGORITHMS)}"
            raise ConfigValidationError(msg, errors=[msg])
        kms_key_id = config.get("s3_sse_kms_key_id") or None
        if kms_key_id and sse != "aws:kms":
            msg = "`s3_sse_kms_key_id` needs `s3_server_side_encryption: aws:kms`"
            raise ConfigValidationError(msg, errors=[msg])
        if bool(config.get("aws_access_key_id")) != bool(config.get("aws_secret_access_key")):
            msg = "Set both `aws_access_key_id` and `aws_secret_access_key`, or neither"
            raise ConfigValidationError(msg, errors=[msg])
        return cls(
            bucket=config["s3_bucket"],
            key_prefix=str(config.get("s3_key_prefix") or "").strip("/"),
            region=config.get("s3_region_name") or None,
            endpoint_url=config.get("s3_endpoint_url") or None,
            profile=config.get("aws_profile") or None,
            access_key_id=config.get("aws_access_key_id") or None,
            secret_access_key=config.get("aws_secret_access_key") or None,
            session_token=config.get("aws_session_token") or None,
            sse=sse,
            kms_key_id=kms_key_id,
            acl=config.get("s3_acl") or None,
        )

    def put_arguments(self) -> dict[str, str]:
        """Encryption and ACL of every object the target writes."""
        arguments = {}
        if self.sse:
            arguments["ServerSideEncryption"] = self.sse
        if self.kms_key_id:
            arguments["SSEKMSKeyId"] = self.kms_key_id
        if self.acl:
            arguments["ACL"] = self.acl
        return arguments


def s3_client(settings: S3Settings) -> t.Any:
    """A boto3 S3 client: credentials from the explicit keys, else `aws_profile`, else
    boto3's default chain (environment, shared files, container or instance role)."""
    try:
        # the [s3] extra: only an S3 stage needs it (boto3 ships no types)
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        msg = f"An S3 stage (`s3_bucket`) needs boto3, the [s3] extra: {S3_EXTRA}"
        raise ConfigValidationError(msg, errors=[msg]) from None
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        aws_session_token=settings.session_token,
        profile_name=settings.profile,
        region_name=settings.region,
    )
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        config=Config(
            retries={"max_attempts": S3_MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=30,
            read_timeout=120,
        ),
    )


# What an S3 error code means for the target's settings or the bucket's policy.
S3_ERRORS = {
    "NoSuchBucket": "bucket {bucket} does not exist (check `s3_bucket` and `s3_region_name`)",
    "InvalidAccessKeyId": "the AWS access key is not known to S3 (check the credentials)",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key",
    "ExpiredToken": "the AWS session token has expired",
    "InvalidToken": "the AWS session token is not valid",
    "AccessDenied": "the AWS identity may not {action} (the policy in "
    "docs/external-stages.md grants it)",
    "AllAccessDisabled": "access to bucket {bucket} is disabled",
    "PermanentRedirect": "bucket {bucket} is in another region (set `s3_region_name`)",
    "AuthorizationHeaderMalformed": "bucket {bucket} is in another region (set `s3_region_name`)",
}


class S3Stage(BatchStage):
    """A named external stage over the customer's S3 bucket; boto3 writes the files."""

    def __init__(self, name: str, settings: S3Settings, archive_prefix: str | None) -> None:
        super().__init__(name)
        self.settings = settings
        self.archive_prefix = archive_prefix
        self._client: t.Any = None
        self._transfer: t.Any = None
        # The stage's URL key prefix (from DESCRIBE STAGE at the startup check): a path
        # under the stage is the object key without it.
        self.url_prefix = ""

    @property
    def client(self) -> t.Any:
        if self._client is None:
            from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

            self._client = s3_client(self.settings)
            self._transfer = TransferConfig(
                multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
            )
        return self._client

    def stage_path(self, key: str) -> str:
        """The path under the stage of an object key (or key prefix)."""
        return key[len(self.url_prefix) :]

    def _key(self, path: str, name: str = "") -> str:
        """The object key of a path under the stage."""
        return f"{self.url_prefix}{path}/{name}" if name else f"{self.url_prefix}{path}"

    def _load_path(self, batch_id: str) -> str:
        prefix = self.settings.key_prefix
        return self.stage_path(f"{prefix}/{batch_id}" if prefix else batch_id)

    def upload(self, local: Path, table: str, stream: str, execute: Execute) -> StagedFile:
        batch_id = uuid.uuid4().hex
        entry = label(stream, batch_id)
        name = f"{entry}.json{'.gz' if is_gzip(local) else ''}"
        staged = StagedFile(self._load_path(batch_id), name, local, table, entry)
        key = self._key(staged.path, name)
        self.s3_call(
            "upload the batch file to",
            f"s3:PutObject on {key}",
            lambda: self.client.upload_file(
                str(local),
                self.settings.bucket,
                key,
                ExtraArgs=self.settings.put_arguments() or None,
                Config=self._transfer,
            ),
        )
        return staged

    def copy(self, variant_table: str, staged: StagedFile) -> str:
        # Exactly the batch's object; no PURGE: the target deletes (or archives) it after
        # the commit.
        return statements.copy_json(
            variant_table, self.name, staged.path, files=[staged.name], purge=False
        )

    def committed(self, staged: StagedFile, execute: Execute) -> None:
        _ = execute
        bucket, key = self.settings.bucket, self._key(staged.path, staged.name)
        if self.archive_prefix is not None:
            archived = self._key(f"{self.archive_prefix}/{staged.table}", staged.name)
            self.s3_call(
                "archive the loaded batch file in",
                f"s3:GetObject on {key} and s3:PutObject on {archived}",
                lambda: self.client.copy_object(
                    Bucket=bucket,
                    Key=archived,
                    CopySource={"Bucket": bucket, "Key": key},
                    **self.settings.put_arguments(),
                ),
            )
        self.s3_call(
            "delete the loaded batch file from",
            f"s3:DeleteObject on {key}",
            lambda: self.client.delete_object(Bucket=bucket, Key=key),
        )

    def s3_call(self, doing: str, action: str, call: Callable[[], t.Any]) -> t.Any:
        """Run one S3 operation (botocore retries what is transient); a failure is a
        `StageError` naming the operation, the bucket and what is missing."""
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
        )

        bucket = self.settings.bucket
        try:
            return call()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "")
            explained = S3_ERRORS.get(code, "").format(bucket=bucket, action=action)
            reason = explained or f"S3 answered {code or 'an error'}"
            detail = " ".join(str(error.get("Message") or "").split())
            msg = f"Could not {doing} S3 bucket {bucket}: {reason} ({code}: {detail})"
        except BotoCoreError as exc:  # NoCredentialsError, EndpointConnectionError, ...
            msg = f"Could not {doing} S3 bucket {bucket}: {exc}"
        settings = self.settings
        for secret in (settings.access_key_id, settings.secret_access_key, settings.session_token):
            if secret:  # S3's messages name none; kept out whatever a message says
                msg = msg.replace(secret, "<redacted>")
        raise StageError(msg) from None

    # The startup check's S3 part

    def check_writable(self) -> str:
        """Put a small object under the key prefix (proving s3:PutObject), for the
        caller to LIST through the stage; its path under the stage."""
        path = self._load_path(f"_target_snowflake_check_{uuid.uuid4().hex}")
        key = self._key(path, "check.json")
        self.s3_call(
            "write a check object to",
            f"s3:PutObject on {key}",
            lambda: self.client.put_object(
                Bucket=self.settings.bucket,
                Key=key,
                Body=b"{}\n",
                **self.settings.put_arguments(),
            ),
        )
        return path

    def remove_check(self, path: str) -> None:
        key = self._key(path, "check.json")
        self.s3_call(
            "delete the check object from",
            f"s3:DeleteObject on {key}",
            lambda: self.client.delete_object(Bucket=self.settings.bucket, Key=key),
        )


def batch_stage(config: Mapping[str, t.Any], temporary_stage: str) -> BatchStage:
    """Where this run's batch files go, from the settings (checked here: a config error
    names the setting)."""
    archive_prefix = None
    if config.get("archive_load_files"):
        archive_prefix = str(config.get("archive_load_files_prefix") or "archive").strip("/")
        if not config.get("stage"):
            msg = (
                "`archive_load_files` needs a named `stage` (the run's temporary stage goes "
                "with the session)"
            )
            raise ConfigValidationError(msg, errors=[msg])
    if not config.get("stage"):
        if config.get("s3_bucket"):
            msg = "`s3_bucket` needs `stage`: the external stage over the bucket"
            raise ConfigValidationError(msg, errors=[msg])
        return BatchStage(temporary_stage)
    name = qualified_stage(str(config["stage"]))
    if config.get("s3_bucket"):
        return S3Stage(name, S3Settings.from_config(config), archive_prefix)
    return NamedInternalStage(name, archive_prefix)


def stage_url(connection: Connection, stage: str) -> str:
    """The URL of a named stage from DESCRIBE STAGE (empty for an internal stage)."""
    for row in connection.execute(statements.describe_stage(stage)):
        if len(row) > 3 and str(row[1]).upper() == "URL":
            value = str(row[3] or "").strip()
            # a list, as Snowflake shows it: ["s3://bucket/path/"]
            return value.strip("[]").strip().strip('"')
    return ""
