"""A local Snowflake as strict as the real one: fakesnow behind Snowflake's rules.

fakesnow has no users, roles, grants, warehouses, session parameters or statement time
limits, and resolves quoted identifiers case-insensitively. This layer adds them (see
`rules.RULES`) and logs every statement. Run it with `python -m testbed.snowflake_strict`;
`testbed.servers.local_snowflake` does so for tests, the demo and the benchmarks.
"""

from testbed.snowflake_strict.rules import RULES

__all__ = ["RULES"]
