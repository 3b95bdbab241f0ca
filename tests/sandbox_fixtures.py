"""Fixtures: `sandbox_factory(**option overrides)` and `intercom_sandbox` (small default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from testbed.intercom import FaultSettings, RunningSandbox, SandboxOptions, run_sandbox


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., RunningSandbox]]:
    """Start sandboxes with option overrides (fault settings may be given flat or as
    `faults=FaultSettings(...)`); all are stopped at teardown."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> RunningSandbox:
            fault_names = set(FaultSettings.__dataclass_fields__)
            fault_overrides = {k: overrides.pop(k) for k in list(overrides) if k in fault_names}
            options = SandboxOptions(**overrides)
            options.faults.merge(fault_overrides)
            sandbox = stack.enter_context(run_sandbox(options))
            started.append(sandbox)
            return sandbox

        started: list[RunningSandbox] = []
        yield start
        # A sandbox bug must not pass for an Intercom 500 that a client retried away.
        bugs = [bug for sandbox in started for bug in sandbox.server.internal_errors]
        assert not bugs, f"the Intercom sandbox hit internal errors: {bugs[:5]}"


@pytest.fixture
def intercom_sandbox(sandbox_factory: Callable[..., RunningSandbox]) -> RunningSandbox:
    """A small default workspace (seed 7), fresh for each test."""
    return sandbox_factory()
