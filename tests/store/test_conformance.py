"""The store conformance suite: what every backend must do, run against each (see conftest)."""

from __future__ import annotations

import sqlite3

import pytest

from vigil.store import open_store
from vigil.store.base import (
    ApiKeyRecord,
    ContentRow,
    FeedbackRow,
    HeldBatch,
    HostRow,
    KeyedBatch,
    LabelRow,
    ModelRecord,
    PredictionBatch,
    Store,
    WindowRow,
)
from vigil.store.migrations.sqlite import MIGRATIONS as _MIGRATIONS

_KEYS_MIGRATION = next(i + 1 for i, sql in enumerate(_MIGRATIONS) if "CREATE TABLE ingest_keys" in sql)
"""The migration that brought ``ingest_keys``."""
_LATER_TABLES = ("api_keys", "secrets")
"""The tables of the migrations after it."""


def _window(
    start: int, writer: str = "w1", version: str = "v1", events: int = 1, res: int = 60, model: str = "m"
) -> WindowRow:
    return WindowRow(model, version, res, start, writer, events, f"{writer}:{start}:{events}".encode())


def test_registry_upserts_and_deletes(store: Store) -> None:
    store.put_model(ModelRecord("b", '{"task": "binary"}', "config", 1.0))
    store.put_model(ModelRecord("a", "{}", "api", 2.0))
    store.put_model(ModelRecord("b", '{"task": "regression"}', "config", 3.0))
    assert [(m.name, m.spec, m.source) for m in store.models()] == [
        ("a", "{}", "api"),
        ("b", '{"task": "regression"}', "config"),
    ]
    store.delete_model("a")
    assert [m.name for m in store.models()] == ["b"]


def test_log_appends_in_order_per_writer(store: Store) -> None:
    seqs = [
        store.append("w1", "m", 10, b"one", 100.0),
        store.append("w2", "m", 5, b"x", 101.0),
        store.append("w1", "m", 20, bytes(range(256)), 102.0),
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    w1 = store.read_log("w1", 0)
    assert [(e.seq, e.rows, e.payload) for e in w1] == [
        (seqs[0], 10, b"one"),
        (seqs[2], 20, bytes(range(256))),
    ]
    assert [e.seq for e in store.read_log("w1", seqs[0])] == [seqs[2]]
    assert len(store.read_log("w1", 0, limit=1)) == 1
    assert store.read_log("nobody", 0) == []


def test_windows_and_checkpoint_are_saved_together(store: Store) -> None:
    assert store.checkpoint("w1") == 0
    store.save_windows("w1", [_window(0), _window(60)], checkpoint=7)
    assert store.checkpoint("w1") == 7 and store.checkpoint("w2") == 0
    store.save_windows("w1", [_window(60, events=5)], checkpoint=9)  # upsert: same key, new state
    store.save_windows("w2", [_window(60, writer="w2", events=3)], checkpoint=4)
    rows = store.windows("m", 60, 0, 120)
    assert [(r.start, r.writer, r.events) for r in rows] == [(0, "w1", 1), (60, "w1", 5), (60, "w2", 3)]
    assert rows[1].state == b"w1:60:5"
    assert store.checkpoint("w1") == 9
    assert store.windows("m", 60, 60, 61) == rows[1:]
    assert store.windows("m", 3600, 0, 1e12) == []
    assert store.windows("other", 60, 0, 1e12) == []


def test_window_versions_filter(store: Store) -> None:
    store.save_windows("w", [_window(0, version="v1"), _window(0, version="v2")], checkpoint=1)
    assert [r.version for r in store.windows("m", 60, 0, 60, version="v2")] == ["v2"]
    assert len(store.windows("m", 60, 0, 60)) == 2
    assert [c.version for c in store.window_counts("m", 60, 0, 60, version="v2")] == ["v2"]


def test_window_counts_are_the_rows_without_their_states(store: Store) -> None:
    store.save_windows("w1", [_window(0), _window(60, events=4), _window(3600, res=3600)], checkpoint=1)
    store.save_windows("w2", [_window(60, writer="w2", events=2, version="v2")], checkpoint=1)
    store.save_windows("w1", [_window(0, events=7)], checkpoint=2)  # grown: the count follows
    counts = store.window_counts("m", 60, 0, 120.5)
    rows = store.windows("m", 60, 0, 120.5)
    assert [tuple(c) for c in counts] == [
        (r.version, r.resolution, r.start, r.writer, r.events, r.errors) for r in rows
    ]
    assert [(c.start, c.writer, c.events) for c in counts] == [(0, "w1", 7), (60, "w1", 4), (60, "w2", 2)]
    assert [c.start for c in store.window_counts("m", 3600, 0, 1e12)] == [3600]
    assert store.window_counts("m", 60, 61, 1e12) == [] and store.window_counts("other", 60, 0, 1e12) == []
    assert [c.errors for c in counts] == [None, None, None]  # not given: not known


def test_window_sums_per_period_and_version(store: Store) -> None:
    rows = [WindowRow("m", "v1", 60, 3600 + 60 * i, "w1", i + 1, b"s", errors=i) for i in range(3)] + [
        WindowRow("m", "v1", 60, 7200, "w2", 10, b"s", errors=None),  # an older row: errors not known
        WindowRow("m", "v2", 60, 3660, "w1", 5, b"s", errors=1),
        WindowRow("m", "v1", 3600, 3600, "rollup", 6, b"s", errors=3),  # another resolution
    ]
    store.save_windows("w", rows, checkpoint=1)
    sums = store.window_sums("m", 60, 0, 1e6, 3600)
    assert [tuple(s) for s in sums] == [
        ("v1", 3600, 3, 6, 3),
        ("v2", 3600, 1, 5, 1),
        ("v1", 7200, 1, 10, None),
    ]
    assert [tuple(s) for s in store.window_sums("m", 60, 3660, 7200, 3600, version="v1")] == [
        ("v1", 3600, 2, 5, 3)
    ]
    assert store.window_sums("m", 60, 0, 3600, 3600) == []


def test_windows_keep_their_error_counts(store: Store) -> None:
    row = WindowRow("m", "v1", 60, 0, "w1", 5, b"state", errors=2)
    store.save_windows("w1", [row], checkpoint=1)
    assert store.windows("m", 60, 0, 60) == [row]
    store.save_windows("w1", [WindowRow("m", "v1", 60, 0, "w1", 9, b"grown", errors=3)], checkpoint=2)
    assert [(c.events, c.errors) for c in store.window_counts("m", 60, 0, 60)] == [(9, 3)]


def test_failed_save_changes_nothing(store: Store) -> None:
    store.save_windows("w1", [_window(0)], checkpoint=1)
    bad = WindowRow("m", "v1", 60, 60, "w1", 1, None)  # type: ignore[arg-type]  # state NOT NULL
    with pytest.raises(Exception):  # noqa: B017 -- each backend raises its own driver error
        store.save_windows("w1", [_window(120), bad], checkpoint=2)
    assert store.checkpoint("w1") == 1
    assert [r.start for r in store.windows("m", 60, 0, 1e9)] == [0]


def test_prune_log_and_windows(store: Store) -> None:
    a = store.append("w", "m", 1, b"a", 10.0)
    b = store.append("w", "m", 1, b"b", 20.0)
    store.append("w", "m", 1, b"c", 30.0)
    assert store.prune_log("w", upto=b, before=25.0) == 2
    assert [e.payload for e in store.read_log("w", 0)] == [b"c"]
    assert a < b
    store.save_windows("w", [_window(0), _window(60), _window(120)], checkpoint=3)
    assert store.delete_windows("m", 60, before=100) == 2
    assert [r.start for r in store.windows("m", 60, 0, 1e9)] == [120]


def test_held_batches_are_saved_with_the_checkpoint_and_outlive_the_log_retention(store: Store) -> None:
    a = store.append("w", "gone", 5, b"a", 10.0)
    b = store.append("w", "m", 3, b"b", 11.0)
    c = store.append("w", "m", 2, b"c", 12.0)
    held = [
        HeldBatch(a, "gone", 5, "undeclared", "not declared", 50.0),
        HeldBatch(b, "m", 3, "pending", "", 51.0),
    ]
    store.save_windows("w", [_window(0)], checkpoint=c, hold=held)
    assert store.held("w") == held and store.held("other") == []
    assert store.checkpoint("w") == c
    assert store.prune_log("w", upto=c, before=100.0) == 1  # only c: a and b are held
    assert [e.seq for e in store.read_log("w", 0)] == [a, b]
    store.save_windows("w", [], checkpoint=c, release=[b])  # b was folded at last
    assert store.held("w") == held[:1]
    assert store.prune_log("w", upto=c, before=100.0) == 1
    assert [e.payload for e in store.read_log("w", 0)] == [b"a"]


def test_a_failed_save_holds_nothing(store: Store) -> None:
    bad = WindowRow("m", "v1", 60, 60, "w1", 1, None)  # type: ignore[arg-type]  # state NOT NULL
    with pytest.raises(Exception):  # noqa: B017 -- each backend raises its own driver error
        store.save_windows("w1", [bad], checkpoint=2, hold=[HeldBatch(1, "m", 1, "pending", "", 1.0)])
    assert store.held("w1") == [] and store.checkpoint("w1") == 0


def test_log_entries_and_sequence_numbers(store: Store) -> None:
    seqs = [store.append("w", "m", i + 1, bytes([i]), float(i)) for i in range(5)]
    store.append("other", "m", 1, b"x", 9.0)
    assert store.log_seqs("w", seqs[0], seqs[3]) == seqs[1:4]
    assert store.log_seqs("w", seqs[4], seqs[4] + 100) == []
    got = store.log_entries("w", [seqs[3], seqs[1], 10**9])
    assert [(e.seq, e.rows, e.payload) for e in got] == [(seqs[1], 2, b"\x01"), (seqs[3], 4, b"\x03")]
    assert store.log_entries("w", []) == []
    assert store.log_entries("other", seqs) == []


def test_last_window_start_per_writer(store: Store) -> None:
    assert store.last_window_start("m", 3600, "rollup") is None
    store.save_windows("rollup", [_window(0, "rollup", res=3600), _window(7200, "rollup", res=3600)], 0)
    store.save_windows("w", [_window(10800, "w", res=3600), _window(14400, "w")], 1)
    assert store.last_window_start("m", 3600, "rollup") == 7200
    assert store.last_window_start("m", 3600, "w") == 10800
    assert store.last_window_start("m", 60, "rollup") is None


def test_window_models_are_the_models_with_windows(store: Store) -> None:
    assert store.window_models() == []
    store.save_windows("w", [_window(0, "w", model="b"), _window(60, "w", model="a"), _window(120, "w")], 1)
    assert store.window_models() == sorted({"a", "b", "m"})
    store.delete_windows("b", 60, 1e12)
    assert store.window_models() == ["a", "m"]


def test_a_working_store_passes_its_check(store: Store) -> None:
    store.check()
    store.check(thorough=True)


def test_feedback_latest_per_request_and_name_by_time_and_pruned(store: Store) -> None:
    store.put_feedback(
        [
            FeedbackRow("m", "r1", "thumb", 0.0, "wrong answer", 10.0),
            FeedbackRow("m", "r1", "eval:faithfulness", 0.4, None, 10.5),
            FeedbackRow("m", "r2", "rating", 4.0, None, 11.0),
            FeedbackRow("m", "r1", "thumb", 1.0, "fixed now", 12.0),  # changed their mind: replaces the first
        ]
    )
    store.put_feedback([FeedbackRow("m", "r3", "thumb", 1.0, None, 13.0)])
    store.put_feedback([FeedbackRow("other", "r1", "thumb", 0.0, None, 10.0)])
    got = [(r.request_id, r.name, r.value, r.comment, r.ts) for r in store.feedback("m", 0, 100)]
    assert got == [
        ("r1", "eval:faithfulness", 0.4, None, 10.5),
        ("r2", "rating", 4.0, None, 11.0),
        ("r1", "thumb", 1.0, "fixed now", 12.0),
        ("r3", "thumb", 1.0, None, 13.0),
    ]
    assert [r.request_id for r in store.feedback("m", 11.0, 13.0)] == ["r2", "r1"]  # [start, end)
    store.delete_predictions("m", 12.0)  # retention of predictions takes their feedback with them
    assert [r.ts for r in store.feedback("m", 0, 100)] == [12.0, 13.0]
    assert len(store.feedback("other", 0, 100)) == 1


def test_prediction_batches_and_labels(store: Store) -> None:
    a = PredictionBatch("m", "w1", 1, 10.0, 20.0, 3, b"batch-1")
    b = PredictionBatch("m", "w1", 2, 30.0, 40.0, 2, b"batch-2")
    c = PredictionBatch("m", "w2", 2, 15.0, 16.0, 1, b"other writer")
    for batch in (a, b, c, a):  # storing a batch again (a replay) changes nothing
        store.put_predictions(batch)
    store.put_predictions(PredictionBatch("other", "w1", 3, 0.0, 100.0, 1, b"x"))
    assert store.predictions("m", 0, 100) == [a, b, c] or store.predictions("m", 0, 100) == [a, c, b]
    assert {p.payload for p in store.predictions("m", 18, 25)} == {b"batch-1"}  # overlaps [10, 20]
    assert {p.payload for p in store.predictions("m", 0, 15.5)} == {b"batch-1", b"other writer"}
    assert store.predictions("m", 41, 50) == []
    store.put_labels([LabelRow("m", "r1", "1", 10.0), LabelRow("m", "r2", "0", 11.0)])
    store.put_labels([LabelRow("m", "r1", "0", 12.0)])  # a corrected label replaces the first
    store.put_labels([LabelRow("other", "r1", "9", 12.0)])
    assert [(r.request_id, r.label, r.ts) for r in store.labels("m", 0)] == [
        ("r2", "0", 11.0),
        ("r1", "0", 12.0),
    ]
    assert [r.request_id for r in store.labels("m", 11.5)] == ["r1"]
    columns = store.label_columns("m", 0)  # the same labels, as columns
    assert (columns.request_ids, columns.labels, columns.ts) == (["r2", "r1"], ["0", "0"], [11.0, 12.0])
    assert store.label_columns("m", 11.5).request_ids == ["r1"]
    assert store.delete_predictions("m", before=25.0) == 2  # a and c end before 25; b does not
    assert [p.payload for p in store.predictions("m", 0, 100)] == [b"batch-2"]
    assert store.labels("m", 0) == []  # labels older than 25 went too
    assert store.label_columns("m", 0).request_ids == []


def test_host_metrics(store: Store) -> None:
    rows = [
        HostRow("m", "h1", 1.0, cpu_percent=50.0, memory_bytes=2**40),
        HostRow("m", "h2", 2.0, gpu_percent=80.0),
    ]
    store.put_host_metrics(rows)
    assert store.host_metrics("m", 0, 10) == rows
    assert store.host_metrics("m", 1.5, 10) == rows[1:]


def test_baselines(store: Store) -> None:
    assert store.baseline("m", "file:a") is None
    store.put_baseline("m", "file:a", b"\x00profile")
    store.put_baseline("m", "file:a", b"\x01profile")
    assert store.baseline("m", "file:a") == b"\x01profile"


def test_large_payloads_round_trip(store: Store) -> None:
    blob = bytes(range(256)) * 40_000  # 10 MiB
    seq = store.append("w", "m", 1, blob, 1.0)
    assert store.read_log("w", seq - 1)[0].payload == blob


def test_idempotency_keys_are_unique_per_model(store: Store) -> None:
    seq = store.append("w", "m", 10, b"a", 1.0, key="k1", digest=b"\x01" * 32)
    assert store.keyed_batches("k1") == [KeyedBatch("m", seq, 10, b"\x01" * 32, 1.0)]
    assert store.keyed_batches("k2") == []
    other = store.append("w", "other", 3, b"b", 2.0, key="k1", digest=b"\x01" * 32)  # another model's part
    store.append("w", "m", 1, b"c", 1.0)  # no key: never a duplicate
    store.append("w", "m", 1, b"d", 1.0)
    with pytest.raises(Exception):  # noqa: B017 -- each backend raises its own driver error
        store.append("w", "m", 10, b"a again", 1.0, key="k1", digest=b"\x02" * 32)
    assert [e.payload for e in store.read_log("w", 0)] == [b"a", b"b", b"c", b"d"]  # nothing half-appended
    assert [(b.model, b.seq, b.digest) for b in store.keyed_batches("k1")] == [
        ("m", seq, b"\x01" * 32),
        ("other", other, b"\x01" * 32),
    ]
    bare = KeyedBatch("m", store.append("w", "m", 2, b"e", 3.0, key="no digest"), 2, None, 3.0)
    assert [b.digest for b in store.keyed_batches("no digest")] == [None]
    many = [f"x{i}" for i in range(1_200)] + ["no digest", "k1", "no digest"]  # more than one query takes
    assert store.keyed_batches_of(many) == {"k1": store.keyed_batches("k1"), "no digest": [bare]}
    assert store.keyed_batches_of([]) == {}


def test_llm_content_stored_once_per_record_read_by_trace_in_order_and_pruned(store: Store) -> None:
    def row(
        trace: str, span: str, record: bytes, ts: float, seq: int, prompt: str | None = None
    ) -> ContentRow:
        return ContentRow("m", trace, span, record, ts, seq, prompt, None if prompt else f"answer {seq}")

    store.put_content(
        [row("t1", "s2", b"b", 11.0, 1, "user: later"), row("t1", "s1", b"a", 10.0, 0, "user: hi")]
    )
    store.put_content(
        [row("t1", "s1", b"c", 10.0, 5), row("t1", "s1", b"a", 10.0, 0, "user: hi again")]
    )  # a retry
    store.put_content(
        [row("t2", "s9", b"d", 30.0, 0, "user: 2"), ContentRow("other", "t1", "s1", b"a", 1, 0, "x", None)]
    )
    got = [
        (r.trace_id, r.span_id, r.record, r.ts, r.seq, r.prompt, r.completion)
        for r in store.content("m", ["t1"])
    ]
    assert got == [
        ("t1", "s1", b"a", 10.0, 0, "user: hi", None),  # the first copy of a record stays
        ("t1", "s1", b"c", 10.0, 5, None, "answer 5"),
        ("t1", "s2", b"b", 11.0, 1, "user: later", None),
    ]
    many = [f"x{i}" for i in range(1_200)] + ["t2", "t1", "t2"]  # more ids than one query takes
    assert [r.trace_id for r in store.content("m", many)] == ["t1", "t1", "t1", "t2"]
    assert store.content("m", []) == [] and store.content("m", ["nope"]) == []
    store.delete_predictions("m", 11.0)  # the retention of predictions takes their content with it
    assert [r.record for r in store.content("m", ["t1", "t2"])] == [b"b", b"d"]
    assert len(store.content("other", ["t1"])) == 1


def test_keys_outlive_the_log_until_forgotten(store: Store) -> None:
    old = store.append("w", "m", 4, b"a", 10.0, key="k-old", digest=b"d1")
    store.append("w", "m", 5, b"b", 20.0, key="k-new", digest=b"d2")
    store.append("w", "other", 6, b"c", 10.0, key="k-old", digest=b"d1")
    assert store.prune_log("w", upto=10**9, before=100.0) == 3
    assert store.read_log("w", 0) == []
    assert store.keyed_batches("k-old")[0] == KeyedBatch("m", old, 4, b"d1", 10.0)  # a retry still known
    assert store.forget_keys("m", before=15.0) == 1
    assert [b.model for b in store.keyed_batches("k-old")] == ["other"]  # other models keep theirs
    assert [b.rows for b in store.keyed_batches("k-new")] == [5]
    store.append("w", "m", 4, b"a", 30.0, key="k-old", digest=b"d3")  # forgotten: usable again


def test_keys_logged_before_digests_were_kept_are_carried_over(store: Store) -> None:
    """A store of the schema before ``ingest_keys``: its keyed log entries are keys after the upgrade."""
    store.close()
    undo = [
        "DROP TABLE llm_content",  # migration 9
        "DROP TABLE folded",  # migration 8
        "DROP TABLE feedback",  # migration 7
        "DROP INDEX windows_counts",  # migration 6
        "ALTER TABLE windows DROP COLUMN errors",
        *(f"DROP TABLE {table}" for table in _LATER_TABLES),
        "DROP TABLE ingest_keys",
        "INSERT INTO ingest_log (writer, model, rows, payload, received_at, key) "
        "VALUES ('w', 'm', 7, 'x', 5.0, 'k')",
    ]
    if store.url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            for sql in [*undo, f"DELETE FROM vigil_schema_migrations WHERE version > {_KEYS_MIGRATION - 1}"]:
                conn.execute(sql.replace("'x'", "'x'::bytea"))
    else:
        db = sqlite3.connect(store.url)
        for sql in [*undo, f"PRAGMA user_version = {_KEYS_MIGRATION - 1}"]:
            db.execute(sql)
        db.commit()
        db.close()
    upgraded = open_store(store.url)
    try:
        assert [(b.model, b.rows, b.digest) for b in upgraded.keyed_batches("k")] == [("m", 7, None)]
    finally:
        upgraded.close()


def test_records_upsert_list_and_delete(store: Store) -> None:
    store.put_record("silence", "b", '{"n": 1}', 20.0)
    store.put_record("silence", "a", '{"n": 2}', 10.0)
    store.put_record("incident", "a", '{"n": 3}', 5.0)
    assert [(r.id, r.body) for r in store.records("silence")] == [("a", '{"n": 2}'), ("b", '{"n": 1}')]
    store.put_record("silence", "a", '{"n": 4}', 30.0)  # replaced, and now the newest
    assert [r.id for r in store.records("silence")] == ["b", "a"]
    assert [r.id for r in store.records("silence", since=25.0)] == ["a"]
    got = store.record("silence", "a")
    assert got is not None and (got.kind, got.body, got.updated_at) == ("silence", '{"n": 4}', 30.0)
    assert store.record("silence", "zzz") is None
    assert store.delete_record("silence", "a") is True
    assert store.delete_record("silence", "a") is False
    assert [r.id for r in store.records("silence")] == ["b"]
    assert [r.body for r in store.records("incident")] == ['{"n": 3}']
    store.put_record("silence", "c", "{}", 40.0)
    assert store.delete_records("silence", before=30.0) == 1  # b (20); c is newer
    assert [r.id for r in store.records("silence")] == ["c"]
    assert [r.id for r in store.records("incident")] == ["a"]  # other kinds untouched


def test_audit_log_appends_and_filters(store: Store) -> None:
    seqs = [
        store.append_audit(1.0, "ana", "silence.create", "silence/1", None, '{"a": 1}'),
        store.append_audit(2.0, "bo", "rule.update", "rule/ErrorRateHigh", '{"w": 1}', '{"w": 2}'),
        store.append_audit(3.0, "ana", "silence.expire", "silence/1", '{"a": 1}', None),
        store.append_audit(4.0, "cy", "silence.create", "silence/10", None, "{}"),
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    everything = store.audit_log()
    assert [e.action for e in everything] == [
        "silence.create",
        "rule.update",
        "silence.expire",
        "silence.create",
    ]
    assert (everything[1].actor, everything[1].before, everything[1].after) == ("bo", '{"w": 1}', '{"w": 2}')
    assert [e.at for e in store.audit_log(target="silence/1")] == [1.0, 3.0]
    assert [e.target for e in store.audit_log(target="silence/")] == ["silence/1", "silence/1", "silence/10"]
    assert [e.at for e in store.audit_log(since=2.5)] == [3.0, 4.0]
    assert [e.at for e in store.audit_log(limit=2)] == [3.0, 4.0]  # the newest two, oldest first


def test_leases_go_to_one_holder_until_they_expire(store: Store) -> None:
    assert store.lease("alerting", "a", now=100.0, ttl=30.0) is True
    assert store.lease("alerting", "b", now=110.0, ttl=30.0) is False  # a holds it until 130
    assert store.lease("alerting", "a", now=120.0, ttl=30.0) is True  # renewed until 150
    assert store.lease("alerting", "b", now=140.0, ttl=30.0) is False
    assert store.lease("alerting", "b", now=150.0, ttl=30.0) is True  # expired: b takes over
    assert store.lease("alerting", "a", now=151.0, ttl=30.0) is False
    assert store.lease("other", "a", now=151.0, ttl=30.0) is True  # leases are independent


def test_api_keys_are_found_by_id_and_digest_touched_and_deleted(store: Store) -> None:
    ana = ApiKeyRecord("k1", "ana", "editor", "a" * 64, 10.0, "root")
    bo = ApiKeyRecord("k0", "bo", "viewer", "b" * 64, 20.0, "ana")
    store.put_api_key(bo)
    store.put_api_key(ana)
    assert store.api_keys() == [ana, bo]  # oldest first
    assert store.api_key("k0") == bo and store.api_key("nope") is None
    assert store.api_key_by_digest("a" * 64) == ana and store.api_key_by_digest("c" * 64) is None
    with pytest.raises(Exception):  # noqa: B017 -- each backend raises its own driver error
        store.put_api_key(ApiKeyRecord("k2", "cy", "admin", "a" * 64, 30.0, "root"))  # the same key
    store.touch_api_key("k1", 50.0)
    store.touch_api_key("k1", 40.0)  # an earlier use seen late changes nothing
    assert store.api_key("k1") == ApiKeyRecord("k1", "ana", "editor", "a" * 64, 10.0, "root", 50.0)
    assert store.delete_api_key("k1") is True and store.delete_api_key("k1") is False
    assert store.api_key_by_digest("a" * 64) is None
    assert [k.id for k in store.api_keys()] == ["k0"]


def test_a_secret_is_made_once(store: Store) -> None:
    first = store.secret("session", b"\x00one\xff", 1.0)
    assert first == b"\x00one\xff"
    assert store.secret("session", b"two", 2.0) == first  # kept: the second server gets the first's
    assert store.secret("other", b"two", 2.0) == b"two"
    reopened = open_store(store.url)
    try:
        assert reopened.secret("session", b"three", 3.0) == first
    finally:
        reopened.close()
