"""The PostgreSQL store: several server processes share one database.

Each server process is a different ``writer``: it appends to the shared ingest log (one identity sequence,
so appends from every process get distinct sequence numbers, increasing in the order they were made) and
saves its own rows of each window together with its checkpoint in one transaction; queries merge the
writers' rows.

One connection per store object serves every thread behind a lock; autocommit is off and every call ends
its transaction before returning (a write is committed, hence durable, when the call returns). When the
server closed the connection (a PostgreSQL restart, an idle timeout), the call reconnects once and runs
again; a write is retried only when it cannot have been committed already, or when running it twice does
no harm. Connection failures, and the server's own operational failures (disk full, shutting down, a
timeout), raise ``StoreError`` naming host:port and the driver's reason.

The schema is versioned in ``vigil_schema_migrations``; each migration runs in its own transaction under an
advisory lock, so processes starting together migrate once. Text keys use the "C" collation, so ordering is
by code point whatever the database's locale, as in SQLite. Vigil's tables have plain names (``models``,
``windows``…): give Vigil its own database, or its own schema (``?options=-csearch_path%3Dvigil`` in the
URL), when the database is shared with other applications.
"""

from __future__ import annotations

import dataclasses
import operator
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import conninfo

import vigil.store._sql as sql
from vigil.errors import StoreError
from vigil.store._folded import duplicates, keyed, overlap, within
from vigil.store._pg import Conn as _Conn
from vigil.store._pg import bulk_insert, int_bound, mask_password, one_line, rollback, where
from vigil.store._pg import float_or_none as _f
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
    StreamKey,
    StreamRanges,
    WindowCount,
    WindowRow,
    WindowSum,
)
from vigil.store.migrations.postgres import MIGRATIONS as _MIGRATIONS

__all__ = ["PostgresStore", "mask_password"]

_T = TypeVar("_T")

_FOLD_LOCK = 0x5647_4C46
"""pg_advisory_xact_lock's first key while saving folded broker messages ("VGLF"); the second: the stream's
hash."""
# pg_advisory_xact_lock key of schema migrations: "VIGL" + 1.
_MIGRATION_LOCK = 0x5649_474C_0000_0001

_KEY = operator.itemgetter(0, 1)  # (model, request_id) of a row's parameters


class PostgresStore:
    """The PostgreSQL store (see the module docstring). ``url`` is a ``postgresql://`` URL (libpq syntax;
    any libpq parameter may go in its query string)."""

    def __init__(self, url: str) -> None:
        self._conninfo = url
        self.url = mask_password(url)
        self._lock = threading.RLock()
        self._conn: _Conn | None = None
        self._closed = False
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # connection and transactions --------------------------------------------------------------------------

    def _connect(self) -> _Conn:
        params: dict[str, Any] = {}
        try:
            given = conninfo.conninfo_to_dict(self._conninfo)
        except psycopg.Error as exc:
            raise StoreError(f"cannot use the PostgreSQL URL {self.url}: {one_line(exc)}") from None
        if "connect_timeout" not in given and "PGCONNECT_TIMEOUT" not in os.environ:
            params["connect_timeout"] = 10
        if "application_name" not in given and "PGAPPNAME" not in os.environ:
            params["application_name"] = "vigil"
        try:
            return psycopg.connect(self._conninfo, autocommit=False, **params)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {where(self._conninfo)}: {one_line(exc)} "
                f"— check the store URL ({self.url}) and that the server is running and reachable"
            ) from None

    def _run(self, work: Callable[[_Conn], _T], *, idempotent: bool = True) -> _T:
        """Run ``work`` in one transaction and commit it. A connection the server closed is replaced once;
        the work runs again unless it may already have been committed and running it twice would not be
        the same (``idempotent=False``)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.url} is closed")
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                conn = self._conn
                committing = False
                try:
                    result = work(conn)
                    committing = True
                    conn.commit()
                    return result
                except psycopg.OperationalError as exc:
                    if not (conn.broken or conn.closed):
                        rollback(conn)
                        raise StoreError(
                            f"PostgreSQL at {where(self._conninfo)} failed: {one_line(exc)}"
                        ) from exc
                    conn.close()
                    self._conn = None
                    if committing and not idempotent:
                        raise StoreError(
                            f"lost the connection to PostgreSQL at {where(self._conninfo)} while committing "
                            f"({one_line(exc)}); the write may or may not have been stored"
                        ) from None
                    if attempt == 2:
                        raise StoreError(
                            f"lost the connection to PostgreSQL at {where(self._conninfo)} "
                            f"and reconnecting did not help: {one_line(exc)}"
                        ) from None
                except BaseException:
                    rollback(conn)
                    raise
            raise AssertionError("unreachable")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        def work(conn: _Conn) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params, binary=True).fetchall()

        return self._run(work)

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

        def work(conn: _Conn) -> int:
            return conn.execute(sql, params).rowcount

        return self._run(work)

    def _migrate(self) -> None:
        """Apply the migrations this database has not seen yet, each in its own transaction, under an
        advisory lock so that processes starting together apply each one once."""

        def step(conn: _Conn) -> bool:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            exists = conn.execute("SELECT to_regclass('vigil_schema_migrations') IS NOT NULL").fetchone()
            if not (exists and exists[0]):
                conn.execute(
                    "CREATE TABLE vigil_schema_migrations ("
                    "version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
                )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM vigil_schema_migrations").fetchone()
            version = int(row[0]) if row else 0
            if version > len(_MIGRATIONS):
                raise StoreError(
                    f"the database at {where(self._conninfo)} has Vigil schema version {version}, "
                    f"newer than this Vigil knows ({len(_MIGRATIONS)}): upgrade Vigil"
                )
            if version == len(_MIGRATIONS):
                return False
            try:
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
            except psycopg.errors.DuplicateTable as exc:
                raise StoreError(
                    f"cannot create Vigil's tables in the database at {where(self._conninfo)}: "
                    f"{one_line(exc)} — give Vigil its own database or schema"
                ) from None
            conn.execute("INSERT INTO vigil_schema_migrations VALUES (%s, %s)", (version + 1, time.time()))
            return True

        while self._run(step):
            pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def check(self, thorough: bool = False) -> None:
        row = self._read("SELECT pg_is_in_recovery()")[0]
        if row[0]:
            raise StoreError(
                f"PostgreSQL at {where(self._conninfo)} is a read-only standby: point the store URL at the "
                "primary"
            )

    # registry ----------------------------------------------------------------------------------------------

    def put_model(self, record: ModelRecord) -> None:
        self._write(
            sql.PUT_MODEL,
            (record.name, record.spec, record.source, float(record.updated_at)),
        )

    def models(self) -> list[ModelRecord]:
        rows = self._read(sql.MODELS)
        return [ModelRecord(*r) for r in rows]

    def delete_model(self, name: str) -> None:
        self._write(sql.DELETE_MODEL, (name,))

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
        def work(conn: _Conn) -> int:
            row = conn.execute(
                sql.APPEND + " RETURNING seq",
                (writer, model, rows, payload, float(received_at)),
            ).fetchone()
            assert row is not None
            seq = int(row[0])
            if key is not None:
                conn.execute(sql.PUT_KEY, (key, model, digest, seq, rows, float(received_at)))
            return seq

        return self._run(work, idempotent=False)

    def keyed_batches(self, key: str) -> list[KeyedBatch]:
        return self.keyed_batches_of([key]).get(key, [])

    def keyed_batches_of(self, keys: Sequence[str]) -> dict[str, list[KeyedBatch]]:
        if not keys:
            return {}
        rows = self._read(
            sql.KEY_COLUMNS_OF_BATCHES + " WHERE key = ANY(%s) ORDER BY key, model", [list(keys)]
        )
        return keyed(rows)

    def forget_keys(self, model: str, before: float) -> int:
        return self._write(sql.FORGET_KEYS, (model, float(before)))

    def read_log(self, writer: str, after: int, limit: int = 1_000) -> list[LogEntry]:
        rows = self._read(sql.READ_LOG, (writer, after, limit))
        return [LogEntry(*r) for r in rows]

    def log_entries(self, writer: str, seqs: Sequence[int]) -> list[LogEntry]:
        if not seqs:
            return []
        rows = self._read(
            sql.LOG_COLUMNS + " WHERE writer = %s AND seq = ANY(%s) ORDER BY seq", (writer, list(seqs))
        )
        return [LogEntry(*r) for r in rows]

    def log_seqs(self, writer: str, after: int, upto: int) -> list[int]:
        rows = self._read(sql.LOG_SEQS, (writer, after, upto))
        return [int(r[0]) for r in rows]

    def checkpoint(self, writer: str) -> int:
        rows = self._read(sql.CHECKPOINT, (writer,))
        return int(rows[0][0]) if rows else 0

    def prune_log(self, writer: str, upto: int, before: float) -> int:
        return self._write(sql.PRUNE_LOG, (writer, upto, float(before), writer))

    def held(self, writer: str) -> list[HeldBatch]:
        rows = self._read(sql.HELD, (writer,))
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
        params = [
            (r.model, r.version, r.resolution, r.start, r.writer, r.events, r.state, r.errors) for r in rows
        ]
        held = [(writer, h.seq, h.model, h.rows, h.kind, h.reason, float(h.since)) for h in hold]
        released = [(writer, s) for s in release]

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                if folded is not None:  # savers of one stream take turns, so the overlap check holds
                    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_FOLD_LOCK, folded.stream))
                    taken = overlap(
                        folded,
                        writer,
                        lambda lo, hi: cur.execute(sql.FOLDED_OVERLAP, (folded.stream, hi, lo)).fetchall(),
                    )
                    retried, keys = duplicates(
                        folded, lambda key, model: cur.execute(sql.KEY_OF, (key, model)).fetchall()
                    )
                    if taken or retried:
                        raise AlreadyFolded(folded.stream, taken | retried)
                    now = time.time()
                    cur.executemany(
                        sql.PUT_FOLDED, [(folded.stream, lo, hi, writer, now) for lo, hi in folded.ranges]
                    )
                    if keys:
                        cur.executemany(sql.PUT_STREAM_KEY, [_stream_key(k, folded.stream) for k in keys])
                if held:
                    cur.executemany(sql.HOLD, held)
                if released:
                    cur.executemany(sql.RELEASE, released)
                if params:
                    cur.executemany(sql.SAVE_WINDOW, params)
                cur.execute(sql.SAVE_CHECKPOINT, (writer, checkpoint))

        self._run(work)

    def folded_seqs(self, stream: str, seqs: Sequence[int]) -> set[int]:
        if not seqs:
            return set()
        return within(seqs, self._read(sql.FOLDED_OVERLAP, (stream, max(seqs), min(seqs))))

    def forget_folded(self, stream: str, below: int) -> int:
        return self._write(sql.FORGET_FOLDED, (stream, below))

    def windows(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowRow]:
        query = sql.WINDOWS
        params: list[object] = [model, resolution, int_bound(start), int_bound(end)]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowRow(*r) for r in self._read(query + sql.WINDOWS_ORDER, params)]

    def window_counts(
        self, model: str, resolution: int, start: float, end: float, version: str | None = None
    ) -> list[WindowCount]:
        query = sql.WINDOW_COUNTS
        params: list[object] = [model, resolution, int_bound(start), int_bound(end)]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowCount._make(r) for r in self._read(query + sql.WINDOWS_ORDER, params)]

    def window_sums(
        self, model: str, resolution: int, start: float, end: float, period: int, version: str | None = None
    ) -> list[WindowSum]:
        query = sql.WINDOW_SUMS
        params: list[object] = [int(period), model, resolution, int_bound(start), int_bound(end)]
        if version is not None:
            query += sql.WINDOWS_OF_VERSION
            params.append(version)
        return [WindowSum._make(r) for r in self._read(query + sql.WINDOW_SUMS_GROUPS, params)]

    def window_models(self) -> list[str]:
        return [str(m) for (m,) in self._read(sql.WINDOW_MODELS)]

    def last_window_start(self, model: str, resolution: int, writer: str) -> int | None:
        rows = self._read(sql.LAST_WINDOW_START, (model, resolution, writer))
        return None if rows[0][0] is None else int(rows[0][0])

    def delete_windows(self, model: str, resolution: int, before: float) -> int:
        return self._write(sql.DELETE_WINDOWS, (model, resolution, int_bound(before)))

    # predictions and labels --------------------------------------------------------------------------------

    def put_predictions(self, batch: PredictionBatch) -> None:
        b = batch
        self._write(
            sql.PUT_PREDICTIONS, (b.model, b.writer, b.seq, float(b.start), float(b.end), b.rows, b.payload)
        )

    def predictions(self, model: str, start: float, end: float) -> list[PredictionBatch]:
        rows = self._read(sql.PREDICTIONS, [model, float(start), float(end)])
        return [PredictionBatch(m, w, q, a, b, n, bytes(p)) for m, w, q, a, b, n, p in rows]

    def put_labels(self, rows: Sequence[LabelRow]) -> None:
        last = {(r.model, r.request_id): r for r in rows}  # the latest label of a request id wins
        params = [(r.model, r.request_id, r.label, float(r.ts)) for r in last.values()]
        params.sort(key=_KEY)
        bulk_insert(
            self._run,
            "labels",
            sql.LABEL_COLUMNS,
            ("text", "text", "text", "float8"),
            params,
            sql.LABEL_CONFLICT,
        )

    def labels(self, model: str, since: float) -> list[LabelRow]:
        rows = self._read(sql.LABELS, [model, float(since)])
        return [LabelRow(*r) for r in rows]

    def label_columns(self, model: str, since: float) -> LabelColumns:
        rows = self._read(sql.LABEL_COLUMNS_SINCE, [model, float(since)])
        ids, labels, ts = zip(*rows, strict=True) if rows else ((), (), ())
        return LabelColumns(list(ids), list(labels), list(ts))

    def put_feedback(self, rows: Sequence[FeedbackRow]) -> None:
        last = {(r.model, r.request_id, r.name): r for r in rows}  # the latest of each wins
        params = [
            (r.model, r.request_id, r.name, float(r.value), r.comment, float(r.ts)) for r in last.values()
        ]

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                cur.executemany(sql.PUT_FEEDBACK, params)

        self._run(work)

    def feedback(self, model: str, start: float, end: float) -> list[FeedbackRow]:
        return [FeedbackRow(*r) for r in self._read(sql.FEEDBACK, [model, float(start), float(end)])]

    def put_content(self, rows: Sequence[ContentRow]) -> None:
        params = [dataclasses.astuple(r) for r in rows]

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                cur.executemany(sql.PUT_CONTENT, params)

        self._run(work)

    def content(self, model: str, trace_ids: Sequence[str]) -> list[ContentRow]:
        ids = sorted(set(trace_ids))
        out = []
        for i in range(0, len(ids), sql.IDS_PER_QUERY):
            chunk = ids[i : i + sql.IDS_PER_QUERY]
            query = sql.CONTENT.format(ids=", ".join(["%s"] * len(chunk)))
            out += [ContentRow(*r) for r in self._read(query, [model, *chunk])]
        return out

    def delete_predictions(self, model: str, before: float) -> int:
        def work(conn: _Conn) -> int:
            n = conn.execute(sql.DELETE_PREDICTIONS, (model, float(before))).rowcount
            conn.execute(sql.DELETE_LABELS, (model, float(before)))
            conn.execute(sql.DELETE_FEEDBACK, (model, float(before)))
            conn.execute(sql.DELETE_CONTENT, (model, float(before)))
            return n

        return self._run(work)

    # host metrics ------------------------------------------------------------------------------------------

    def put_host_metrics(self, rows: Sequence[HostRow]) -> None:
        params = [
            (r.model, r.host, float(r.ts), _f(r.cpu_percent), _f(r.memory_percent), r.memory_bytes,
             _f(r.gpu_percent), _f(r.gpu_memory_percent), r.gpu_memory_bytes)
            for r in rows
        ]  # fmt: skip
        if not params:
            return

        def work(conn: _Conn) -> None:
            with conn.cursor() as cur:
                cur.executemany(sql.PUT_HOST_METRICS, params)

        self._run(work, idempotent=False)

    def host_metrics(self, model: str, start: float, end: float) -> list[HostRow]:
        # ``id`` plays SQLite's rowid: rows with the same ts in the order they were stored
        rows = self._read(sql.HOST_METRICS + " ORDER BY ts, id", (model, float(start), float(end)))
        return [HostRow(*r) for r in rows]

    # baselines ---------------------------------------------------------------------------------------------

    def put_baseline(self, model: str, key: str, profile: bytes) -> None:
        self._write(sql.PUT_BASELINE, (model, key, profile))

    def baseline(self, model: str, key: str) -> bytes | None:
        rows = self._read(sql.BASELINE, (model, key))
        return bytes(rows[0][0]) if rows else None

    # records and the audit log ------------------------------------------------------------------------------

    def put_record(self, kind: str, id: str, body: str, at: float) -> None:
        self._write(sql.PUT_RECORD, (kind, id, body, at))

    def record(self, kind: str, id: str) -> Record | None:
        rows = self._read(sql.RECORD, (kind, id))
        return Record(*rows[0]) if rows else None

    def records(self, kind: str, since: float | None = None) -> list[Record]:
        rows = self._read(sql.RECORDS, (kind, float("-inf") if since is None else since))
        return [Record(*row) for row in rows]

    def delete_record(self, kind: str, id: str) -> bool:
        return self._write(sql.DELETE_RECORD, (kind, id)) > 0

    def delete_records(self, kind: str, before: float) -> int:
        return self._write(sql.DELETE_RECORDS, (kind, before))

    def append_audit(
        self, at: float, actor: str, action: str, target: str, before: str | None, after: str | None
    ) -> int:
        def work(conn: _Conn) -> int:
            row = conn.execute(
                sql.APPEND_AUDIT + " RETURNING seq",
                (at, actor, action, target, before, after),
            ).fetchone()
            assert row is not None
            return int(row[0])

        return self._run(work, idempotent=False)

    def audit_log(
        self, since: float = 0.0, target: str | None = None, limit: int = 1_000
    ) -> list[AuditEntry]:
        where, params = sql.audit_filter(since, target)
        rows = self._read(sql.AUDIT_LOG.format(where=where), (*params, limit))
        return [AuditEntry(*row) for row in rows]

    # API keys and secrets ---------------------------------------------------------------------------------

    def put_api_key(self, key: ApiKeyRecord) -> None:
        params = dataclasses.astuple(key)
        self._run(lambda conn: conn.execute(sql.PUT_API_KEY, params), idempotent=False)

    def api_keys(self) -> list[ApiKeyRecord]:
        return [ApiKeyRecord(*row) for row in self._read(sql.API_KEYS)]

    def api_key(self, id: str) -> ApiKeyRecord | None:
        rows = self._read(sql.API_KEY_BY_ID, (id,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def api_key_by_digest(self, digest: str) -> ApiKeyRecord | None:
        rows = self._read(sql.API_KEY_BY_DIGEST, (digest,))
        return ApiKeyRecord(*rows[0]) if rows else None

    def touch_api_key(self, id: str, at: float) -> None:
        self._write(sql.TOUCH_API_KEY, (float(at), id, float(at)))

    def delete_api_key(self, id: str) -> bool:
        return self._write(sql.DELETE_API_KEY, (id,)) > 0

    def secret(self, name: str, candidate: bytes, at: float) -> bytes:
        def work(conn: _Conn) -> bytes:
            conn.execute(sql.PUT_SECRET, (name, candidate, float(at)))
            row = conn.execute(sql.SECRET, (name,), binary=True).fetchone()
            assert row is not None
            return bytes(row[0])

        return self._run(work)

    def lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        def work(conn: _Conn) -> bool:
            return conn.execute(sql.LEASE, (name, holder, now + ttl, now)).fetchone() is not None

        return self._run(work)


def _stream_key(k: StreamKey, stream: str) -> tuple[object, ...]:
    return (k.key, k.model, k.digest, k.seq, k.rows, float(k.received_at), stream)
