"""Load benchmark: signed Intercom deliveries to a `tap-intercom-webhooks` subprocess.

Run: .venv/bin/python -m bench.webhook_load [--rate 600] [--seconds 10] [--runs 3]

Each run starts a fresh receiver on loopback, then:
- paced: an open-loop generator sends `--rate` notifications/s for `--seconds` over
  `--connections` keep-alive connections; an answer time counts from the moment the
  request was due (so a stalled server cannot hide queueing behind a slow generator);
- saturation: the same connections send back to back for `--seconds`: the ceiling.
After each phase every notification answered 200 must be in the spool exactly once.
Prints the medians over the runs; writes bench/results/webhook_load.json. The spools
live under bench/results/ while a run lasts and are removed after it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from testbed.servers import LOOPBACK
from testbed.webhooks import (
    SECRET,
    encode,
    hub_signature,
    make_notification,
    running_receiver,
    stored_ids,
)

RESULTS = Path(__file__).parent / "results"
PHASE_TIMEOUT = 300.0


@dataclass
class Phase:
    """What one phase of one run measured."""

    sent: int
    ok: int
    failed: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    durable: bool


def _requests(prefix: str, count: int) -> list[tuple[str, bytes]]:
    """(id, complete HTTP request) pairs, signed before the clock starts."""
    prepared = []
    for index in range(count):
        notification_id = f"{prefix}-{index}"
        body = encode(make_notification(notification_id))
        head = (
            "POST / HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Hub-Signature: {hub_signature(SECRET.encode(), body)}\r\n\r\n"
        )
        prepared.append((notification_id, head.encode() + body))
    return prepared


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _drive(
    port: int,
    requests: list[tuple[str, bytes]],
    connections: int,
    due: Callable[[int], float] | None,
) -> tuple[dict[str, int], list[float], float]:
    """Send every request; `due(i)` paces request i (None: back to back)."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    start = time.perf_counter()

    async def produce() -> None:
        for index in range(len(requests)):
            if due is not None:
                delay = start + due(index) - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            queue.put_nowait(index)
        for _ in range(connections):
            queue.put_nowait(-1)

    async def consume() -> None:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            while (index := await queue.get()) >= 0:
                notification_id, request = requests[index]
                began = start + due(index) if due is not None else time.perf_counter()
                try:
                    statuses[notification_id] = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    statuses[notification_id] = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection(LOOPBACK, port)
                latencies.append(time.perf_counter() - began)
        finally:
            writer.close()

    await asyncio.gather(produce(), *(consume() for _ in range(connections)))
    return statuses, latencies, time.perf_counter() - start


def _phase(
    port: int,
    spool_ids: Callable[[], Counter],
    requests: list[tuple[str, bytes]],
    connections: int,
    due: Callable[[int], float] | None,
) -> Phase:
    # Bounded in time as well as in count: a stuck receiver fails the run, never hangs it.
    statuses, latencies, seconds = asyncio.run(
        asyncio.wait_for(_drive(port, requests, connections, due), timeout=PHASE_TIMEOUT)
    )
    ok = [notification_id for notification_id, status in statuses.items() if status == 200]
    stored = spool_ids()
    latencies.sort()
    return Phase(
        sent=len(requests),
        ok=len(ok),
        failed=len(requests) - len(ok),
        seconds=round(seconds, 2),
        per_second=round(len(ok) / seconds, 1),
        p50_ms=round(latencies[len(latencies) // 2] * 1000, 2),
        p99_ms=round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        durable=all(stored[notification_id] == 1 for notification_id in ok)
        and set(stored.values()) <= {1},
    )


def _run(number: int, args: argparse.Namespace) -> dict[str, Phase]:
    spool = RESULTS / f"webhook-spool-{number}"
    shutil.rmtree(spool, ignore_errors=True)
    paced = _requests(f"paced-{number}", int(args.rate * args.seconds))
    ceiling = _requests(f"ceiling-{number}", args.saturation_max)
    try:
        with running_receiver(spool, RESULTS / "webhook-receiver.log") as receiver:
            port = int(receiver.url.rsplit(":", 1)[1].strip("/"))

            def spool_ids() -> Counter:
                return Counter(stored_ids(spool))

            results = {
                "paced": _phase(port, spool_ids, paced, args.connections, lambda i: i / args.rate),
                "saturation": _phase(port, spool_ids, ceiling, args.connections, None),
            }
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=600.0, help="paced notifications/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument(
        "--saturation-max", type=int, default=6000, help="notifications in the saturation phase"
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)

    runs = [_run(number, args) for number in range(args.runs)]
    print(
        f"webhook receiver, {args.runs} runs, {args.connections} connections, medians "
        f"(paced: {args.rate:.0f}/s for {args.seconds:.0f} s)"
    )
    print(f"{'phase':<11} {'ok/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'durable':>8}")
    summary = {}
    for phase in ("paced", "saturation"):
        measured = [run[phase] for run in runs]
        row = {
            "per_second": statistics.median(m.per_second for m in measured),
            "p50_ms": statistics.median(m.p50_ms for m in measured),
            "p99_ms": statistics.median(m.p99_ms for m in measured),
            "failed": sum(m.failed for m in measured),
            "durable": all(m.durable for m in measured),
        }
        summary[phase] = row
        print(
            f"{phase:<11} {row['per_second']:>8.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['failed']:>7} {'yes' if row['durable'] else 'NO':>8}"
        )
    (RESULTS / "webhook_load.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "summary": summary,
                "runs": [{k: asdict(v) for k, v in run.items()} for run in runs],
            },
            indent=2,
        )
    )
    target_met = summary["paced"]["per_second"] >= 500 and summary["paced"]["p99_ms"] < 100
    print(
        f"target (>= 500/s, p99 < 100 ms, every 200 durable): {'met' if target_met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
