"""Singer target for Snowflake."""
