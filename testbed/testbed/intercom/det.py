"""Deterministic randomness and invertible ids: every record is a pure function of (seed, index)."""

from __future__ import annotations

import random
import zlib

MASK64 = (1 << 64) - 1


def mix64(x: int) -> int:
    """SplitMix64's step: a well-mixed 64-bit value from any 64-bit value."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def stable_hash(*parts: int | str) -> int:
    """A 64-bit hash of ints and strings that is the same in every process (unlike hash())."""
    h = 0x5EED
    for part in parts:
        value = zlib.crc32(part.encode()) if isinstance(part, str) else part
        h = mix64(h ^ (value & MASK64))
    return h


def rng(*parts: int | str) -> random.Random:
    """A private random generator for one record (or one purpose)."""
    return random.Random(stable_hash(*parts))


class IdCodec:
    """Maps index <-> id string through a keyed permutation, so ids look random yet need no table.

    `hex` ids look like Intercom's 24-hex object ids; `numeric` ids like its integer ids.
    """

    def __init__(self, seed: int, kind: str, style: str) -> None:
        self.style = style
        self.bits = 64 if style == "hex" else 30
        mask = (1 << self.bits) - 1
        self._mask = mask
        self._key = stable_hash(seed, kind, "key") & mask
        self._mult = (stable_hash(seed, kind, "mult") | 1) & mask
        self._inverse = pow(self._mult, -1, 1 << self.bits)
        self._prefix = f"6{stable_hash(seed, kind, 'prefix') & 0xFFFFFFF:07x}"
        self._offset = 1_000_000_000 + (stable_hash(seed, kind, "offset") % 7) * 100_000_000

    def encode(self, index: int) -> str:
        scrambled = ((index ^ self._key) * self._mult) & self._mask
        if self.style == "hex":
            return f"{self._prefix}{scrambled:016x}"
        return str(self._offset + scrambled)

    def decode(self, ident: str) -> int | None:
        """The index of an id, or None when the string is not an id of this kind."""
        try:
            if self.style == "hex":
                if len(ident) != 24 or not ident.startswith(self._prefix):
                    return None
                scrambled = int(ident[8:], 16)
            else:
                if not ident.isdigit():
                    return None
                scrambled = int(ident) - self._offset
                if not 0 <= scrambled <= self._mask:
                    return None
        except ValueError:
            return None
        return ((scrambled * self._inverse) & self._mask) ^ self._key
