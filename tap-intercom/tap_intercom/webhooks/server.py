"""`tap-intercom-webhooks`: run the webhook receiver on uvicorn.

uvicorn comes with the `webhooks` extra (`pip install 'intersnow-tap-intercom[webhooks]'`);
without it the command says so instead of failing on an import.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tap_intercom.webhooks.app import ReceiverSettings, WebhookReceiver
from tap_intercom.webhooks.spool import DEFAULT_DEDUP_WINDOW_SECONDS, SpoolError, SpoolWriter

if TYPE_CHECKING:
    import uvicorn

SECRET_VARIABLE = "INTERCOM_CLIENT_SECRET"
EXIT_BAD_SETTINGS = 2
EXIT_STARTUP_FAILURE = 3
INSTALL_HINT = "pip install 'intersnow-tap-intercom[webhooks]'"

logger = logging.getLogger("tap_intercom.webhooks")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line; every setting but the secret."""
    parser = argparse.ArgumentParser(
        prog="tap-intercom-webhooks",
        description=(
            "Receive signed Intercom webhook notifications and store them durably in a spool "
            "that the tap's webhook_notifications stream reads. The app's client secret is "
            f"read from the environment variable {SECRET_VARIABLE} (or the one --secret-env "
            "names)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="TCP port to listen on")
    parser.add_argument("--spool", type=Path, required=True, help="spool directory")
    parser.add_argument("--path", default="/", help="URL path that takes deliveries (POST)")
    parser.add_argument(
        "--secret-env", default=SECRET_VARIABLE, help="environment variable with the secret"
    )
    parser.add_argument(
        "--max-body-bytes", type=_positive_int, default=1 << 20, help="larger bodies get 413"
    )
    parser.add_argument(
        "--segment-max-bytes",
        type=_positive_int,
        default=64 << 20,
        help="start a new segment once the current one reaches this size",
    )
    parser.add_argument(
        "--segment-max-age",
        type=_positive_float,
        default=300.0,
        help="seconds after which a non-empty segment is sealed and a new one started",
    )
    parser.add_argument(
        "--dedup-window",
        type=_positive_int,
        default=DEFAULT_DEDUP_WINDOW_SECONDS,
        help="seconds a notification id is remembered to refuse redeliveries",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=_positive_int,
        default=20,
        help="seconds in-flight requests get to finish after SIGTERM",
    )
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a reverse proxy)",
    )
    parser.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def _exit_cleanly_after_a_stop_signal(server: uvicorn.Server) -> None:
    """Make SIGTERM/SIGINT end in a graceful shutdown and exit status 0.

    uvicorn handles the signal while it serves, then restores the previous handlers and
    raises the signal again, which with the default handlers kills the process (-15) after
    a shutdown that was in fact clean. These handlers ask the server to stop instead: a
    no-op once it has stopped, and before it serves (a signal during startup) the server
    stops right after starting.
    """

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, stop)


def main(argv: list[str] | None = None) -> None:
    """Entry point of `tap-intercom-webhooks`."""
    args = build_parser().parse_args(argv)
    try:
        import uvicorn
    except ImportError as exc:
        print(
            f"tap-intercom-webhooks: the receiver needs the `webhooks` extra ({exc}); "
            f"install it with: {INSTALL_HINT}",
            file=sys.stderr,
        )
        sys.exit(EXIT_STARTUP_FAILURE)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    secret = os.environ.get(args.secret_env, "")
    if not secret:
        print(
            f"tap-intercom-webhooks: environment variable {args.secret_env} (the Intercom "
            "app's client secret) is not set or empty",
            file=sys.stderr,
        )
        sys.exit(EXIT_BAD_SETTINGS)
    writer = SpoolWriter(
        args.spool,
        segment_max_bytes=args.segment_max_bytes,
        segment_max_age_seconds=args.segment_max_age,
        dedup_window_seconds=args.dedup_window,
    )
    try:
        known = writer.open()
    except (SpoolError, OSError) as exc:
        print(f"tap-intercom-webhooks: cannot open the spool: {exc}", file=sys.stderr)
        writer.close()
        sys.exit(EXIT_STARTUP_FAILURE)
    logger.info(
        "spool %s: %d known notification ids, writing segment %d",
        args.spool,
        len(known),
        writer.segment,
    )
    settings = ReceiverSettings(
        secret=secret.encode(), max_body_bytes=args.max_body_bytes, path=args.path
    )
    server = uvicorn.Server(
        uvicorn.Config(
            WebhookReceiver(settings, writer, known),
            host=args.host,
            port=args.port,
            lifespan="on",
            log_level=args.log_level,
            access_log=args.access_log,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            timeout_graceful_shutdown=args.shutdown_grace,
            # One process: the spool has exactly one writer (it is locked).
            workers=1,
        )
    )
    _exit_cleanly_after_a_stop_signal(server)
    try:
        server.run()
    finally:
        writer.close()
    if not server.started:
        sys.exit(EXIT_STARTUP_FAILURE)


if __name__ == "__main__":
    main()
