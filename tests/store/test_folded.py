"""Broker messages folded into windows are recorded with them (``save_windows(folded=...)``), on every
backend: a second writer's save that would record a message again saves nothing; so does one that would
record a message whose idempotency key is recorded already for its model with the same digest (a retry
published after the broker's duplicate window)."""

from __future__ import annotations

import pytest

from vigil.store import Store
from vigil.store.base import AlreadyFolded, KeyedBatch, StreamKey, StreamRanges, WindowRow


def _row(writer: str, events: int) -> WindowRow:
    return WindowRow("m", "v1", 60, 3600, writer, events, f"{writer}:{events}".encode())


def test_ranges_are_saved_with_the_windows_and_read_back(store: Store) -> None:
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 3), (7, 7))))
    assert store.folded_seqs("s", [1, 2, 3, 4, 5, 6, 7, 8]) == {1, 2, 3, 7}
    assert store.folded_seqs("other", [1, 2]) == set()
    assert store.folded_seqs("s", []) == set()


def test_an_overlapping_save_of_another_writer_saves_nothing(store: Store) -> None:
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 3),)))
    with pytest.raises(AlreadyFolded) as caught:
        store.save_windows("w2", [_row("w2", 9)], 4, folded=StreamRanges("s", ((3, 5),)))
    assert caught.value.seqs == {3}
    assert [r.writer for r in store.windows("m", 60, 0, 10_000)] == ["w1"]  # w2's window not saved
    assert store.checkpoint("w2") == 0
    assert store.folded_seqs("s", [4, 5]) == set()


def test_the_same_save_again_is_a_retried_commit(store: Store) -> None:
    for _ in range(2):
        store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 3),)))
    assert store.folded_seqs("s", [1, 2, 3]) == {1, 2, 3}


def test_ranges_below_what_the_stream_holds_are_forgotten(store: Store) -> None:
    store.save_windows("w1", [], 0, folded=StreamRanges("s", ((1, 3), (5, 9))))
    assert store.forget_folded("s", 5) == 1
    assert store.folded_seqs("s", list(range(1, 10))) == {5, 6, 7, 8, 9}


def _key(seq: int, digest: bytes | None = b"d1", key: str = "k", model: str = "m") -> StreamKey:
    return StreamKey(key, model, digest, seq, 10, 100.0 + seq)


def test_keys_are_recorded_with_the_ranges_where_appended_keys_are(store: Store) -> None:
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 2),), (_key(2),)))
    assert store.keyed_batches("k") == [KeyedBatch("m", 2, 10, b"d1", 102.0, "s")]
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 2),), (_key(2),)))  # retried
    assert store.forget_keys("m", before=103.0) == 1  # forgotten with the predictions, as appended ones


def test_a_retry_of_a_recorded_key_saves_nothing(store: Store) -> None:
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 1),), (_key(1),)))
    appended = store.append("w", "m", 3, b"a", 1.0, key="direct", digest=b"d2")
    for folded, retries in [
        (StreamRanges("s", ((7, 9),), (_key(7, b"d1"), _key(9, b"d2", "direct"))), {7, 9}),
        (StreamRanges("s", ((7, 7),), (_key(7, None),)), {7}),  # a key without digest: the same request
        (StreamRanges("s", ((7, 8),), (_key(7, key="new"), _key(8, key="new"))), {8}),  # twice in one save
    ]:
        with pytest.raises(AlreadyFolded) as caught:
            store.save_windows("w2", [_row("w2", 9)], 0, folded=folded)
        assert caught.value.seqs == retries
        assert [r.writer for r in store.windows("m", 60, 0, 10_000)] == ["w1"]  # nothing of w2 saved
        assert store.folded_seqs("s", [7, 8, 9]) == set() and store.keyed_batches("new") == []
    assert [(b.seq, b.stream) for b in store.keyed_batches("direct")] == [(appended, None)]


def test_a_key_reused_with_another_body_is_saved_and_left_as_it_was(store: Store) -> None:
    store.save_windows("w1", [_row("w1", 5)], 0, folded=StreamRanges("s", ((1, 1),), (_key(1),)))
    other = StreamRanges("s", ((2, 3),), (_key(2, b"other"), _key(3, b"d1", "m2", model="other")))
    store.save_windows("w2", [_row("w2", 9)], 0, folded=other)  # another model's part is its own
    assert store.folded_seqs("s", [2, 3]) == {2, 3}
    assert [(b.seq, b.digest) for b in store.keyed_batches("k")] == [(1, b"d1")]
    assert [(b.model, b.seq) for b in store.keyed_batches("m2")] == [("other", 3)]
