"""The target: configuration and sink selection."""

from __future__ import annotations

from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target


class SnowflakeSink(BatchSink):
    """Placeholder sink until the load path lands."""

    def process_batch(self, context: dict) -> None:
        """Load a batch."""


class TargetSnowflake(Target):
    """Singer target for Snowflake: staged bulk loads with key-based MERGE upserts."""

    name = "target-snowflake"
    default_sink_class = SnowflakeSink

    config_jsonschema = th.PropertiesList(
        th.Property("account", th.StringType, required=True),
        th.Property("user", th.StringType, required=True),
        th.Property("password", th.StringType, secret=True),
        th.Property("database", th.StringType, required=True),
    ).to_dict()


if __name__ == "__main__":
    TargetSnowflake.cli()
