"""Broker messages folded into windows are recorded with them (``save_windows(folded=...)``), on every
backend: a second writer's save that would record a message again saves nothing."""

from __future__ import annotations

import pytest

from vigil.store import Store
from vigil.store.base import AlreadyFolded, StreamRanges, WindowRow


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
