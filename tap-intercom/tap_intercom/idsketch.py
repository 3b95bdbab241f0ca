"""Which ids disappeared between two complete listings, from a small sketch kept in state.

A workspace's id set (a million contacts: 24 MB of ids) is too big for a Singer state,
and a local file does not survive a container or a `meltano` state backend. What must be
kept is not the set but enough to name the few ids that left it: an invertible Bloom
lookup table (Goodrich and Mitzenmacher, 2011). Each id is added to one cell in each of
`HASHES` sub-tables: the cell counts ids and XORs their bytes and a checksum. Subtracting
the sketch of this listing from the last one leaves only the ids in one set but not the
other; "peeling" cells holding exactly one of them names every such id as long as there
are fewer than about `len(cells) / 1.3`. The sketch is a fixed size whatever the set's
size: 36 bytes per cell, and 2 cells per id to name, so naming up to 1,000 ids gone since
the last listing costs about 80 KB of state (the table is random, it does not compress).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

HASHES = 3
#: Longest id the sketch can carry (Intercom's are 24 hex characters or short numbers).
KEY_BYTES = 24
_CELL = struct.Struct(f"<i{KEY_BYTES}sQ")
_TWO_WORDS = struct.Struct("<QQ")
# An empty 16-byte blake2b: a copy of it hashes an id in half the time of a new one
# (the constructor parses its keyword arguments on every call).
_EMPTY_HASH = hashlib.blake2b(digest_size=16)
#: Cells per id that the sketch must be able to name (peeling needs about 1.23; small
#: tables need more).
CELLS_PER_ID = 2.0
MIN_CELLS = 60


def cells_for(capacity: int) -> int:
    """Cells (a multiple of HASHES) of a sketch that names up to `capacity` ids."""
    wanted = max(int(capacity * CELLS_PER_ID), MIN_CELLS)
    return -(-wanted // HASHES) * HASHES


#: An id as the sketch stores it: its bytes as an integer, its checksum, a position seed.
Digest = tuple[int, int, int]


def digest(ident: str) -> Digest:
    """What the sketch stores of `ident` (computed once, added to several sketches)."""
    key = ident.encode()
    if len(key) > KEY_BYTES or key.endswith(b"\0"):
        raise ValueError(f"id {ident!r} cannot be carried by the id sketch")
    hasher = _EMPTY_HASH.copy()
    hasher.update(key)
    check, seed = _TWO_WORDS.unpack(hasher.digest())
    return int.from_bytes(key, "little"), check, seed


@dataclass
class Difference:
    """What subtracting one sketch from another named."""

    #: In the first set only (gone, when the first is the older listing).
    removed: list[str] = field(default_factory=list)
    #: In the second set only.
    added: list[str] = field(default_factory=list)
    #: False when more ids differed than the sketch can name: the lists are partial.
    complete: bool = True
    #: Cells still holding ids that could not be named.
    undecoded_cells: int = 0


class IdSketch:
    """A set of ids as a fixed-size invertible Bloom lookup table."""

    def __init__(self, cells: int) -> None:
        if cells <= 0 or cells % HASHES:
            raise ValueError(f"an id sketch needs a positive multiple of {HASHES} cells")
        self.counts = [0] * cells
        self.keys = [0] * cells
        self.checks = [0] * cells

    def __len__(self) -> int:
        return len(self.counts)

    def _positions(self, seed: int) -> list[int]:
        width = len(self.counts) // HASHES
        return [n * width + (seed >> (n * 20)) % width for n in range(HASHES)]

    def add(self, ident: str | Digest) -> None:
        """Put an id (or its `digest`) in the set; an id must be added at most once."""
        self.add_all([digest(ident) if isinstance(ident, str) else ident])

    def add_all(self, digests: Iterable[Digest]) -> None:
        """Put ids (their `digest`s) in the set, each at most once."""
        self._apply(digests, 1)

    def _apply(self, digests: Iterable[Digest], sign: int) -> None:
        # `_positions` inlined and unrolled (HASHES is 3): this runs for every id of
        # every listing.
        counts, keys, checks = self.counts, self.keys, self.checks
        width = len(counts) // HASHES
        second, third = width, 2 * width
        for key, check, seed in digests:
            position = seed % width
            counts[position] += sign
            keys[position] ^= key
            checks[position] ^= check
            position = second + (seed >> 20) % width
            counts[position] += sign
            keys[position] ^= key
            checks[position] ^= check
            position = third + (seed >> 40) % width
            counts[position] += sign
            keys[position] ^= key
            checks[position] ^= check

    def difference(self, newer: IdSketch) -> Difference:
        """The ids in this sketch's set but not in `newer`'s, and the reverse."""
        if len(newer) != len(self):
            raise ValueError("id sketches of different sizes cannot be compared")
        counts = [a - b for a, b in zip(self.counts, newer.counts, strict=True)]
        keys = [a ^ b for a, b in zip(self.keys, newer.keys, strict=True)]
        checks = [a ^ b for a, b in zip(self.checks, newer.checks, strict=True)]
        peeled = IdSketch.__new__(IdSketch)
        peeled.counts, peeled.keys, peeled.checks = counts, keys, checks
        return peeled._peel()

    def _peel(self) -> Difference:
        result = Difference()
        pending = list(range(len(self.counts)))
        while pending:
            position = pending.pop()
            count = self.counts[position]
            if count not in (1, -1):
                continue
            key_bytes = self.keys[position].to_bytes(KEY_BYTES, "little")
            try:
                ident = key_bytes.rstrip(b"\0").decode()
                key, check, seed = digest(ident)
            except (UnicodeDecodeError, ValueError):
                continue
            if check != self.checks[position]:
                continue  # several ids whose counts cancel out, not a pure cell
            (result.removed if count == 1 else result.added).append(ident)
            positions = self._positions(seed)
            self._apply([(key, check, seed)], -count)
            pending.extend(positions)
        left = sum(1 for n, c in enumerate(self.counts) if c or self.keys[n] or self.checks[n])
        result.undecoded_cells = left
        result.complete = left == 0
        return result

    def to_text(self) -> str:
        """A compact string for the state."""
        packed = b"".join(
            _CELL.pack(count, key.to_bytes(KEY_BYTES, "little"), check)
            for count, key, check in zip(self.counts, self.keys, self.checks, strict=True)
        )
        return base64.b64encode(zlib.compress(packed, 9)).decode()

    @classmethod
    def from_text(cls, text: str) -> IdSketch:
        """The sketch `to_text` wrote; ValueError if it is not one."""
        try:
            packed = zlib.decompress(base64.b64decode(text, validate=True))
        except (ValueError, zlib.error) as error:
            raise ValueError(f"not an id sketch: {error}") from None
        if not packed or len(packed) % _CELL.size or (len(packed) // _CELL.size) % HASHES:
            raise ValueError("not an id sketch: wrong length")
        sketch = cls(len(packed) // _CELL.size)
        for n, (count, key, check) in enumerate(_CELL.iter_unpack(packed)):
            sketch.counts[n] = count
            sketch.keys[n] = int.from_bytes(key, "little")
            sketch.checks[n] = check
        return sketch
