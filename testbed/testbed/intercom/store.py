"""The mutable workspace: lazily generated records, the updated_at index, changes and the clock."""

from __future__ import annotations

import bisect
import heapq
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from testbed.intercom import drift
from testbed.intercom.det import rng, stable_hash
from testbed.intercom.lifecycle import UNIT, PartClock
from testbed.intercom.options import SandboxOptions
from testbed.intercom.records import DAY, Generator
from testbed.intercom.search import contact_segment_ids

BIG_KINDS = ("contacts", "companies", "conversations", "tickets")
Key = tuple[int, int]  # (updated_at, index): the total order of a kind's records
UNBOUNDED = 1 << 62


class UpdatedIndex:
    """Records ordered by (updated_at, index) without storing the untouched ones.

    Base records have a formula updated_at that never decreases with the index, so their
    order is the index order and a binary search finds any time. Records changed since
    start leave the base order (`excluded`) and live in a small sorted `tail`.
    """

    def __init__(self, base_count: int, base_updated_at: Callable[[int], int]) -> None:
        self.base_count = base_count
        self.base_updated_at = base_updated_at
        self.excluded: set[int] = set()
        self.tail: list[Key] = []
        self._tail_time: dict[int, int] = {}

    def _base_key(self, i: int) -> Key:
        return (self.base_updated_at(i), i)

    def _base_position(self, key: Key) -> int:
        """The number of base records whose key is < key."""
        return bisect.bisect_left(range(self.base_count), key, key=self._base_key)

    def place(self, i: int, updated_at: int) -> None:
        """Put record i at a new updated_at (added or changed records)."""
        self.drop(i)
        self._tail_time[i] = updated_at
        bisect.insort(self.tail, (updated_at, i))

    def drop(self, i: int) -> None:
        """Take record i out of the order (deleted, or about to be placed again)."""
        if i < self.base_count:
            self.excluded.add(i)
        old = self._tail_time.pop(i, None)
        if old is not None:
            self.tail.remove((old, i))

    def _slice(self, lo_key: Key, hi_key: Key) -> tuple[range, list[Key]]:
        """Base indexes and tail keys with lo_key <= key < hi_key."""
        base = range(self._base_position(lo_key), self._base_position(hi_key))
        tail = self.tail[
            bisect.bisect_left(self.tail, lo_key) : bisect.bisect_left(self.tail, hi_key)
        ]
        return base, tail

    @staticmethod
    def _bounds(low: int | None, high: int | None) -> tuple[Key, Key]:
        return (low if low is not None else -UNBOUNDED, -1), (
            high if high is not None else UNBOUNDED,
            -1,
        )

    def count(self, low: int | None, high: int | None) -> int:
        """Records with low <= updated_at < high (None = unbounded)."""
        base, tail = self._slice(*self._bounds(low, high))
        return len(base) - sum(1 for i in self.excluded if i in base) + len(tail)

    def sample(self, low: int | None, high: int | None, size: int) -> list[int]:
        """About `size` indexes spread evenly over low <= updated_at < high."""
        base, tail = self._slice(*self._bounds(low, high))
        step = max((len(base) + len(tail)) // max(size, 1), 1)
        return [i for i in base[::step] if i not in self.excluded] + [i for _, i in tail[::step]]

    def iterate(
        self, low: int | None, high: int | None, descending: bool, after: Key | None
    ) -> Iterator[Key]:
        """Keys with low <= updated_at < high, in order, strictly beyond the cursor `after`."""
        lo_key, hi_key = self._bounds(low, high)
        if after is not None:
            if descending:
                hi_key = min(hi_key, after)
            else:
                lo_key = max(lo_key, (after[0], after[1] + 1))
        base, tail = self._slice(lo_key, hi_key)
        keys = (
            self._base_key(i)
            for i in (reversed(base) if descending else base)
            if i not in self.excluded
        )
        if descending:
            return heapq.merge(keys, reversed(tail), reverse=True)
        return heapq.merge(keys, tail)


class Kind:
    """One big kind (contacts, companies, conversations, tickets): its records and changes."""

    def __init__(self, name: str, generator: Generator, base_count: int) -> None:
        self.name = name
        self.gen = generator
        self.base_count = base_count
        self.count = base_count
        self.codec = generator.codecs[name]
        self.index = UpdatedIndex(base_count, lambda i: generator.base_updated_at(i, base_count))
        self.created: dict[int, int] = {}  # records added since start: index -> created_at
        self.updated: dict[int, int] = {}  # records changed since start: index -> updated_at
        self.edits: dict[int, dict[str, Any]] = {}  # field overrides from changes
        self.extra_parts: dict[int, list[int]] = {}  # parts added since start: their times
        # tickets: the numbers of the parts `update` appended (admins' state updates)
        self.state_updates: dict[int, set[int]] = {}
        self.deleted: dict[int, int] = {}  # index -> deleted_at (contacts: merged ones too)
        # contacts: merge target index -> [(merged source index, merged_at)], oldest first
        self.merged_into: dict[int, list[tuple[int, int]]] = {}

    def exists(self, i: int | None) -> bool:
        return i is not None and 0 <= i < self.count and i not in self.deleted

    def lookup(self, ident: str) -> int | None:
        i = self.codec.decode(ident)
        return i if self.exists(i) else None

    def first_updated_at(self, i: int) -> int:
        """updated_at before any change: by formula, or the creation time of added records."""
        return self.created.get(i) or self.gen.base_updated_at(i, self.base_count)

    def times(self, i: int) -> tuple[int, int]:
        """(created_at, updated_at) of record i."""
        first = self.first_updated_at(i)
        if i in self.created:
            created = first
        else:
            age = min(first - self.gen.start, 60 * DAY)
            if self.name in ("conversations", "tickets"):
                # From the first message to the last base part: most conversations and
                # tickets settle within hours or days, a few take weeks; the big
                # conversations (over 500 parts) run for weeks.
                o = self.gen.o
                big = self.name == "conversations" and self.gen.is_big(
                    i, self.base_count, o.big_conversations
                )
                u = stable_hash(self.gen.seed, "created", self.name, i) * UNIT
                created = first - int(age * u ** (1 if big else 4))
            else:
                created = first - rng(self.gen.seed, "created", self.name, i).randrange(age + 1)
        return created, self.updated.get(i, first)

    def base_part_count(self, i: int) -> int:
        return self.gen.base_part_count(self.name, i, self.base_count, self.gen.o.big_conversations)

    def parts(self, i: int, created: int) -> PartClock:
        """Record i's parts (`created`: its created_at): the base ones up to its first
        updated_at, then those appended at the times of their changes."""
        extra = self.extra_parts.get(i, [])
        last = self.first_updated_at(i)
        base = self.base_part_count(i)
        return PartClock(self.gen.seed, self.name, i, created, last, base, extra)

    def record(self, i: int, full: bool = False) -> dict[str, Any]:
        """Record i as the API serves it; `full` adds the parts (per-item GET form)."""
        record = self._build(i, full)
        if self.gen.o.drift:
            drift.apply(self.name, record, self.gen.seed)
        return record

    def drift_sites(self, i: int) -> list[drift.Site]:
        """The values `--drift` changes in record i (and in its parts)."""
        if not self.gen.o.drift:
            return []
        return drift.apply(self.name, self._build(i, full=True), self.gen.seed)

    def _build(self, i: int, full: bool) -> dict[str, Any]:
        created, updated = self.times(i)
        if self.name == "contacts":
            record = self.gen.contact(i, created, updated)
        elif self.name == "companies":
            record = self.gen.company(i, created, updated)
        elif self.name == "conversations":
            record = self.gen.conversation(i, created, updated, self.parts(i, created), full)
        else:
            updates = frozenset(self.state_updates.get(i, ()))
            clock = self.parts(i, created)
            record = self.gen.ticket(i, created, updated, clock, full, updates)
        record.update(self.edits.get(i, {}))
        return record

    def live_indexes(self) -> Iterator[int]:
        return (i for i in range(self.count) if i not in self.deleted)

    def live_count(self) -> int:
        return self.count - len(self.deleted)

    def live_slice(self, start: int, stop: int) -> list[int]:
        """The live indexes at positions start..stop-1 of the live ones in index order,
        found without walking the records before them."""
        dead = sorted(self.deleted)
        i = start  # the smallest index with `start` live indexes before it
        while True:
            shifted = start + bisect.bisect_right(dead, i)
            if shifted == i:
                break
            i = shifted
        found: list[int] = []
        while len(found) < stop - start and i < self.count:
            if i not in self.deleted:
                found.append(i)
            i += 1
        return found

    def delete(self, i: int, at: int) -> None:
        self.deleted[i] = at
        self.index.drop(i)

    def touch(self, i: int, at: int) -> None:
        self.updated[i] = at
        self.index.place(i, at)


class Workspace:
    """All data of one sandbox, guarded by one lock; time is the wall clock plus an offset."""

    def __init__(self, options: SandboxOptions) -> None:
        options.validate()
        self.options = options
        self.lock = threading.RLock()
        self.offset = 0.0
        anchor = options.anchor if options.anchor is not None else int(time.time()) // DAY * DAY
        if anchor > time.time() + 1:
            raise ValueError("sandbox anchor must not be in the future")
        self.gen = Generator(options, anchor)
        self.kinds = {name: Kind(name, self.gen, getattr(options, name)) for name in BIG_KINDS}
        self.version = 0  # bumped by every change; keys the search count cache
        self._segment_counts: tuple[int, dict[str, int]] = (-1, {})
        self._changes = 0
        self._predelete_conversations()
        if options.drift:
            self._predelete_people()

    def _predelete_conversations(self) -> None:
        conversations = self.kinds["conversations"]
        wanted = self.options.deleted_conversations
        if not wanted:
            return
        step = max(conversations.base_count // wanted, 1)
        for k in range(wanted):
            i = min(k * step + step // 2, conversations.base_count - 1)
            while (
                self.gen.base_part_count(
                    "conversations", i, conversations.base_count, self.options.big_conversations
                )
                > 100
            ):
                i += 1  # keep the big conversations alive: they are there to be fetched
            conversations.delete(i, self.gen.anchor - (k + 1) * 3600)

    def _predelete_people(self) -> None:
        """Drift: before the anchor, a few contacts were deleted, a few leads merged into
        users, and a few companies archived (one in 50 of each, at least one)."""
        contacts, companies = self.kinds["contacts"], self.kinds["companies"]
        r = rng(self.gen.seed, "predelete-people")
        for k, i in enumerate(range(7, contacts.base_count, 50)):
            at = self.gen.anchor - (k + 1) * 1800
            if self.gen.contact_role(i) == "user":
                contacts.delete(i, at)
                continue
            users = [j for j in r.sample(range(contacts.base_count), 20) if self._mergeable_into(j)]
            if users and users[0] != i:
                self._merge(contacts, i, users[0], max(at, contacts.times(users[0])[0]))
        for k, i in enumerate(range(3, companies.base_count, 50)):
            companies.delete(i, self.gen.anchor - (k + 1) * 2400)

    def _mergeable_into(self, i: int) -> bool:
        contacts = self.kinds["contacts"]
        return contacts.exists(i) and self.gen.contact_role(i) == "user"

    def _merge(self, contacts: Kind, source: int, target: int, at: int) -> None:
        """Merge lead `source` into user `target`: the lead is gone (404, out of search and
        lists); the user is updated and lists the lead in its merge history."""
        contacts.delete(source, at)
        contacts.merged_into.setdefault(target, []).append((source, at))
        _, updated = contacts.times(target)
        contacts.touch(target, max(at, updated))

    def now(self) -> int:
        return int(time.time() + self.offset)

    def segment_counts(self) -> dict[str, int]:
        """Live members per segment id (`include_count=true`), counted once per version."""
        with self.lock:
            if self._segment_counts[0] == self.version:
                return self._segment_counts[1]
            gen = self.gen
            counts = {s["id"]: 0 for s in gen.segments + gen.company_segment_list}
            contacts = self.kinds["contacts"]
            person_segments = [s["id"] for s in gen.segments]
            for i in contacts.live_indexes():
                for segment in contact_segment_ids(
                    gen.seed, person_segments, contacts.codec.encode(i)
                ):
                    counts[segment] += 1
            for i in self.kinds["companies"].live_indexes():
                for company_segment in gen.company_segments_of(i):
                    counts[company_segment["id"]] += 1
            self._segment_counts = (self.version, counts)
            return counts

    def advance_clock(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self.lock:
            self.offset += seconds
            self.version += 1
            return self.now()

    def visible_in_search(self, kind: str, i: int, now: int) -> bool:
        """New contacts reach the search index only after `search_lag_seconds`."""
        lag = self.options.faults.search_lag_seconds
        created = self.kinds[kind].created.get(i)
        return not (kind == "contacts" and lag and created is not None and created > now - lag)

    # ----- changes ---------------------------------------------------------------------------
    ACTIONS = {
        "contacts": ("add", "update", "delete", "merge"),
        "companies": ("add", "update", "archive"),
        "conversations": ("add", "update", "add_parts", "delete"),
        "tickets": ("add", "update", "add_parts"),
    }

    def change(self, kind: str, action: str, count: int, ids: list[str] | None = None) -> list[str]:
        """Apply one change to `count` records (or the given ids); returns the affected ids."""
        if kind not in self.ACTIONS:
            raise ValueError(f"unknown kind {kind!r}; known: {sorted(self.ACTIONS)}")
        if action not in self.ACTIONS[kind]:
            raise ValueError(f"{kind} accept actions {list(self.ACTIONS[kind])}, not {action!r}")
        if not isinstance(count, int) or count < 0:
            raise ValueError("count must be an integer >= 0")
        with self.lock:
            store = self.kinds[kind]
            now = self.now()
            self._changes += 1
            self.version += 1
            r = rng(self.gen.seed, "change", self._changes)
            if action == "add":
                targets = list(range(store.count, store.count + count))
                store.count += count
                for i in targets:
                    store.created[i] = now
                    store.index.place(i, now)
                return [store.codec.encode(i) for i in targets]
            if action == "merge":
                return self._merge_leads(store, count, ids, r, now)
            targets = self._targets(store, count, ids, r)
            for i in targets:
                if action in ("delete", "archive"):
                    store.delete(i, now)
                    continue
                if action == "add_parts" or kind == "tickets":
                    # A ticket's update is an admin's state update: a part of its own.
                    if action == "update":
                        count = store.base_part_count(i) + len(store.extra_parts.get(i, []))
                        store.state_updates.setdefault(i, set()).add(count)
                    store.extra_parts.setdefault(i, []).append(now)
                else:
                    store.edits.setdefault(i, {}).update(self._edit(store, i, r))
                store.touch(i, now)
            return [store.codec.encode(i) for i in targets]

    def _merge_leads(
        self, store: Kind, count: int, ids: list[str] | None, r: Any, now: int
    ) -> list[str]:
        """Merge `count` leads (or the given ones) each into a random user."""
        leads = self._targets(store, count, ids, r, lambda i: self.gen.contact_role(i) == "lead")
        for source in leads:
            target = self._targets(store, 1, None, r, self._mergeable_into)[0]
            self._merge(store, source, target, now)
        return [store.codec.encode(i) for i in leads]

    def _targets(
        self,
        store: Kind,
        count: int,
        ids: list[str] | None,
        r: Any,
        accept: Callable[[int], bool] = lambda i: True,
    ) -> list[int]:
        if ids is not None:
            found = [store.lookup(str(ident)) for ident in ids]
            missing = [ident for ident, i in zip(ids, found, strict=True) if i is None]
            if missing:
                raise ValueError(f"unknown {store.name} ids: {missing}")
            refused = [
                ident
                for ident, i in zip(ids, found, strict=True)
                if i is not None and not accept(i)
            ]
            if refused:
                raise ValueError(f"{store.name} {refused} cannot take this change")
            return [i for i in found if i is not None]
        live = store.live_count()
        if count > live:
            raise ValueError(f"only {live} {store.name} exist, cannot change {count}")
        picked: list[int] = []
        seen: set[int] = set()
        while len(picked) < count:
            if len(seen) >= live:
                raise ValueError(f"fewer than {count} {store.name} can take this change")
            i = r.randrange(store.count)
            if i not in seen and i not in store.deleted:
                seen.add(i)
                if accept(i):
                    picked.append(i)
        return picked

    def _edit(self, store: Kind, i: int, r: Any) -> dict[str, Any]:
        """The field changes of an `update` of a contact, company or conversation: visible
        differences a sync must carry over (none of a conversation's parts or what
        follows from them)."""
        current = store.record(i)
        revision = self._changes
        if store.name == "contacts":
            return {
                "name": f"Renamed Contact {revision}",
                "custom_attributes": {**current["custom_attributes"], "seats": r.randrange(1, 500)},
            }
        if store.name == "companies":
            return {
                "name": f"{current['name'].split(' (')[0]} (rev {revision})",
                "monthly_spend": r.randrange(0, 20000),
            }
        return {
            "read": not current["read"],
            "title": f"Updated conversation {revision}",
            "priority": "priority" if current["priority"] == "not_priority" else "not_priority",
        }
