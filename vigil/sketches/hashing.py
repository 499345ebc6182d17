"""64-bit hashes of whole columns, vectorised: the input of distinct counts and duplicate-row detection.

Numbers are hashed by their float64 bits through the SplitMix64 finaliser (Steele, Lea & Flood 2014), a
bijection with full avalanche, so distinct values give distinct hashes. Strings get SipHash-2-4 of their
UTF-8 bytes with a fixed key, then the same finaliser: the values of pandas' ``hash_array`` (which profiles
kept in stores were made with), computed over Arrow's buffers for all strings at once, so that pandas need
not be imported. ``-0.0`` is folded into ``0.0``; the caller decides what a null hashes to.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NULL_HASH", "combine", "count_duplicates", "finish", "hash_floats", "hash_strings"]

U64 = npt.NDArray[np.uint64]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ROW = np.uint64(0x9E3779B97F4A7C15)
NULL_HASH = np.uint64(0x6A09E667F3BCC909)


def _mix(v: U64) -> U64:
    v = v ^ (v >> np.uint64(30))
    v = v * _M1
    v = v ^ (v >> np.uint64(27))
    v = v * _M2
    return v ^ (v >> np.uint64(31))


def hash_floats(values: npt.NDArray[np.float64]) -> U64:
    """SplitMix64 of each value's bits (``-0.0`` hashes as ``0.0``)."""
    v = np.ascontiguousarray(values, dtype=np.float64) + 0.0
    with np.errstate(over="ignore"):
        return _mix(v.view(np.uint64))


def hash_strings(values: pa.Array | pa.ChunkedArray | npt.ArrayLike) -> U64:
    """A stable 64-bit hash per string: pandas' ``hash_array(values, categorize=False)`` exactly (SipHash-2-4
    with the key ``"0123456789123456"``, then the SplitMix64 finaliser). Nulls hash as the text ``"None"``,
    as there."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    strings = pc.fill_null(pc.cast(values, pa.large_string()), "None")
    with np.errstate(over="ignore"):
        return _mix(_siphash24(strings))


_K0, _K1 = np.frombuffer(b"0123456789123456", dtype="<u8").astype(np.uint64)


def _rotl(x: U64, b: int) -> U64:
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


def _rounds(v: list[U64], times: int) -> None:
    """SipRound ``times`` times, in place on the four state vectors (views of the active strings)."""
    v0, v1, v2, v3 = v
    for _ in range(times):
        v0 += v1
        v1[...] = _rotl(v1, 13)
        v1 ^= v0
        v0[...] = _rotl(v0, 32)
        v2 += v3
        v3[...] = _rotl(v3, 16)
        v3 ^= v2
        v0 += v3
        v3[...] = _rotl(v3, 21)
        v3 ^= v0
        v2 += v1
        v1[...] = _rotl(v1, 17)
        v1 ^= v2
        v2[...] = _rotl(v2, 32)


def _words(aligned: U64, at: npt.NDArray[np.int64]) -> U64:
    """The little-endian 64-bit words starting at each byte offset ``at``, from the data's aligned words
    (padded by one): the high bytes of one aligned word and the low bytes of the next."""
    q, r = np.divmod(at, 8)
    shift = (r * 8).astype(np.uint64)
    low = aligned[q] >> shift
    high = np.where(r > 0, aligned[q + 1] << ((np.uint64(64) - shift) & np.uint64(63)), np.uint64(0))
    return low | high


def _siphash24(strings: pa.LargeStringArray) -> U64:
    """SipHash-2-4 of every string's bytes, all strings at once: block ``j`` of every string that has one is
    absorbed in the same numpy operations (strings sorted by length, so those still going are a prefix)."""
    n = len(strings)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    _, offsets_buf, data_buf = strings.buffers()
    offsets = np.frombuffer(offsets_buf, dtype="<i8", count=n + 1, offset=strings.offset * 8).astype(np.int64)
    raw = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    size = int(offsets[-1])
    data = np.zeros((size // 8 + 2) * 8, np.uint8)
    data[:size] = raw[:size]
    aligned = data.view("<u8").astype(np.uint64)
    starts, lengths = offsets[:-1], np.diff(offsets)
    blocks = lengths // 8
    order = np.argsort(-blocks, kind="stable")
    starts, lengths, blocks = starts[order], lengths[order], blocks[order]
    v = [
        np.full(n, _K0 ^ np.uint64(0x736F6D6570736575)),
        np.full(n, _K1 ^ np.uint64(0x646F72616E646F6D)),
        np.full(n, _K0 ^ np.uint64(0x6C7967656E657261)),
        np.full(n, _K1 ^ np.uint64(0x7465646279746573)),
    ]
    for j in range(int(blocks[0]) if n else 0):
        k = int(np.searchsorted(-blocks, -j, side="left"))  # strings with more than j whole blocks
        m = _words(aligned, starts[:k] + 8 * j)
        active = [x[:k] for x in v]
        active[3] ^= m
        _rounds(active, 2)
        active[0] ^= m
    tail = _words(aligned, starts + 8 * blocks)
    tail &= (np.uint64(1) << (np.uint64(8) * (lengths % 8).astype(np.uint64))) - np.uint64(1)  # its own bytes
    last = tail | ((lengths.astype(np.uint64) & np.uint64(0xFF)) << np.uint64(56))
    v[3] ^= last
    _rounds(v, 2)
    v[0] ^= last
    v[2] ^= np.uint64(0xFF)
    _rounds(v, 4)
    out = np.empty(n, dtype=np.uint64)
    out[order] = v[0] ^ v[1] ^ v[2] ^ v[3]
    return out


def combine(row_hash: U64 | None, column_hash: U64) -> U64:
    """Fold one column's hashes into per-row hashes: ``h * K + c`` (mod 2**64), order-sensitive.

    Column hashes are already well mixed, so a multiply-add per column suffices; ``finish`` mixes once.
    """
    if row_hash is None:
        return column_hash.copy()
    with np.errstate(over="ignore"):
        row_hash *= _ROW
        row_hash += column_hash
    return row_hash


def finish(row_hash: U64) -> U64:
    """The final mix of combined row hashes."""
    with np.errstate(over="ignore"):
        return _mix(row_hash)


def count_duplicates(hashes: U64) -> int:
    """How many entries repeat an earlier one (sort, then compare neighbours)."""
    s = np.sort(hashes)
    return int(np.count_nonzero(s[1:] == s[:-1]))
