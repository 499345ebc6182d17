"""The embedded store: one SQLite file, created on first use, no server to install.

Write-ahead logging lets the CLI (or a second reader) read while the server writes. Commits use
``synchronous=NORMAL`` by default: a committed write survives the process being killed (``kill -9``), not
a power cut; ``?synchronous=full`` in the store path makes every commit wait for the disk as well.
One connection serves the process behind a lock: SQLite has one writer at a time anyway.

Until ``close`` checkpoints it, recent commits live in the ``-wal`` file beside the database: copy the
three files together, or better take a consistent copy while the server runs with ``backup`` (SQLite's
online backup API; ``vigil backup``). Failures of the file (locked by another writer for longer than
``BUSY_TIMEOUT``, read-only, full, damaged) raise ``StoreError`` saying which and what to do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vigil.store._sql as sql
from vigil.errors import StoreError
from vigil.store._folded import duplicates, keyed, overlap, within
from vigil.store._sql import qmark
from vigil.store.base import (
    AlreadyFolded,
    ApiKeyRecord,
    AuditEntry,
    ContentRow,
    FeedbackRow,
    HeldBatch,
    HostRow,
    KeyedBatch,
    LabelColumns,
    LabelRow,
    LogEntry,
    ModelRecord,
    PredictionBatch,
    Record,
    StreamRanges,
    WindowCount,
    WindowRow,
    WindowSum,
)
from vigil.store.migrations.sqlite import MIGRATIONS as _MIGRATIONS

__all__ = ["BUSY_TIMEOUT", "SQLiteStore", "backup"]

BUSY_TIMEOUT = 2.0
"""Seconds a write waits for another connection's write lock before failing (the ingest then answers 503
with Retry-After, the aggregator retries): short, so that clients hear back quickly."""


class SQLiteStore:
    """The embedded store (see the module docstring). ``path`` may end in ``?synchronous=full``."""

    def __init__(self, path: str | Path) -> None:
        text = str(path)
        synchronous = "NORMAL"
        if "?" in text:
            text, _, query = text.partition("?")
            if query.lower() == "synchronous=full":
                synchronous = "FULL"
        self.path = Path(text)
        self.url = text
        self._lock = threading.RLock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of the store file {text}: {exc.strerror}") from None
        with self._errors():
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT
            )
        try:
            with self._errors():
                self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={synchronous}")
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    def _migrate(self) -> None:
        """Apply the migrations this file has not seen yet, each in its own transaction (the schema
        version lives in SQLite's ``user_version``)."""
        with self._lock:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > len(_MIGRATIONS):
                raise StoreError(
                    f"the store file {self.url} has Vigil schema version {version}, newer than this Vigil "
                    f"knows ({len(_MIGRATIONS)}): upgrade Vigil"
                )
            for number, sql in enumerate(_MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN IMMEDIATE; {sql}; PRAGMA user_version={number}; COMMIT;")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the file's failures into ``StoreError`` (what happened and what to do)."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise StoreError(_explain(self.url, exc)) from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # a constraint or a misuse: a bug, not the file
                raise
            raise StoreError(_explain(self.url, exc)) from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        """Run one writing statement as its own transaction (one round trip, durable on return)."""
        with self._lock, self._errors():
            return self._db.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            # fold the write-ahead log into the file, so that the file alone holds everything
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    def check(self, thorough: bool = False) -> None:
        with self._lock, self._errors():
            if thorough:
                found = [str(r[0]) for r in self._db.execute("PRAGMA quick_check(5)").fetchall()]
                if found != ["ok"]:
                    raise StoreError(_damaged(self.url, "; ".join(found)))
            self._db.execute("BEGIN IMMEDIATE")  # can this connection write now?
            self._db.execute("ROLLBACK")

    # registry ----------------------------------------------------------------------------------------------

    def put_model(self, record: ModelRecord) -> None:
        with self._tx() as db:
            db.execute(qmark(sql.PUT_MODEL), (record.name, record.spec, record.source, record.updated_at))

    def models(self) -> list[ModelRecord]:
        rows = self._read(sql.MODELS)
        return [ModelRecord(str(n), str(s), str(src), float(u)) for n, s, src, u in rows]

    def delete_model(self, name: str) -> None:
        with self._tx() as db:
            db.execute(qmark(sql.DELETE_MODEL), (name,))

    # ingest log --------------------------------------------------------------------------------------------

    def append(
        self,
        writer: str,
        model: str,
        rows: int,
        payload: bytes,
        received_at: float,
        key: str | None = None,
        digest: bytes | None = None,
    ) -> int:
        insert = qmark(sql.APPEND)
        params = (writer, model, rows, payload, received_at)
        if key is None:
            # one statement in autocommit mode is its own transaction: one round trip, durable on return
            seq = self._one(insert, params).lastrowid
        else:
            with self._tx() as db:
                seq = db.execute(insert, params).lastrowid
                db.execute(qmark(sql.PUT_KEY), (key, model, digest, seq, rows, received_at))
        assert seq is not None
        return seq

    def keyed_batches(self, key: str) -> list[KeyedBatch]:
        return self.keyed_batches_of([key]).get(key, [])

    def keyed_batches_of(self, keys: Sequence[str]) -> dict[str, list[KeyedBatch]]:
        rows = []
        unique = sorted(set(keys))
        for i in range(0, len(unique), 500):
            part = unique[i : i + 500]
            marks = ", ".join("?" * len(part))
            rows += self._read(
                f"{sql.KEY_COLUMNS_OF_BATCHES} WHERE key IN ({marks}) ORDER BY key, model", part
            )
        return keyed(rows)

    def forget_keys(self, model: str, before: float) -> int:
        with self._tx() as db:
            return db.execute(qmark(sql.FORGET_KEYS), (model, before)).rowcount

    def read_log(self, writer: str, after: int, limit: int = 1_000) -> list[LogEntry]:
        rows = self._read(qmark(sql.READ_LOG), (writer, after, limit))
        return [LogEntry(*r) for r in rows]

    def log_entries(self, writer: str, seqs: Sequence[int]) -> list[LogEntry]:
        out: list[LogEntry] = []
        for i in range(0, len(seqs), 500):
            part = list(seqs[i : i + 500])
            marks = ", ".join("?" * len(part))
            rows = self._read(f"{sql.LOG_COLUMNS} WHERE writer = ? AND seq IN ({marks})", (writer, *part))
            out.extend(LogEntry(*r) for r in rows)
        return sorted(out, key=lambda e: e.seq)

    def log_seqs(self, writer: str, after: int, upto: int) -> list[int]:
        rows = self._read(qmark(sql.LOG_SEQS), (writer, after, upto))
        return [int(r[0]) for r in rows]

    def checkpoint(self, writer: str) -> int:
        rows = self._read(qmark(sql.CHECKPOINT), (writer,))
        return int(rows[0][0]) if rows else 0

    def prune_log(self, writer: str, upto: int, before: float) -> int:
        with self._tx() as db:
            return db.execute(qmark(sql.PRUNE_LOG), (writer, upto, before, writer)).rowcount

    def held(self, writer: str) -> list[HeldBatch]:
        rows = self._read(qmark(sql.HELD), (writer,))
        return [HeldBatch(*r) for r in rows]

    # windows -----------------------------------------------------------------------------------------------

    def save_windows(
        self,
        writer: str,
        rows: Sequence[WindowRow],
        checkpoint: int,
        hold: Sequence[HeldBatch] = (),
        release: Sequence[int] = (),
        folded: StreamRanges | None = None,
    ) -> None:
        with self._tx() as db:  # BEGIN IMMEDIATE: savers take turns, so the overlap check holds
            if folded is not None:
                taken = overlap(
                    folded,
                    writer,
                    lambda lo, hi: db.execute(qmark(sql.FOLDED_OVERLAP), (folded.stream, hi, lo)).fetchall(),
                )
                retried, keys = duplicates(
                    folded, lambda key, model: db.execute(qmark(sql.KEY_OF), (key, model)).fetchall()
                )
                if taken or retried:
                    raise AlreadyFolded(folded.stream, taken | retried)
                db.executemany(
                    qmark(sql.PUT_FOLDED),
                    [(folded.stream, lo, hi, writer, time.time()) for lo, hi in folded.ranges],
                )
                db.executemany(
                    qmark(sql.PUT_STREAM_KEY),
                    [(k.key, k.model, k.digest, k.seq, k.rows, k.received_at, folded.stream) for k in keys],
                )
            db.executemany(
                qmark(sql.HOLD), [(writer, h.seq, h.model, h.rows, h.kind, h.reason, h.since) for h in hold]
            )
            db.executemany(qmark(sql.RELEASE), [(writer, s) for s in release])
            db.executemany(
                qmark(sql.SAVE_WINDOW),
                [
                    (r.model, r.version, r.resolution, r.start, r.writer, r.events, r.state, r.errors)
                    for r in rows
                ],
            )
            db.execute(qmark(sql.SAVE_CHECKPOINT), (writer, checkpoint))

    def folded_seqs(self, stream: str, seqs: Sequence[int]) -> set[int]:
        if not seqs:
            return set()
        rows = self._read(qmark(sql.FOLDED_OVERLAP), (stream, max(seqs), min(seqs)))
        return within(seqs, rows)

    def forget_folded(self, stream: str, below: int) -> int:
        with self._tx() as db:
            return db.execute(qmark(sql.FORGET_FOLDED), (stream, below)).rowcount

    def windows(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowRow]:
        query = sql.WINDOWS
        params: list[object] = [model, resolution, start, end]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowRow(*r) for r in self._read(qmark(query + sql.WINDOWS_ORDER), params)]

    def window_counts(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowCount]:
        query = sql.WINDOW_COUNTS
        params: list[object] = [model, resolution, start, end]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowCount._make(r) for r in self._read(qmark(query + sql.WINDOWS_ORDER), params)]

    def window_sums(
        self, model: str, resolution: int, start: float, end: float, period: int, version: str | None = None
    ) -> list[WindowSum]:
        query = sql.WINDOW_SUMS
        params: list[object] = [int(period), model, resolution, start, end]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowSum._make(r) for r in self._read(qmark(query + sql.WINDOW_SUMS_GROUPS), params)]

    def window_models(self) -> list[str]:
        return [str(m) for (m,) in self._read(sql.WINDOW_MODELS)]

    def last_window_start(self, model: str, resolution: int, writer: str) -> int | None:
        rows = self._read(qmark(sql.LAST_WINDOW_START), (model, resolution, writer))
        return None if rows[0][0] is None else int(rows[0][0])

    def delete_windows(self, model: str, resolution: int, before: float) -> int:
        with self._tx() as db:
            return db.execute(qmark(sql.DELETE_WINDOWS), (model, resolution, before)).rowcount

    # predictions and labels --------------------------------------------------------------------------------

    def put_predictions(self, batch: PredictionBatch) -> None:
        self._one(
            qmark(sql.PUT_PREDICTIONS),
            (batch.model, batch.writer, batch.seq, batch.start, batch.end, batch.rows, batch.payload),
        )

    def predictions(self, model: str, start: float, end: float) -> list[PredictionBatch]:
        rows = self._read(qmark(sql.PREDICTIONS), (model, start, end))
        return [PredictionBatch(*r) for r in rows]

    def put_labels(self, rows: Sequence[LabelRow]) -> None:
        with self._tx() as db:
            db.executemany(qmark(sql.PUT_LABEL), [(r.model, r.request_id, r.label, r.ts) for r in rows])

    def labels(self, model: str, since: float) -> list[LabelRow]:
        rows = self._read(qmark(sql.LABELS), (model, since))
        return [LabelRow(*r) for r in rows]

    def label_columns(self, model: str, since: float) -> LabelColumns:
        rows = self._read(qmark(sql.LABEL_COLUMNS_SINCE), (model, since))
        ids, labels, ts = zip(*rows, strict=True) if rows else ((), (), ())
        return LabelColumns(list(ids), list(labels), list(ts))

    def put_feedback(self, rows: Sequence[FeedbackRow]) -> None:
        with self._tx() as db:
            db.executemany(
                qmark(sql.PUT_FEEDBACK),
                [(r.model, r.request_id, r.name, r.value, r.comment, r.ts) for r in rows],
            )

    def feedback(self, model: str, start: float, end: float) -> list[FeedbackRow]:
        return [FeedbackRow(*r) for r in self._read(qmark(sql.FEEDBACK), (model, start, end))]

    def put_content(self, rows: Sequence[ContentRow]) -> None:
        with self._tx() as db:
            db.executemany(qmark(sql.PUT_CONTENT), [dataclasses.astuple(r) for r in rows])

    def content(self, model: str, trace_ids: Sequence[str]) -> list[ContentRow]:
        ids = sorted(set(trace_ids))
        out = []
        for i in range(0, len(ids), sql.IDS_PER_QUERY):
            chunk = ids[i : i + sql.IDS_PER_QUERY]
            query = qmark(sql.CONTENT.format(ids=", ".join(["%s"] * len(chunk))))
            out += [ContentRow(*r) for r in self._read(query, (model, *chunk))]
        return out

    def delete_predictions(self, model: str, before: float) -> int:
        with self._tx() as db:
            n = db.execute(qmark(sql.DELETE_PREDICTIONS), (model, before)).rowcount
            db.execute(qmark(sql.DELETE_LABELS), (model, before))
            db.execute(qmark(sql.DELETE_FEEDBACK), (model, before))
            db.execute(qmark(sql.DELETE_CONTENT), (model, before))
            return n

    # host metrics ------------------------------------------------------------------------------------------

    def put_host_metrics(self, rows: Sequence[HostRow]) -> None:
        with self._tx() as db:
            db.executemany(
                qmark(sql.PUT_HOST_METRICS),
                [
                    (
                        r.model,
                        r.host,
                        r.ts,
                        r.cpu_percent,
                        r.memory_percent,
                        r.memory_bytes,
                        r.gpu_percent,
                        r.gpu_memory_percent,
                        r.gpu_memory_bytes,
                    )
                    for r in rows
                ],
            )

    def host_metrics(self, model: str, start: float, end: float) -> list[HostRow]:
        rows = self._read(qmark(sql.HOST_METRICS + " ORDER BY ts, rowid"), (model, start, end))
        return [HostRow(*r) for r in rows]

    # baselines ---------------------------------------------------------------------------------------------

    def put_baseline(self, model: str, key: str, profile: bytes) -> None:
        with self._tx() as db:
            db.execute(qmark(sql.PUT_BASELINE), (model, key, profile))

    def baseline(self, model: str, key: str) -> bytes | None:
        rows = self._read(qmark(sql.BASELINE), (model, key))
        return bytes(rows[0][0]) if rows else None

    # records and the audit log

    def put_record(self, kind: str, id: str, body: str, at: float) -> None:
        with self._tx() as db:
            db.execute(qmark(sql.PUT_RECORD), (kind, id, body, at))

    def record(self, kind: str, id: str) -> Record | None:
        rows = self._read(qmark(sql.RECORD), (kind, id))
        return Record(*rows[0]) if rows else None

    def records(self, kind: str, since: float | None = None) -> list[Record]:
        rows = self._read(qmark(sql.RECORDS), (kind, float("-inf") if since is None else since))
        return [Record(*row) for row in rows]

    def delete_record(self, kind: str, id: str) -> bool:
        with self._tx() as db:
            return db.execute(qmark(sql.DELETE_RECORD), (kind, id)).rowcount > 0

    def delete_records(self, kind: str, before: float) -> int:
        with self._tx() as db:
            return db.execute(qmark(sql.DELETE_RECORDS), (kind, before)).rowcount

    def append_audit(
        self, at: float, actor: str, action: str, target: str, before: str | None, after: str | None
    ) -> int:
        with self._tx() as db:
            cur = db.execute(qmark(sql.APPEND_AUDIT), (at, actor, action, target, before, after))
            return int(cur.lastrowid or 0)

    def audit_log(
        self, since: float = 0.0, target: str | None = None, limit: int = 1_000
    ) -> list[AuditEntry]:
        where, params = sql.audit_filter(since, target)
        rows = self._read(qmark(sql.AUDIT_LOG.format(where=where)), (*params, limit))
        return [AuditEntry(*row) for row in rows]

    # API keys and secrets

    def put_api_key(self, key: ApiKeyRecord) -> None:
        self._one(qmark(sql.PUT_API_KEY), dataclasses.astuple(key))

    def api_keys(self) -> list[ApiKeyRecord]:
        return [ApiKeyRecord(*row) for row in self._read(sql.API_KEYS)]

    def api_key(self, id: str) -> ApiKeyRecord | None:
        rows = self._read(qmark(sql.API_KEY_BY_ID), (id,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        rows = self._read(qmark(sql.API_KEY_BY_DIGEST), (digest,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def touch_api_key(self, id: str, at: float) -> None:
        self._one(qmark(sql.TOUCH_API_KEY), (at, id, at))

    def delete_api_key(self, id: str) -> bool:
        return self._one(qmark(sql.DELETE_API_KEY), (id,)).rowcount > 0

    def secret(self, name: str, candidate: bytes, at: float) -> bytes:
        with self._tx() as db:
            db.execute(qmark(sql.PUT_SECRET), (name, candidate, at))
            return bytes(db.execute(qmark(sql.SECRET), (name,)).fetchone()[0])

    def lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        with self._tx() as db:
            row = db.execute(qmark(sql.LEASE), (name, holder, now + ttl, now)).fetchone()
            return row is not None


def backup(source: str | Path, target: str | Path) -> int:
    """Copy the store file ``source`` into ``target`` (a new file) with SQLite's online backup API: a
    consistent copy even while a server writes, write-ahead log included. Returns the copy's size in
    bytes; raises ``StoreError`` when either file cannot be used."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise StoreError(f"no store file at {source}")
    if target.exists():
        raise StoreError(f"{target} exists already: give the backup a new name")
    try:
        src = sqlite3.connect(source, timeout=BUSY_TIMEOUT)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)  # all pages in one step: one snapshot, never restarted by a writer
                found = [str(r[0]) for r in dst.execute("PRAGMA quick_check(5)").fetchall()]
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        target.unlink(missing_ok=True)
        raise StoreError(_explain(str(source), exc)) from None
    if found != ["ok"]:
        target.unlink(missing_ok=True)
        raise StoreError(_damaged(str(source), "; ".join(found)))
    return target.stat().st_size


def _damaged(path: str, what: str) -> str:
    what = "; ".join(line.strip(" *") for line in what.splitlines() if line.strip(" *"))  # one line
    return (
        f"the store file {path} is damaged ({what}): restore your latest backup (see vigil backup), or "
        f"recover what is readable with: sqlite3 {path} .recover | sqlite3 recovered.db, then start "
        "with --store recovered.db"
    )


def _explain(path: str, exc: sqlite3.Error) -> str:
    """What a failure of the file means, for people."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return (
            f"the store file {path} is locked by another connection ({text}): another process is writing "
            "to it (a second server on the same file, or a tool holding a transaction); retry shortly"
        )
    if "readonly" in low or "read-only" in low:
        return (
            f"cannot write the store file {path} ({text}): check the permissions of the file, of its "
            "-wal and -shm files, and of their folder"
        )
    if "full" in low:
        return f"cannot write the store file {path}: the disk is full ({text}); free some space"
    if "disk i/o" in low:
        return (
            f"cannot write the store file {path} ({text}): the disk is full, a file size limit was "
            "reached, or the disk is failing"
        )
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return _damaged(path, text)
    if "unable to open" in low:
        return f"cannot open the store file {path} ({text}): check that it and its folder are readable"
    return f"the store file {path} cannot be used: {text}"
