"""Every knob of the sandbox: workspace sizes, the clock anchor, auth and the fault settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from testbed.intercom.drift import DRIFT_REFUSALS, check_refusals

DEFAULT_TOKEN = "sandbox-token"
# Intercom's published default: 10,000 calls a minute per app, enforced per 10 seconds.
DEFAULT_RATE_LIMIT = 1666


@dataclass
class FaultSettings:
    """Faults switchable per run; `POST /_sandbox/faults` merges new values into these."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0  # share of API requests answered 500/502/503
    storm_429: int = 0  # the next N API requests are answered 429
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    truncate_rate: float = 0.0  # share of 200 answers whose JSON body is cut short
    scroll_500_after_pages: int | None = None  # one 500 after this many pages of a scroll
    rate_limit: int = DEFAULT_RATE_LIMIT  # requests per 10-second window
    search_lag_seconds: float = 0.0  # new contacts stay out of search this long
    scroll_idle_seconds: float = 60.0  # an unused scroll expires after this

    def merge(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, refusing unknown keys and wrong types by name."""
        known = {f.name: f for f in dataclasses.fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}; known: {sorted(known)}")
            if key == "scroll_500_after_pages":
                if value is not None and (not isinstance(value, int) or value < 0):
                    raise ValueError("scroll_500_after_pages must be null or an integer >= 0")
            elif key in ("storm_429", "rate_limit"):
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be an integer >= 0")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a number >= 0")
            if key.endswith("_rate") and value > 1:
                raise ValueError(f"{key} is a share and must be between 0 and 1")
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SandboxOptions:
    """How to build and serve one sandbox workspace (the CLI flags mirror these names)."""

    seed: int = 7
    host: str = "127.0.0.1"
    port: int = 0
    token: str = DEFAULT_TOKEN
    # Data are generated in the `history_days` before `anchor` (UNIX seconds); by default the
    # anchor is the start time floored to the UTC day, so a seed gives the same data all day.
    anchor: int | None = None
    history_days: int = 365
    contacts: int = 200
    companies: int = 40
    conversations: int = 100
    tickets: int = 30
    big_conversations: int = 2  # conversations with more than 500 parts
    deleted_conversations: int = 5
    admins: int = 6
    teams: int = 3
    tags: int = 8
    segments: int = 4
    company_segments: int = 3
    articles: int = 12
    collections: int = 4
    news_items: int = 5
    newsfeeds: int = 2
    ticket_types: int = 3
    activity_logs: int = 60
    # Serve what real workspaces send besides what the description promises (see
    # testbed.intercom.drift): every kind of reality messiness checks this one flag.
    drift: bool = False
    # Endpoints answered with a refusal: path (and everything under it) -> Intercom's
    # error code (drift.REFUSAL_ERRORS). Under `drift`, drift.DRIFT_REFUSALS apply too.
    refusals: dict[str, str] = field(default_factory=dict)
    faults: FaultSettings = field(default_factory=FaultSettings)

    def effective_refusals(self) -> dict[str, str]:
        """The refusals in force: drift's defaults, then the explicit ones."""
        return {**(DRIFT_REFUSALS if self.drift else {}), **self.refusals}

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (not isinstance(value, int) or value < 0):
                raise ValueError(f"sandbox option {f.name} must be an integer >= 0, got {value!r}")
        if self.teams < 1 or self.admins < 1 or self.ticket_types < 1 or self.newsfeeds < 1:
            raise ValueError("sandbox needs at least one admin, team, ticket type and newsfeed")
        if self.big_conversations > self.conversations:
            raise ValueError("big_conversations cannot exceed conversations")
        if self.deleted_conversations > self.conversations:
            raise ValueError("deleted_conversations cannot exceed conversations")
        if not isinstance(self.drift, bool):
            raise ValueError("sandbox option drift must be true or false")
        if None in check_refusals(self.refusals).values():
            raise ValueError("sandbox option refusals: every path needs an error code")
