"""What the tap relies on in singer-sdk, checked against the SDK itself.

Each test fails when the SDK changes behaviour one of the tap's overrides depends on:
record messages (`_generate_record_messages`), bookmarks (`_increment_stream_state`),
the record loop (`_sync_records`), config validation (`_validate_config`), the SDK's
request path (`_request`), and the HTTP request metrics the SDK emits along it; or
the private SDK methods and attributes the tap calls (`_tap`, `_stream_version`,
`_write_schema_message`, `_write_state_message` with `state_manager.is_flushed`).
docs/development.md ("SDK methods we replace or call (tap)") lists them all.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import io
import json
import pkgutil
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import singer_sdk
import tap_intercom
from singer_sdk import Stream
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import RecordMessage
from tap_intercom.client import IntercomStream, to_rfc3339
from tap_intercom.errors import PermissionRefusedError
from tap_intercom.incremental import Batch, IncrementalStream
from tap_intercom.tap import STREAM_TYPES, TapIntercom

from testbed.catalog import catalog_selecting
from tests.tap.conftest import tap_config

CONFIG = {"access_token": "contract-token", "api_url": "http://127.0.0.1:9"}
# The private SDK hooks the tap overrides, each with contract tests below.
CONTRACT_TESTED_PRIVATE_HOOKS = {
    "_generate_record_messages",
    "_increment_stream_state",
    "_sync_records",
    "_validate_config",
}
# The private SDK methods and attributes the tap calls or reads, each with a contract
# test below (`_request`, `_stream_version`: the request and record-message tests).
CONTRACT_TESTED_PRIVATE_CALLS = {
    "_request",
    "_stream_version",
    "_tap",
    "_write_schema_message",
    "_write_state_message",
    "state_manager.is_flushed",
}
DEVELOPMENT_DOC = Path(__file__).parents[2] / "docs" / "development.md"


def _tap_classes() -> Iterator[type]:
    for module_info in pkgutil.walk_packages(tap_intercom.__path__, "tap_intercom."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                yield value


def _sdk_overrides() -> Iterator[tuple[type, str, Any]]:
    """(tap class, attribute, function) for every method or property a tap class
    defines over one of an SDK base class."""
    for cls in _tap_classes():
        sdk_bases = [base for base in cls.__mro__[1:] if base.__module__.startswith("singer_sdk.")]
        for name, value in vars(cls).items():
            if name.startswith("__") or inspect.isclass(value):
                continue
            if not any(name in vars(base) for base in sdk_bases):
                continue
            function = value.fget if isinstance(value, property) else getattr(value, "func", value)
            if callable(function):
                yield cls, name, function


def test_every_sdk_method_the_tap_overrides_is_marked_override():
    unmarked = [
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls, name, function in _sdk_overrides()
        if not getattr(function, "__override__", False)
    ]
    assert unmarked == []


def test_every_private_sdk_hook_the_tap_overrides_has_a_contract_test():
    private = {name for _, name, _ in _sdk_overrides() if name.startswith("_")}
    assert private == CONTRACT_TESTED_PRIVATE_HOOKS


def _sdk_private_names() -> set[str]:
    """Private names the SDK's own code defines: methods and attributes it sets."""
    names: set[str] = set()
    root = Path(singer_sdk.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text()
        names.update(re.findall(r"\bdef (_[a-z]\w*)", text))
        names.update(re.findall(r"\bself\.(_[a-z]\w*)\s*(?::[^=\n]+)?=[^=]", text))
    return names


def _private_sdk_uses() -> set[str]:
    """The SDK's private names that the tap's SDK-derived classes call or read on
    themselves (`self._x`, `super()._x`) without defining them, and the SDK state
    manager's `is_flushed`."""
    sdk_names = _sdk_private_names()
    used: set[str] = set()
    for cls in _tap_classes():
        if not any(base.__module__.startswith("singer_sdk.") for base in cls.__mro__):
            continue
        tree = ast.parse(inspect.getsource(cls))
        own = {
            name
            for klass in cls.__mro__
            if klass.__module__.startswith("tap_intercom.")
            for name in vars(klass)
        }
        own |= {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            if node.attr == "is_flushed":
                used.add("state_manager.is_flushed")
                continue
            on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            on_super = (
                isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "super"
            )
            if (on_self or on_super) and node.attr in sdk_names and node.attr not in own:
                used.add(node.attr)
    return used


def test_every_private_sdk_method_the_tap_calls_has_a_contract_test():
    assert _private_sdk_uses() == CONTRACT_TESTED_PRIVATE_CALLS


def test_every_private_sdk_method_the_tap_replaces_or_calls_is_in_the_docs_table():
    text = DEVELOPMENT_DOC.read_text()
    table = text[text.index("## SDK methods we replace or call (tap)") :].split("\n## ")[0]
    listed = set(re.findall(r"^\| `(?:[A-Za-z]+\.)?([\w.]+)", table, re.MULTILINE))
    missing = (CONTRACT_TESTED_PRIVATE_HOOKS | CONTRACT_TESTED_PRIVATE_CALLS) - listed
    assert not missing, f"not in docs/development.md's table: {sorted(missing)}"


# -- _generate_record_messages ----------------------------------------------------

ADMIN = {
    "type": "admin",
    "id": "7",
    "name": "Ada",
    "email": "ada@example.com",
    "away_mode_enabled": False,
    "team_ids": [1, 2],
    "avatar": {"type": "avatar", "image_url": None},
    "not_in_the_schema": {"kept": True},  # Intercom adds fields; the tap passes them on
}
STREAM_MAPS = {
    "admins": {
        "email_domain": "email.split('@')[-1]",
        "avatar": None,
        "__filter__": "id != '3'",
    },
    "admins_copy": {"__source__": "admins"},
}


def _admins(config: dict[str, Any], catalog: dict[str, Any] | None = None) -> IntercomStream:
    tap = TapIntercom(config=config, catalog=catalog, setup_mapper=True)
    stream = tap.streams["admins"]
    assert isinstance(stream, IntercomStream)
    return stream


def _deselecting(stream: str, prop: str) -> dict[str, Any]:
    catalog = catalog_selecting([stream])
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if entry["tap_stream_id"] == stream and metadata["breadcrumb"] == ["properties", prop]:
                metadata["metadata"]["selected"] = False
    return catalog


def _messages(messages: Iterator[RecordMessage]) -> list[tuple[str, dict, int | None]]:
    return [(message.stream, message.record, message.version) for message in messages]


@pytest.mark.parametrize(
    ("config", "catalog"),
    [
        pytest.param(CONFIG, None, id="every-property"),
        pytest.param({**CONFIG, "stream_maps": STREAM_MAPS}, None, id="stream-maps"),
        pytest.param(CONFIG, "email", id="deselected-property"),
        pytest.param({**CONFIG, "stream_maps": STREAM_MAPS}, "team_ids", id="maps-and-deselected"),
    ],
)
def test_record_messages_equal_the_sdks_own(config: dict[str, Any], catalog: str | None):
    stream = _admins(config, _deselecting("admins", catalog) if catalog else None)
    for record in (ADMIN, {**ADMIN, "id": "3"}):
        ours = _messages(stream._generate_record_messages(copy.deepcopy(record)))
        sdks = _messages(Stream._generate_record_messages(stream, copy.deepcopy(record)))
        assert ours == sdks
    if catalog:
        assert all(catalog not in record for _, record, _ in ours)
    if "stream_maps" in config:  # the maps really ran: a copy, a new property, a filter
        assert [name for name, _, _ in ours] == ["admins_copy"]  # id 3: filtered, copied
        first = _messages(stream._generate_record_messages(copy.deepcopy(ADMIN)))
        assert {name for name, _, _ in first} == {"admins", "admins_copy"}
        assert first[0][1]["email_domain"] == "example.com"


# -- _increment_stream_state ------------------------------------------------------

T0 = 1_700_000_000


def _contact(number: int, updated_at: int) -> dict[str, Any]:
    return {"type": "contact", "id": f"c{number}", "updated_at": updated_at}


class ScriptedContacts(IncrementalStream):
    """`contacts` listing fixed batches instead of calling the API."""

    name = "contacts"
    path = "/contacts"
    batches: list[Batch] = [
        ([_contact(1, T0 + 100), _contact(2, T0 + 300)], T0 + 200),
        ([_contact(3, T0 + 250)], None),
        ([_contact(4, T0 + 400)], T0 + 350),
    ]

    def iter_batches(self, start: int) -> Iterator[Batch]:
        yield from self.batches


class SdkBookmarkedContacts(ScriptedContacts):
    """The same stream with the SDK's own per-record bookmarking."""

    _increment_stream_state = Stream._increment_stream_state


class RefusedAfterOneBatch(ScriptedContacts):
    """`contacts` whose search Intercom refuses after the first page."""

    def iter_batches(self, start: int) -> Iterator[Batch]:
        yield self.batches[0]
        raise PermissionRefusedError("refused", 403, ("api_plan_restricted",), "POST /x")


def _sync(
    stream_type: type[ScriptedContacts],
    capsys: pytest.CaptureFixture,
    records: tuple[str, ...] = ("c1", "c2", "c3", "c4"),
) -> list[dict]:
    """The STATE values a sync of the stream writes (after checking its records)."""
    tap = TapIntercom(config=CONFIG)
    stream = stream_type(tap)
    capsys.readouterr()
    stream.sync()
    lines = capsys.readouterr().out.splitlines()
    messages = [json.loads(line) for line in lines if line.strip()]
    assert tuple(m["record"]["id"] for m in messages if m["type"] == "RECORD") == records
    assert [skip["stream"] for skip in tap.run_summary.skipped] == (
        ["contacts"] if stream_type is RefusedAfterOneBatch else []
    )
    return [m["value"] for m in messages if m["type"] == "STATE"]


def test_bookmarks_move_only_at_checkpoints(capsys: pytest.CaptureFixture):
    states = _sync(ScriptedContacts, capsys)
    bookmarks = [state["bookmarks"]["contacts"].get("replication_key_value") for state in states]
    checkpoints = [to_rfc3339(T0 + 200), to_rfc3339(T0 + 350)]
    assert [b for b in dict.fromkeys(bookmarks) if b] == checkpoints
    assert "progress_markers" not in states[-1]["bookmarks"]["contacts"]


def test_the_sdk_bookmarks_per_record_through_the_hook_the_tap_overrides(
    capsys: pytest.CaptureFixture,
):
    # Without the override the bookmark would end on the newest record (past the last
    # checkpoint, so a resumed run could skip records): the SDK still moves bookmarks
    # through `_increment_stream_state`, and nothing else, once per record.
    sdk_final = _sync(SdkBookmarkedContacts, capsys)[-1]["bookmarks"]["contacts"]
    assert sdk_final["replication_key_value"] == to_rfc3339(T0 + 400)
    ours = _sync(ScriptedContacts, capsys)[-1]["bookmarks"]["contacts"]
    # ...and the tap's bookmark has the shape the SDK gives it.
    assert set(ours) == set(sdk_final)
    assert ours["replication_key"] == sdk_final["replication_key"] == "updated_at"
    assert ours["replication_key_value"] == to_rfc3339(T0 + 350)


# -- _sync_records ----------------------------------------------------------------


def test_the_sdks_sync_runs_the_record_loop_the_tap_wraps(capsys: pytest.CaptureFixture):
    # The SDK's sync drives records through `_sync_records`; the tap's wrapper turns a
    # refused stream into a skip, and the SDK's sync then ends normally.
    states = _sync(RefusedAfterOneBatch, capsys, records=("c1", "c2"))
    assert states[-1]["bookmarks"]["contacts"]["replication_key_value"] == to_rfc3339(T0 + 200)


# -- _validate_config -------------------------------------------------------------


def test_config_validation_reports_the_taps_check_with_the_sdks():
    bad = {**CONFIG, "start_date": "last tuesday", "page_size": "many"}
    with pytest.raises(ConfigValidationError) as raised:
        TapIntercom(config=bad)
    errors = raised.value.errors
    assert any("config['start_date']" in error for error in errors)  # the tap's check
    assert any("many" in error for error in errors)  # the SDK's schema check still runs
    TapIntercom(config=bad, validate_config=False)  # and the SDK's switch still works


# -- the SDK's _request and its metrics -------------------------------------------


class RecordingSession(requests.Session):
    """Answers every request with one canned response and records how it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append((request, kwargs))
        response = requests.Response()
        response.status_code = 200
        response.headers["X-RateLimit-Limit"] = "1000"
        response.headers["X-RateLimit-Remaining"] = "999"
        response.raw = io.BytesIO(b'{"type": "admin.list", "admins": []}')
        response.request = request
        response.elapsed = datetime.now(UTC) - datetime.now(UTC)
        return response


def test_the_sdks_request_sends_as_the_tap_configures_it_and_validates_the_answer():
    stream = _admins({**CONFIG, "request_timeout": 17})
    session = RecordingSession()
    stream._sessions.session = session  # the stream's per-thread session
    payload = stream.request("/admins")
    ((request, kwargs),) = session.sent
    assert kwargs == {"timeout": 17, "allow_redirects": False}
    assert request.headers["Authorization"] == "Bearer contract-token"
    # The answer came back decoded...
    assert payload == {"type": "admin.list", "admins": []}
    # ...and accounts it to the pacer, which learnt the window's budget.
    assert stream.pacer._limit == 1000


def test_every_api_stream_names_its_endpoint_for_the_sdks_request_metrics():
    # The SDK tags http_request_duration and http_request_count with `stream.path`.
    tap = TapIntercom(config=CONFIG)
    streams = [tap.streams[stream_type.name] for stream_type in STREAM_TYPES]
    api_streams = [stream for stream in streams if isinstance(stream, IntercomStream)]
    assert [stream.name for stream in api_streams if not getattr(stream, "path", "")] == []
    assert tap.streams["conversation_attributes"].path == "/data_attributes"
    later = TapIntercom(config={**CONFIG, "intercom_version": "2.16"})
    assert later.streams["conversation_attributes"].path == "/conversations/attributes"


def _metrics(stderr: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]


def test_the_tap_emits_the_sdks_http_request_metrics(intercom_sandbox, tap_runner):
    streams = ["admins", "contacts", "conversation_parts"]
    run = tap_runner(tap_config(intercom_sandbox), streams)
    assert run.returncode == 0, run.stderr[-3000:]
    served = intercom_sandbox.client.requests()
    metrics = _metrics(run.stderr)
    durations = [m for m in metrics if m["metric"] == "http_request_duration"]
    counts = [m for m in metrics if m["metric"] == "http_request_count"]
    # One duration per request served, tagged as the SDK tags it.
    assert len(durations) == len(served)
    assert {m["tags"]["http_status_code"] for m in durations} == {200}
    assert {m["tags"]["status"] for m in durations} == {"succeeded"}
    # The counters add up to the requests, per stream (the parent's listing for
    # conversation_parts counts as conversations).
    assert sum(m["value"] for m in counts) == len(served)
    by_stream: dict[str, int] = {}
    for m in counts:
        by_stream[m["tags"]["stream"]] = by_stream.get(m["tags"]["stream"], 0) + m["value"]
    assert by_stream["admins"] == sum(1 for r in served if r["path"] == "/admins")
    one_conversation = [
        r for r in served if r["path"].startswith("/conversations/") and r["method"] == "GET"
    ]
    assert by_stream["conversation_parts"] == len(one_conversation) > 0
    endpoints = {(m["tags"]["stream"], m["tags"]["endpoint"]) for m in counts}
    assert ("conversation_parts", "/conversations/{id}") in endpoints


# -- get_starting_replication_key_value, ABORT_AT_RECORD_COUNT (webhook_notifications) --

START_DATE = "2024-01-01T00:00:00Z"
POSITION = "00000000000000000001:000000000100"


class PositionBookmarked(Stream):
    """An SDK stream with a non-timestamp replication key, as webhook_notifications has,
    that notes where the SDK starts it and whether it runs as a dry run."""

    name = "webhook_notifications"  # a stream the tap's mapper knows
    replication_key = "position"
    is_sorted = True
    schema = {"properties": {"position": {"type": "string"}}}
    seen: list[tuple[Any, Any]] = []

    def get_records(self, context: Any) -> Iterator[dict[str, Any]]:
        self.seen.append(
            (self.get_starting_replication_key_value(context), self.ABORT_AT_RECORD_COUNT)
        )
        yield {"position": POSITION}


def _starts(state: dict[str, Any], capsys: pytest.CaptureFixture) -> Any:
    tap = TapIntercom(config={**CONFIG, "start_date": START_DATE}, state=state)
    PositionBookmarked.seen = []
    PositionBookmarked(tap=tap).sync()
    capsys.readouterr()
    [(start, _)] = PositionBookmarked.seen
    return start


def test_the_sdk_starts_a_non_timestamp_key_without_bookmark_from_start_date(
    capsys: pytest.CaptureFixture,
):
    # What webhook_notifications' `get_starting_replication_key_value` corrects: with
    # no bookmark the SDK offers `start_date`, though the key is no timestamp...
    assert _starts({}, capsys) == START_DATE
    # ...and with a bookmark the bookmark (which the override passes on).
    bookmarked = {
        "bookmarks": {
            "webhook_notifications": {
                "replication_key": "position",
                "replication_key_value": POSITION,
            }
        }
    }
    assert _starts(bookmarked, capsys) == POSITION


def test_webhook_notifications_starts_from_its_bookmark_or_the_spools_beginning(tmp_path):
    spool = str(tmp_path)
    config = {**CONFIG, "start_date": START_DATE, "webhook_spool_dir": spool}
    stream = TapIntercom(config=config).streams["webhook_notifications"]
    assert stream.get_starting_replication_key_value(None) is None
    state = {
        "bookmarks": {
            "webhook_notifications": {
                "replication_key": "spool_position",
                "replication_key_value": POSITION,
            }
        }
    }
    stream = TapIntercom(config=config, state=state).streams["webhook_notifications"]
    assert stream.get_starting_replication_key_value(None) == POSITION


def test_the_sdks_dry_run_caps_every_stream_and_a_sync_does_not(capsys: pytest.CaptureFixture):
    # webhook_notifications tells `--test` from a sync by `ABORT_AT_RECORD_COUNT`.
    tap = TapIntercom(config=CONFIG)
    PositionBookmarked.seen = []
    assert tap.run_sync_dry_run(dry_run_record_limit=1, streams=[PositionBookmarked(tap=tap)])
    PositionBookmarked(tap=tap).sync()
    tap.message_writer.flush()  # the dry run's record, which its abort left buffered
    capsys.readouterr()
    assert [limit for _, limit in PositionBookmarked.seen] == [1, None]
    assert tap.streams["webhook_notifications"].ABORT_AT_RECORD_COUNT is None


def test_the_sdks_state_writer_skips_a_state_equal_to_the_last(capsys: pytest.CaptureFixture):
    # A following webhook_notifications repeats its STATE while idle (the target checks
    # its age bound when a message comes) past this writer, straight to the tap's.
    tap = TapIntercom(config=CONFIG)
    capsys.readouterr()
    state = {"bookmarks": {"webhook_notifications": {"replication_key_value": POSITION}}}
    tap.state_writer.write_state(state)
    tap.state_writer.write_state(copy.deepcopy(state))
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["STATE"]


# -- private SDK methods and attributes the tap calls --------------------------------


def test_the_sdks_stream_keeps_its_tap_as_the_tap_reads_it():
    # `user_agent` reads the tap's version through the stream's `_tap`.
    tap = TapIntercom(config=CONFIG)
    stream = tap.streams["admins"]
    assert stream._tap is tap
    assert stream.user_agent == f"tap-intercom/{tap.plugin_version}"


def test_the_sdks_state_message_goes_out_only_when_the_state_is_not_flushed(
    capsys: pytest.CaptureFixture,
):
    # `IncrementalStream.write_state` flips `is_flushed` and calls
    # `_write_state_message`; a deferred (interim) bookmark leaves `is_flushed` False
    # for the next STATE to carry.
    tap = TapIntercom(config=CONFIG)
    stream = ScriptedContacts(tap)
    stream.stream_state["replication_key_value"] = "a bookmark"
    capsys.readouterr()
    stream.state_manager.is_flushed = False
    stream._write_state_message()
    stream._write_state_message()  # flushed: nothing more
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["STATE"]
    assert json.loads(lines[0])["value"] == tap.state
    assert tap.state["bookmarks"]["contacts"]["replication_key_value"] == "a bookmark"
    assert stream.state_manager.is_flushed is True


def test_the_sdks_schema_message_carries_a_property_the_tap_announces(
    capsys: pytest.CaptureFixture,
):
    # Drift adds a property to `effective_schema` and the stream maps' schema, then
    # `_write_schema_message` must send what the maps now say.
    stream = _admins(CONFIG)
    capsys.readouterr()
    stream._announce_property("brand_new", {"type": ["string", "null"]})
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(m["type"], m["stream"]) for m in messages] == [("SCHEMA", "admins")]
    assert messages[0]["schema"]["properties"]["brand_new"] == {"type": ["string", "null"]}


# -- Tap.streams (the SDK's stream dict, reordered) -----------------------------------


def test_the_sdk_syncs_streams_in_the_order_the_tap_puts_them_in():
    # `load_streams` (final) sorts by name; `sync_all` (final) syncs in the order of
    # `streams`, which the tap rearranges so that each per-parent stream follows its
    # parent (and replays the parent's listing).
    tap = TapIntercom(config=CONFIG)
    assert [stream.name for stream in tap.load_streams()] == sorted(tap.streams)
    synced: list[str] = []
    for stream in tap.streams.values():
        stream.sync = lambda context=None, name=stream.name: synced.append(name)  # type: ignore[method-assign]
    tap.sync_all()
    assert synced == [name for name, stream in tap.streams.items() if stream.selected]
    assert synced.index("contact_tags") == synced.index("contacts") + 2  # after contact_companies
    assert synced.index("conversation_parts") == synced.index("conversations") + 1
