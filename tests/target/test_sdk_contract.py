"""Contract tests: what the target relies on in singer-sdk, checked against the installed
SDK. Each fails when the SDK changes a hook we override or a behaviour we build on, so an
SDK upgrade shows here rather than as lost data.
"""

from __future__ import annotations

import ast
import functools
import inspect
import io
import json
import textwrap
import typing as t
from pathlib import Path

import msgspec
import pytest
import target_snowflake
from singer_sdk.io_base import SingerMessageType
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.target_base import Target
from target_snowflake.reader import Envelope, SingerLineReader
from target_snowflake.sink import SnowflakeSink
from target_snowflake.target import TargetSnowflake
from typing_extensions import override

CONFIG = {
    "account": "contract",
    "user": "u",
    "password": "p",
    "database": "D",
    "default_target_schema": "S",
}
PACKAGE = Path(target_snowflake.__file__).parent

# The private SDK hooks the target overrides, with the signature we implement.
PRIVATE_TARGET_HOOKS = {
    "_process_schema_message": "(self, message_dict: 'dict') -> 'None'",
    "_process_record_message": "(self, message_dict: 'dict') -> 'None'",
    "_process_state_message": "(self, message_dict: 'dict') -> 'None'",
    "_process_activate_version_message": "(self, message_dict: 'dict') -> 'None'",
    "_process_batch_message": "(self, message_dict: 'dict') -> 'None'",
    "_write_state_message": "(self, state: 'dict') -> 'None'",
    "_validate_config": "(self, *, raise_errors: 'bool' = True) -> 'list[str]'",
    "_handle_termination": "(self, signum: 'int', frame: 'FrameType | None') -> 'None'",
}


@pytest.mark.parametrize("name", sorted(PRIVATE_TARGET_HOOKS))
def test_the_sdk_still_has_each_private_hook_we_override(name: str) -> None:
    sdk_method = getattr(Target, name)
    assert str(inspect.signature(sdk_method)) == PRIVATE_TARGET_HOOKS[name]
    assert getattr(TargetSnowflake.__dict__[name], "__override__", False)


def _methods_marked_override(ours: type, sdk: type) -> list[str]:
    """Names `ours` defines that `sdk` also has, without @override."""
    missing = []
    for name, value in vars(ours).items():
        if name.startswith("__") or not hasattr(sdk, name):
            continue
        function = value.fget if isinstance(value, property) else value
        function = getattr(function, "__func__", function)  # classmethod, staticmethod
        if not inspect.isfunction(function):
            continue  # class attributes (name, capabilities, config schema) are data
        if not getattr(function, "__override__", False):
            missing.append(name)
    return missing


@pytest.mark.parametrize(
    ("ours", "sdk"),
    [
        (TargetSnowflake, Target),
        (SnowflakeSink, BatchSink),
        (SingerLineReader, SingerLineReader.__mro__[1]),
    ],
)
def test_every_overridden_sdk_method_is_marked(ours: type, sdk: type) -> None:
    assert _methods_marked_override(ours, sdk) == []


def _attributes_assigned(path: Path, class_name: str) -> set[str]:
    """Every `self.NAME = ...` in the class's methods."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for inner in ast.walk(node):
                targets = []
                if isinstance(inner, ast.Assign):
                    targets = inner.targets
                elif isinstance(inner, ast.AnnAssign | ast.AugAssign):
                    targets = [inner.target]
                for target in targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        names.add(target.attr)
    return names


class _BareSink(BatchSink):
    def process_batch(self, context: dict) -> None:
        _ = context


class _BareTarget(Target):
    name = "bare"
    config_jsonschema: t.ClassVar = {"type": "object", "properties": {}}
    default_sink_class = _BareSink


def _sdk_attributes(instance: object) -> set[str]:
    return set(vars(instance)) | set(dir(type(instance)))


def test_no_attribute_of_ours_shadows_an_sdk_attribute() -> None:
    """Our instance attributes must not reuse SDK names (the sink's validator once did)."""
    sdk_target = _BareTarget(config={})
    sdk_sink = _BareSink(sdk_target, "s", {"type": "object", "properties": {}}, [])
    allowed = {"max_parallelism"}  # the SDK's public setter, meant to be assigned
    ours = {
        "target.py": (_attributes_assigned(PACKAGE / "target.py", "TargetSnowflake"), sdk_target),
        "sink.py": (_attributes_assigned(PACKAGE / "sink.py", "SnowflakeSink"), sdk_sink),
    }
    for module, (assigned, sdk_instance) in ours.items():
        assert assigned & _sdk_attributes(sdk_instance) - allowed == set(), module


def test_the_sdk_hands_every_message_type_to_our_handlers() -> None:
    """listen() -> the reader's process_lines with one callback per message type, each
    bound to our `_process_*_message`."""
    seen: dict[str, t.Any] = {}

    class Recording(SingerLineReader):
        @override
        def process_lines(self, file_input: t.Any, callbacks: dict) -> t.Counter[str]:
            seen.update(callbacks)
            return t.Counter()

    target = TargetSnowflake(config=CONFIG, message_reader=Recording())
    target.process_lines(io.BytesIO(b""))
    assert set(seen) == set(SingerMessageType)
    for kind, callback in seen.items():
        name = f"_process_{SingerMessageType(kind).value.lower()}_message"
        assert callback == getattr(target, name)


def test_our_reader_gives_handlers_the_shapes_they_expect() -> None:
    """RECORD as an Envelope with the record left raw; every other message as a dict."""
    lines = [
        {"type": "SCHEMA", "stream": "s", "schema": {"properties": {}}, "key_properties": []},
        {"type": "RECORD", "stream": "s", "record": {"id": 1.50}, "version": 3},
        {"type": "STATE", "value": {"a": 1}},
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 3},
        {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}, "manifest": []},
    ]
    received: list[tuple[str, t.Any]] = []
    callbacks = {
        kind: functools.partial(lambda kind, message: received.append((kind, message)), kind)
        for kind in SingerMessageType
    }
    text = "".join(json.dumps(line) + "\n" for line in lines).encode()
    counts = SingerLineReader().process_lines(io.BytesIO(text), callbacks)
    assert counts == {kind: 1 for kind in SingerMessageType}
    kinds = [kind for kind, _ in received]
    assert kinds == [line["type"] for line in lines]
    record = received[1][1]
    assert isinstance(record, Envelope)
    assert bytes(record.record) == b'{"id": 1.5}'
    assert bytes(record.version) == b"3"
    for (_, message), line in zip(received, lines, strict=True):
        if not isinstance(message, Envelope):
            assert message == line


def test_the_config_we_redact_with_is_the_config_the_sdk_validates() -> None:
    """`_validate_config` redacts with `self.config`, which the SDK sets before it
    validates."""
    seen: list[t.Mapping[str, t.Any]] = []

    class Validating(_BareTarget):
        @override
        def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
            seen.append(dict(self.config))
            return super()._validate_config(raise_errors=raise_errors)

    Validating(config={"password": "p"})
    assert seen == [{"password": "p"}]


def test_the_sdk_state_handler_keeps_the_latest_changed_state() -> None:
    target = _BareTarget(config={})
    Target._process_state_message(target, {"type": "STATE", "value": {"a": 1}})
    assert target._latest_state == {"a": 1}
    first = target._latest_state
    Target._process_state_message(target, {"type": "STATE", "value": {"a": 1}})
    assert target._latest_state is first  # unchanged state: ignored


class _RecordingSink(BatchSink):
    log: t.ClassVar[list[str]] = []
    tag: t.ClassVar[str] = ""

    def process_batch(self, context: dict) -> None:
        _ = context
        self.log.append(f"drain {self.stream_name}")


class _RecordingTarget(Target):
    name = "recording"
    config_jsonschema: t.ClassVar = {"type": "object", "properties": {}}

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        _ = stream_name
        return type("Bound", (_RecordingSink,), {"tag": "handed over"})  # as `for_run` does

    def _write_state_message(self, state: dict) -> None:
        _RecordingSink.log.append(f"state {state}")


def test_sinks_are_built_from_the_class_get_sink_class_returns() -> None:
    """We hand the load session to sinks on the class get_sink_class returns (`for_run`);
    the SDK builds it with its four arguments, which our sink takes as they are."""
    target = _RecordingTarget(config={})
    sink = target.add_sink("s", {"type": "object", "properties": {"id": {}}}, ["id"])
    assert isinstance(sink, _RecordingSink)
    assert sink.tag == "handed over"
    assert target._sinks_active["s"] is sink
    assert target.sink_exists("s")
    assert target.get_sink("s") is sink
    parameters = ["self", "target", "stream_name", "schema", "key_properties"]
    assert list(inspect.signature(Sink.__init__).parameters) == parameters
    assert list(inspect.signature(SnowflakeSink.__init__).parameters) == parameters


def test_our_sink_class_is_a_sink_class_bound_to_the_run() -> None:
    target = TargetSnowflake(config=CONFIG)
    sink_class = target.get_sink_class("s")
    assert isinstance(sink_class, type)
    assert issubclass(sink_class, SnowflakeSink)
    assert sink_class.load_session is target.load_session
    assert target.get_sink_class("t") is sink_class
    another_run = TargetSnowflake(config=CONFIG).get_sink_class("s")
    assert another_run.load_session is not target.load_session


def _methods_called(function: t.Callable[..., t.Any]) -> set[str]:
    """The names of the methods `function` calls (`x.name(...)`), from its source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_the_sdk_calls_process_record_only_from_the_record_handler_we_replace() -> None:
    """Our sink's `process_record` raises: the SDK must not call it from anywhere but
    `Target._process_record_message` (replaced: records stay raw JSON, see
    docs/development.md)."""
    callers = [
        f"{cls.__name__}.{name}"
        for cls in (Target, Sink, BatchSink)
        for name, function in vars(cls).items()
        if inspect.isfunction(function) and "process_record" in _methods_called(function)
    ]
    assert callers == ["Target._process_record_message"]
    assert "_process_record_message" in PRIVATE_TARGET_HOOKS


def test_drain_all_drains_every_sink_before_writing_the_state() -> None:
    """Our `_write_state_message` assumes it runs after all sinks (old and active) drained."""
    _RecordingSink.log.clear()
    target = _RecordingTarget(config={})
    schema = {"type": "object", "properties": {"id": {}}}
    old = target.add_sink("a", schema, ["id"])
    old.tally_record_read()
    target._sinks_to_clear.append(target._sinks_active.pop("a"))
    target.add_sink("a", {**schema, "x": 1}, ["id"]).tally_record_read()
    target.add_sink("b", schema, ["id"]).tally_record_read()
    target._latest_state = {"n": 1}
    target.drain_all()
    assert _RecordingSink.log == ["drain a", "drain a", "drain b", "state {'n': 1}"]
    assert target._sinks_to_clear == []
    assert all(sink.current_size == 0 for sink in target._sinks_active.values())


def test_sink_size_counts_tallied_records_until_drained() -> None:
    target = _BareTarget(config={"batch_size_rows": 3})
    sink = _BareSink(target, "s", {"type": "object", "properties": {}}, [])
    sink.tally_record_read()
    sink.tally_record_read()
    assert sink.current_size == 2
    assert sink.max_size == 3
    target.drain_one(sink)
    assert sink.current_size == 0


def test_the_sdk_installs_our_termination_handler() -> None:
    source = inspect.getsource(PluginBase._setup_signal_handlers)
    assert "self._handle_termination" in source
    assert "SIGTERM" in source
    assert "SIGINT" in source


def test_envelope_fields_are_the_singer_record_fields() -> None:
    assert Envelope.__struct_fields__ == ("type", "stream", "record", "version", "time_extracted")
    assert msgspec.json.decode(b'{"type":"RECORD"}', type=Envelope).record == msgspec.Raw()
