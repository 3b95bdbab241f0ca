"""python -m testbed.intercom --port 0 --seed 7 --contacts 5000 ...

Prints the base URL as the first stdout line, then serves until interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from types import FrameType

from testbed.intercom.drift import REFUSAL_ERRORS
from testbed.intercom.options import FaultSettings, SandboxOptions
from testbed.intercom.server import SandboxServer


def parse_args(argv: list[str] | None = None) -> SandboxOptions:
    parser = argparse.ArgumentParser(
        prog="python -m testbed.intercom",
        description="Serve a synthetic Intercom workspace locally.",
    )
    defaults = SandboxOptions()
    for f in dataclasses.fields(SandboxOptions):
        if f.name in ("faults", "drift", "refusals"):
            continue
        value = getattr(defaults, f.name)
        kind = str if f.name in ("host", "token") else int
        parser.add_argument(
            f"--{f.name.replace('_', '-')}", type=kind, default=value, help=f"default: {value}"
        )
    parser.add_argument(
        "--drift",
        action="store_true",
        help="serve what real workspaces send, not only what the description promises",
    )
    parser.add_argument(
        "--refuse",
        action="append",
        default=[],
        metavar="PATH=CODE",
        help=f"answer PATH (and below) with Intercom's error CODE: {', '.join(REFUSAL_ERRORS)}",
    )
    fault_defaults = FaultSettings()
    for f in dataclasses.fields(FaultSettings):
        value = getattr(fault_defaults, f.name)
        number = int if f.name in ("storm_429", "rate_limit", "scroll_500_after_pages") else float
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=number,
            default=value,
            help=f"fault setting, default: {value}",
        )
    args = vars(parser.parse_args(argv))
    refusals = {}
    for refuse in args.pop("refuse"):
        path, _, code = refuse.partition("=")
        refusals[path] = code
    args["refusals"] = refusals
    faults = FaultSettings()
    faults.merge({f.name: args.pop(f.name) for f in dataclasses.fields(FaultSettings)})
    return SandboxOptions(**args, faults=faults)


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_args(argv)
        server = SandboxServer(options)
    except (ValueError, OSError) as error:
        print(f"intercom sandbox: {error}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(server.url, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
