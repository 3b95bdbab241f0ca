"""Serve the strict local Snowflake: `python -m testbed.snowflake_strict --port N`."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from testbed.snowflake_strict.app import StrictSnowflake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-user", default="ADMIN")
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--statement-log", type=Path, help="append every statement (JSON lines)")
    args = parser.parse_args()
    strict = StrictSnowflake(args.admin_user.upper(), args.admin_password, args.statement_log)
    uvicorn.run(strict.app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
