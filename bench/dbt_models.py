"""Benchmark: full and incremental `dbt build` of transform/ on a big workspace in the
local Snowflake.

Run: .venv/bin/python -m bench.dbt_models [--contacts 1000000] [--conversations 300000]
     [--companies N] [--tickets N] [--small] [--batch-size 100000]
`--small` is a quick check (20,000 contacts, 6,000 conversations). Writes
bench/results/dbt_models.md (dbt_models-small.md with --small).

Loading a million contacts through the tap would take hours (one GET per conversation for
its parts), so the benchmark writes what the tap would emit straight from the sandbox's
workspace, in process (`testbed.intercom.store.Workspace`, records one at a time, never
the whole workspace in memory): the tap's discovered catalog (its schemas and key
properties), each record as `testbed.intercom.expected.expected_record` turns the raw
record into the tap's form, kept to the schema's properties, conversations deleted before
the first run as the tap's deletion records. The SCHEMA/RECORD file is piped into the real
`target-snowflake` (batch_size_rows 100,000, prod's value) loading the strict local
Snowflake, for the streams the end models read.

Then: `dbt build` (full), a change like an hour of a busy inbox through the workspace's
change API (2,000 conversations updated with a new part each, 500 new conversations,
5,000 contacts and 200 tickets updated), what an incremental tap run would then emit
(records updated at or after each stream's bookmark, with their parts and memberships;
the full-table streams again) loaded the same way, and `dbt build` again (incremental).
Prints wall times (and dbt's own elapsed), the five slowest models of each build, the
rows the incremental models touched against their total, and the peak RSS of every
process (sampled from /proc, summed over the benchmark's process tree).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from snowflake.connector.errors import ProgrammingError
from tap_intercom.deletions import deletion_record

from bench.own_rusage import launcher, read_usage
from bench.tap_common import print_table
from testbed.catalog import catalog_selecting
from testbed.intercom.expected import expected_record
from testbed.intercom.options import SandboxOptions
from testbed.intercom.store import Workspace
from testbed.intercom.truth import stream_truth
from testbed.pipeline import ANALYTICS_STREAMS, ROOT, LocalEndpoints, run_dbt
from testbed.servers import local_snowflake

RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "dbt_models"
DATABASE = "BENCH_DBT"
SCHEMA = "INTERCOM"
ANALYTICS = f"{SCHEMA}_ANALYTICS"  # where the end models go (<target schema>_ANALYTICS)
TARGET = str(Path(sys.executable).with_name("target-snowflake"))
# The streams the end models read that are full-table (read in full every run).
FULL_TABLE = ("admins", "teams", "tags", "articles", "help_center_collections", "help_centers")
INCREMENTAL_MODELS = (
    "intercom__conversation_parts",
    "intercom__activity_logs",
    "intercom__webhook_events",
)
SLOWEST = 5


# ----- what the tap would emit ---------------------------------------------------------------
@dataclass
class Catalog:
    """The tap's discovered schemas and key properties of the selected streams."""

    entries: dict[str, dict[str, Any]]

    @classmethod
    def discover(cls) -> Catalog:
        catalog = catalog_selecting(list(ANALYTICS_STREAMS))
        return cls(
            {
                e["tap_stream_id"]: e
                for e in catalog["streams"]
                if e["tap_stream_id"] in ANALYTICS_STREAMS
            }
        )

    def schema_message(self, stream: str) -> dict[str, Any]:
        entry = self.entries[stream]
        message = {
            "type": "SCHEMA",
            "stream": stream,
            "schema": entry["schema"],
            "key_properties": entry["key_properties"],
        }
        if entry.get("replication_key"):
            message["bookmark_properties"] = [entry["replication_key"]]
        return message


class SingerWriter:
    """SCHEMA, RECORD and STATE lines as the tap writes them, to a file."""

    def __init__(self, out: TextIO, catalog: Catalog) -> None:
        self.out = out
        self.catalog = catalog
        self.properties = {s: set(e["schema"]["properties"]) for s, e in catalog.entries.items()}
        self.counts: Counter[str] = Counter()
        # The newest replication value seen per stream (raw UNIX seconds): the bookmark.
        self.bookmarks: dict[str, int] = {}
        self.prefix = {s: f'{{"type":"RECORD","stream":"{s}","record":' for s in ANALYTICS_STREAMS}
        self.suffix = ',"time_extracted":"{}"}}\n'.format(
            datetime.now(UTC).isoformat(timespec="microseconds")
        )
        for stream in ANALYTICS_STREAMS:
            out.write(json.dumps(catalog.schema_message(stream), separators=(",", ":")) + "\n")

    def record(self, stream: str, raw: dict[str, Any]) -> None:
        """The tap's record for a raw API record: date-times as RFC 3339, and only the
        schema's properties (the tap drops the rest)."""
        properties = self.properties[stream]
        converted = expected_record(stream, raw)
        record = {k: v for k, v in converted.items() if k in properties}
        self._write(stream, record)
        key = self.catalog.entries[stream].get("replication_key")
        if key and isinstance(raw.get(key), int):
            self.bookmarks[stream] = max(self.bookmarks.get(stream, 0), raw[key])

    def deletion(self, stream: str, ident: str, deleted_at: int) -> None:
        self._write(stream, deletion_record(ident, deleted_at))

    def _write(self, stream: str, record: dict[str, Any]) -> None:
        self.out.write(self.prefix[stream])
        self.out.write(json.dumps(record, separators=(",", ":")))
        self.out.write(self.suffix)
        self.counts[stream] += 1

    def state(self) -> None:
        value = {"bookmarks": {s: {"replication_key_value": v} for s, v in self.bookmarks.items()}}
        self.out.write(json.dumps({"type": "STATE", "value": value}) + "\n")


def write_contact(ws: Workspace, writer: SingerWriter, i: int) -> None:
    """A contact and its tags and companies (as `truth._contact_memberships` lists them:
    the embedded list when complete, else the full one)."""
    store = ws.kinds["contacts"]
    writer.record("contacts", store.record(i))
    created, updated = store.times(i)
    contact, company_ids, tag_ids = ws.gen.contact_with_memberships(i, created, updated)
    for what, stream in (("tags", "contact_tags"), ("companies", "contact_companies")):
        embedded = contact[what]
        if not embedded["has_more"]:
            items = embedded["data"]
        elif what == "tags":
            items = ws.gen.contact_tags(i, tag_ids, created)
        else:
            encode = ws.kinds["companies"].codec.encode
            items = [{"type": "company", "id": encode(c)} for c in company_ids]
        for item in items:
            writer.record(
                stream, {**item, "contact_id": contact["id"], "contact_updated_at": updated}
            )


def write_with_parts(ws: Workspace, writer: SingerWriter, kind: str, i: int) -> None:
    """A conversation or ticket (search form) and the parts its GET by id shows."""
    full = ws.kinds[kind].record(i, full=True)
    singular = kind[:-1]
    listing = full.pop(f"{singular}_parts")
    writer.record(kind, full)
    for part in listing[f"{singular}_parts"]:
        writer.record(f"{singular}_parts", {**part, f"{singular}_id": full["id"]})


def write_kind(ws: Workspace, writer: SingerWriter, kind: str, indexes: Iterable[int]) -> None:
    for i in indexes:
        if kind == "contacts":
            write_contact(ws, writer, i)
        elif kind in ("conversations", "tickets"):
            write_with_parts(ws, writer, kind, i)
        else:
            writer.record(kind, ws.kinds[kind].record(i))


def full_extraction(ws: Workspace, writer: SingerWriter) -> None:
    """What a first run emits: every stream in full, deletions first for conversations."""
    for stream in (*FULL_TABLE, "activity_logs"):
        for raw in stream_truth(ws, stream):
            writer.record(stream, raw)
    conversations = ws.kinds["conversations"]
    for i, deleted_at in sorted(conversations.deleted.items()):
        writer.deletion("conversations", conversations.codec.encode(i), deleted_at)
    for kind in ("companies", "contacts", "conversations", "tickets"):
        write_kind(ws, writer, kind, ws.kinds[kind].live_indexes())
    writer.state()


def changed_since(ws: Workspace, kind: str, bookmark: int) -> Iterator[int]:
    """Live records updated at or after `bookmark` (a search from the bookmark includes
    its second), in updated_at order."""
    for _, i in ws.kinds[kind].index.iterate(bookmark, None, False, None):
        if ws.kinds[kind].exists(i):
            yield i


def incremental_extraction(ws: Workspace, writer: SingerWriter, bookmarks: dict[str, int]) -> None:
    """What the next run emits: the full-table streams again, activity logs from their
    bookmark, and the records changed since each stream's bookmark with their children."""
    for stream in FULL_TABLE:
        for raw in stream_truth(ws, stream):
            writer.record(stream, raw)
    for raw in stream_truth(ws, "activity_logs"):
        if raw["created_at"] >= bookmarks.get("activity_logs", 0):
            writer.record("activity_logs", raw)
    for kind in ("companies", "contacts", "conversations", "tickets"):
        write_kind(ws, writer, kind, changed_since(ws, kind, bookmarks[kind]))
    writer.state()


CHANGES = (  # an hour of a busy inbox
    ("conversations", "update", 2_000),
    ("conversations", "add", 500),
    ("contacts", "update", 5_000),
    ("tickets", "update", 200),
)


def apply_changes(ws: Workspace) -> list[str]:
    """The CHANGES, the updated conversations also getting a new part each."""
    done = []
    for kind, action, count in CHANGES:
        ids = ws.change(kind, action, count)
        done.append(f"{kind} {action} {len(ids):,}")
        if (kind, action) == ("conversations", "update"):
            ws.change(kind, "add_parts", 0, ids)
            done.append(f"{kind} add_parts {len(ids):,}")
    return done


# ----- measuring ------------------------------------------------------------------------------
class MemorySampler:
    """Samples every process of the benchmark's tree (/proc): the peak resident set of each
    kind of process (VmHWM) and the peak of all of them together (sum of VmRSS)."""

    LABELS = (
        ("testbed.snowflake_strict", "local Snowflake"),
        ("target-snowflake", "target-snowflake"),
        ("/dbt", "dbt"),
    )

    def __init__(self, every: float = 0.5) -> None:
        self.peaks: dict[str, float] = {}
        self.total_peak = 0.0
        self.snowflake_by_phase: list[tuple[str, float]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._done.wait(every):
            with contextlib.suppress(Exception):
                self._sample()

    @staticmethod
    def _status_kb(pid: str, field_name: str) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        return 0

    def _descendants(self) -> list[str]:
        children: dict[str, list[str]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    ppid = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]
                    children.setdefault(ppid, []).append(entry)
        found, todo = [], [str(os.getpid())]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def _sample(self) -> None:
        total = 0
        for pid in self._descendants():
            with contextlib.suppress(OSError):
                total += self._status_kb(pid, "VmRSS")
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                label = "benchmark (record generation)" if pid == str(os.getpid()) else None
                for marker, name in self.LABELS:
                    if label is None and marker in command and "own_rusage" not in command:
                        label = name
                if label is not None:
                    peak = self._status_kb(pid, "VmHWM") / 1024
                    self.peaks[label] = max(self.peaks.get(label, 0.0), peak)
        self.total_peak = max(self.total_peak, total / 1024)

    def mark(self, phase: str) -> None:
        """Note the local Snowflake's peak so far (VmHWM only grows: which phase raised it)."""
        with contextlib.suppress(Exception):
            self._sample()
        self.snowflake_by_phase.append((phase, self.peaks.get("local Snowflake", 0.0)))

    def stop(self) -> None:
        self._sample()
        self._done.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        label = "benchmark (record generation)"
        self.peaks[label] = max(self.peaks.get(label, 0.0), own)


@dataclass
class Load:
    records: Counter[str]
    generate_seconds: float
    input_mb: float
    wall: float
    target_cpu: float
    target_rss_mb: float


def generate_and_load(
    name: str, write: Any, catalog: Catalog, config_path: Path
) -> tuple[Load, SingerWriter]:
    """Write the SCHEMA/RECORD file with `write(writer)`, then pipe it into the target."""
    path = WORK / f"{name}.singer"
    started = time.perf_counter()
    with path.open("w") as out:
        writer = SingerWriter(out, catalog)
        write(writer)
    generated = time.perf_counter() - started
    print(f"{name}: {sum(writer.counts.values()):,} records in {generated:.0f} s", flush=True)
    usage_path = WORK / f"{name}-target-usage.json"
    started = time.perf_counter()
    with path.open("rb") as stdin, (WORK / f"{name}-target.log").open("wb") as log:
        result = subprocess.run(
            [*launcher(usage_path), TARGET, "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"target failed ({result.returncode}); see {WORK / f'{name}-target.log'}")
    if not result.stdout.strip():
        raise SystemExit(f"the target passed on no STATE; see {WORK / f'{name}-target.log'}")
    usage = read_usage(usage_path)
    size = path.stat().st_size / 1e6
    path.unlink()  # gigabytes at the full size
    print(f"{name}: loaded in {wall:.0f} s", flush=True)
    return Load(writer.counts, generated, size, wall, usage["cpu_seconds"], usage["rss_mb"]), writer


@dataclass
class Build:
    wall: float
    elapsed: float
    statuses: Counter[str]
    failed: list[str]
    slowest: list[tuple[str, float]]
    rows_affected: dict[str, int]
    output: str = field(repr=False, default="")


def dbt_build(endpoints: LocalEndpoints, work: Path) -> Build:
    """`dbt build` through `run_dbt`; a build that fails or times out (run_dbt stops dbt
    after 900 s) is reported, not raised, so the table still comes out."""
    env = endpoints.dbt_env(work)
    started = time.perf_counter()
    try:
        result = run_dbt(["build"], env, check=False)
    except subprocess.TimeoutExpired as timeout:
        output = (timeout.stdout or b"") + (timeout.stderr or b"")
        text = output.decode(errors="replace") if isinstance(output, bytes) else output
        return Build(
            wall=time.perf_counter() - started,
            elapsed=0.0,
            statuses=Counter(),
            failed=[f"dbt build stopped after {timeout.timeout:.0f} s (run_dbt's timeout)"],
            slowest=[],
            rows_affected={},
            output=text,
        )
    wall = time.perf_counter() - started
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    models = [
        (node["unique_id"].split(".")[-1], float(node["execution_time"]))
        for node in results
        if node["unique_id"].startswith("model.")
    ]
    failed = [
        f"{name}: {status}"
        for name, status in result.statuses.items()
        if status not in ("success", "pass", "warn")
    ]
    return Build(
        wall=wall,
        elapsed=result.elapsed_seconds,
        statuses=Counter(result.statuses.values()),
        failed=failed,
        slowest=sorted(models, key=lambda m: -m[1])[:SLOWEST],
        rows_affected=result.rows_affected,
        output=result.output,
    )


def count_rows(endpoints: LocalEndpoints, schema: str, tables: Iterable[str]) -> dict[str, int]:
    counts = {}
    with contextlib.closing(endpoints.connect()) as conn:
        cur = conn.cursor()
        for table in tables:
            try:
                cur.execute(f'SELECT COUNT(*) FROM "{schema}"."{table.upper()}"')
                counts[table] = cur.fetchone()[0]
            except ProgrammingError:  # a model that failed to build has no table
                counts[table] = -1
    return counts


# ----- the benchmark --------------------------------------------------------------------------
def options(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(
        seed=args.seed,
        contacts=args.contacts,
        companies=args.companies or max(args.contacts // 100, 40),
        conversations=args.conversations,
        tickets=args.tickets or max(args.conversations // 10, 30),
        activity_logs=args.activity_logs,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=300_000)
    parser.add_argument("--companies", type=int, help="default: contacts / 100")
    parser.add_argument("--tickets", type=int, help="default: conversations / 10")
    parser.add_argument("--activity-logs", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="20,000 contacts, 6,000 conversations")
    args = parser.parse_args()
    if args.small:
        args.contacts, args.conversations = 20_000, 6_000
    opts = options(args)
    command = (
        f".venv/bin/python -m bench.dbt_models --contacts {opts.contacts} "
        f"--conversations {opts.conversations} --companies {opts.companies} "
        f"--tickets {opts.tickets} --activity-logs {opts.activity_logs} --seed {opts.seed} "
        f"--batch-size {args.batch_size}"
    )
    shutil.rmtree(WORK, ignore_errors=True)  # the previous run's logs and dbt files
    WORK.mkdir(parents=True)
    load_before = os.getloadavg()
    sampler = MemorySampler()
    started = time.perf_counter()
    catalog = Catalog.discover()
    ws = Workspace(opts)
    failed = False
    with local_snowflake(WORK / "snowflake") as server:
        endpoints = LocalEndpoints("http://127.0.0.1:9", "unused", server, DATABASE, SCHEMA)
        endpoints.prepare_database()
        config_path = WORK / "target-config.json"
        config = {
            **endpoints.target_config(),
            "batch_size_rows": args.batch_size,
            "network_timeout": 3600,
        }
        config_path.write_text(json.dumps(config))

        first, writer = generate_and_load(
            "full", lambda w: full_extraction(ws, w), catalog, config_path
        )
        bookmarks = dict(writer.bookmarks)
        sampler.mark("full load")
        raw_rows = count_rows(endpoints, SCHEMA, ANALYTICS_STREAMS)
        full = dbt_build(endpoints, WORK / "dbt-full")
        sampler.mark("full build")
        print(f"full build: {full.wall:.0f} s, {dict(full.statuses)}", flush=True)

        changes = apply_changes(ws)
        second, _ = generate_and_load(
            "incremental",
            lambda w: incremental_extraction(ws, w, bookmarks),
            catalog,
            config_path,
        )
        sampler.mark("incremental load")
        incremental = dbt_build(endpoints, WORK / "dbt-incremental")
        sampler.mark("incremental build")
        print(f"incremental build: {incremental.wall:.0f} s, {dict(incremental.statuses)}")
        totals = count_rows(endpoints, ANALYTICS, INCREMENTAL_MODELS)
    sampler.stop()
    total_wall = time.perf_counter() - started
    load_after = os.getloadavg()

    for name, build in (("full", full), ("incremental", incremental)):
        if build.failed:
            failed = True
            print(f"\n{name} build failures: {build.failed}\n{build.output[-4000:]}")

    def slowest(build: Build) -> str:
        return "; ".join(f"{name} {seconds:.1f} s" for name, seconds in build.slowest)

    def loaded(load: Load) -> str:
        return ", ".join(f"{s} {n:,}" for s, n in load.records.most_common())

    rows: list[tuple[str, str]] = [
        (
            "workspace",
            f"{opts.contacts:,} contacts, {opts.companies:,} companies, "
            f"{opts.conversations:,} conversations, {opts.tickets:,} tickets, "
            f"{opts.activity_logs:,} activity logs",
        ),
        ("full: records emitted", f"{sum(first.records.values()):,} ({loaded(first)})"),
        ("full: generating the input (s)", f"{first.generate_seconds:.0f}"),
        ("full: input size (MB)", f"{first.input_mb:,.0f}"),
        ("full: load into Snowflake, target wall (s)", f"{first.wall:.0f}"),
        ("full: target CPU (s)", f"{first.target_cpu:.0f}"),
        ("full: raw rows in Snowflake", f"{sum(max(n, 0) for n in raw_rows.values()):,}"),
        ("full dbt build: wall (s)", f"{full.wall:.0f}"),
        ("full dbt build: dbt elapsed (s)", f"{full.elapsed:.0f}"),
        ("full dbt build: nodes", ", ".join(f"{s} {n}" for s, n in full.statuses.items())),
        ("full dbt build: slowest models", slowest(full)),
        ("change (an hour of a busy inbox)", "; ".join(changes)),
        ("incremental: records emitted", f"{sum(second.records.values()):,} ({loaded(second)})"),
        ("incremental: generating the input (s)", f"{second.generate_seconds:.1f}"),
        ("incremental: load into Snowflake, target wall (s)", f"{second.wall:.0f}"),
        ("incremental dbt build: wall (s)", f"{incremental.wall:.0f}"),
        ("incremental dbt build: dbt elapsed (s)", f"{incremental.elapsed:.0f}"),
        (
            "incremental dbt build: nodes",
            ", ".join(f"{s} {n}" for s, n in incremental.statuses.items()),
        ),
        ("incremental dbt build: slowest models", slowest(incremental)),
    ]
    for model in INCREMENTAL_MODELS:
        touched, total = incremental.rows_affected.get(model), totals[model]
        share = f" ({touched / total:.1%})" if touched is not None and total > 0 else ""
        shown = "none reported" if touched is None else f"{touched:,}"
        rows.append((f"incremental: {model} rows touched / total", f"{shown} / {total:,}{share}"))
    if full.failed or incremental.failed:
        rows.append(("failed nodes", "; ".join(full.failed + incremental.failed)))
    rows += [
        (f"peak RSS: {label} (MB)", f"{peak:,.0f}") for label, peak in sorted(sampler.peaks.items())
    ]
    rows += [
        ("peak RSS: all processes together, sampled (MB)", f"{sampler.total_peak:,.0f}"),
        (
            "local Snowflake peak RSS by the end of each phase (MB)",
            ", ".join(f"{phase} {peak:,.0f}" for phase, peak in sampler.snowflake_by_phase),
        ),
        (
            "target-snowflake peak RSS, own (MB)",
            f"{max(first.target_rss_mb, second.target_rss_mb):.0f}",
        ),
        ("benchmark wall (s)", f"{total_wall:.0f}"),
        (
            "load average before / after (2 cores, shared)",
            f"{load_before[0]:.1f} / {load_after[0]:.1f}",
        ),
        ("command", f"`{command}`"),
    ]
    size = "small" if args.small else f"{opts.contacts:,} contacts"
    print_table(
        f"dbt build of transform/, full and incremental ({size})",
        rows,
        "dbt_models-small.md" if args.small else "dbt_models.md",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
