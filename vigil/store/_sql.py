"""The statements both SQL stores run, written once in PostgreSQL's placeholder style.

``%s`` is a parameter and ``%b`` a parameter sent in binary (``bytea``: window states, digests, profiles);
``qmark`` turns a statement into SQLite's ``?`` style. Only the schemas (types, collations), the ingest log's
``seq`` (SQLite's rowid, PostgreSQL's identity) and reading several log entries at once differ by backend,
and stay in the backends.
"""

from __future__ import annotations

import functools

__all__ = ["audit_filter", "qmark"]


@functools.cache
def qmark(sql: str) -> str:
    """The statement with SQLite's ``?`` placeholders (and ``%%``, PostgreSQL's escaped ``%``, as ``%``)."""
    return sql.replace("%%", "%").replace("%s", "?").replace("%b", "?")


# registry
PUT_MODEL = """INSERT INTO models VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET
    spec = excluded.spec, source = excluded.source, updated_at = excluded.updated_at"""
MODELS = "SELECT name, spec, source, updated_at FROM models ORDER BY name"
DELETE_MODEL = "DELETE FROM models WHERE name = %s"

# ingest log and idempotency keys
APPEND = "INSERT INTO ingest_log (writer, model, rows, payload, received_at) VALUES (%s, %s, %s, %b, %s)"
PUT_KEY = """INSERT INTO ingest_keys (key, model, digest, seq, rows, received_at)
    VALUES (%s, %s, %b, %s, %s, %s)"""
KEY_COLUMNS_OF_BATCHES = "SELECT key, model, seq, rows, digest, received_at, stream FROM ingest_keys"
"""Followed by the backend's ``WHERE`` on several keys, then ``ORDER BY key, model``."""
KEY_OF = "SELECT digest, seq, stream FROM ingest_keys WHERE key = %s AND model = %s"
PUT_STREAM_KEY = """INSERT INTO ingest_keys (key, model, digest, seq, rows, received_at, stream)
    VALUES (%s, %s, %b, %s, %s, %s, %s) ON CONFLICT (key, model) DO NOTHING"""
"""A key a broker message came with, recorded with the windows it was folded into (see ``duplicates``)."""
FORGET_KEYS = "DELETE FROM ingest_keys WHERE model = %s AND received_at < %s"
LOG_COLUMNS = "SELECT seq, writer, model, rows, payload, received_at FROM ingest_log"
READ_LOG = f"{LOG_COLUMNS} WHERE writer = %s AND seq > %s ORDER BY seq LIMIT %s"
LOG_SEQS = "SELECT seq FROM ingest_log WHERE writer = %s AND seq > %s AND seq <= %s ORDER BY seq"
CHECKPOINT = "SELECT seq FROM checkpoints WHERE writer = %s"
PRUNE_LOG = """DELETE FROM ingest_log WHERE writer = %s AND seq <= %s AND received_at < %s
    AND seq NOT IN (SELECT seq FROM held WHERE writer = %s)"""
"""Prune a writer's log, keeping its held batches."""
HELD = "SELECT seq, model, rows, kind, reason, since FROM held WHERE writer = %s ORDER BY seq"
HOLD = """INSERT INTO held VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (writer, seq) DO UPDATE SET
    model = excluded.model, rows = excluded.rows, kind = excluded.kind, reason = excluded.reason,
    since = excluded.since"""
RELEASE = "DELETE FROM held WHERE writer = %s AND seq = %s"

# windows
SAVE_WINDOW = """INSERT INTO windows (model, version, resolution, start, writer, events, state, errors)
    VALUES (%s, %s, %s, %s, %s, %s, %b, %s)
    ON CONFLICT (model, resolution, start, version, writer) DO UPDATE SET
    events = excluded.events, state = excluded.state, errors = excluded.errors"""
FOLDED_OVERLAP = """SELECT first, last, writer FROM folded
    WHERE stream = %s AND first <= %s AND last >= %s"""
PUT_FOLDED = """INSERT INTO folded VALUES (%s, %s, %s, %s, %s) ON CONFLICT (stream, first) DO NOTHING"""
FORGET_FOLDED = "DELETE FROM folded WHERE stream = %s AND last < %s"
SAVE_CHECKPOINT = """INSERT INTO checkpoints VALUES (%s, %s)
    ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq"""
WINDOWS = """SELECT model, version, resolution, start, writer, events, state, errors FROM windows
    WHERE model = %s AND resolution = %s AND start >= %s AND start < %s"""
"""Followed by ``WINDOWS_OF_VERSION`` or not, then ``WINDOWS_ORDER``."""
WINDOW_COUNTS = """SELECT version, resolution, start, writer, events, errors FROM windows
    WHERE model = %s AND resolution = %s AND start >= %s AND start < %s"""
"""As ``WINDOWS``, without the states."""
WINDOW_SUMS = """SELECT version, start - (start %% %s) AS period, COUNT(*), SUM(events),
    CASE WHEN COUNT(errors) = COUNT(*) THEN SUM(errors) END FROM windows
    WHERE model = %s AND resolution = %s AND start >= %s AND start < %s"""
"""Followed by ``WINDOWS_OF_VERSION`` or not, then ``WINDOW_SUMS_GROUPS``."""
WINDOW_SUMS_GROUPS = " GROUP BY version, period ORDER BY period, version"
WINDOWS_OF_VERSION = " AND version = %s"
WINDOWS_ORDER = " ORDER BY start, version, writer"
WINDOW_MODELS = "SELECT DISTINCT model FROM windows ORDER BY model"
LAST_WINDOW_START = "SELECT max(start) FROM windows WHERE model = %s AND resolution = %s AND writer = %s"
DELETE_WINDOWS = "DELETE FROM windows WHERE model = %s AND resolution = %s AND start < %s"

# predictions and labels
PUT_PREDICTIONS = "INSERT INTO predictions VALUES (%s, %s, %s, %s, %s, %s, %b) ON CONFLICT DO NOTHING"
PREDICTIONS = """SELECT model, writer, seq, start, "end", rows, payload FROM predictions
    WHERE model = %s AND "end" >= %s AND start < %s ORDER BY seq, writer"""
LABEL_COLUMNS = ("model", "request_id", "label", "ts")
LABEL_CONFLICT = "ON CONFLICT (model, request_id) DO UPDATE SET label = excluded.label, ts = excluded.ts"
"""The latest label of a request id wins."""
PUT_LABEL = f"INSERT INTO labels ({', '.join(LABEL_COLUMNS)}) VALUES (%s, %s, %s, %s) {LABEL_CONFLICT}"
LABELS = """SELECT model, request_id, label, ts FROM labels WHERE model = %s AND ts >= %s
    ORDER BY ts, request_id"""
LABEL_COLUMNS_SINCE = """SELECT request_id, label, ts FROM labels WHERE model = %s AND ts >= %s
    ORDER BY ts, request_id"""
DELETE_PREDICTIONS = 'DELETE FROM predictions WHERE model = %s AND "end" < %s'
DELETE_LABELS = "DELETE FROM labels WHERE model = %s AND ts < %s"
PUT_FEEDBACK = """INSERT INTO feedback (model, request_id, name, value, comment, ts)
    VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (model, request_id, name)
    DO UPDATE SET value = excluded.value, comment = excluded.comment, ts = excluded.ts"""
FEEDBACK = """SELECT model, request_id, name, value, comment, ts FROM feedback
    WHERE model = %s AND ts >= %s AND ts < %s ORDER BY ts, request_id, name"""
DELETE_FEEDBACK = "DELETE FROM feedback WHERE model = %s AND ts < %s"
PUT_CONTENT = """INSERT INTO llm_content (model, trace_id, span_id, record, ts, seq, prompt, completion)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (model, trace_id, span_id, record) DO NOTHING"""
CONTENT = """SELECT model, trace_id, span_id, record, ts, seq, prompt, completion FROM llm_content
    WHERE model = %s AND trace_id IN ({ids}) ORDER BY trace_id, span_id, ts, seq"""
IDS_PER_QUERY = 500
"""Trace ids per query of ``CONTENT`` (well under either backend's limit on parameters)."""
DELETE_CONTENT = "DELETE FROM llm_content WHERE model = %s AND ts < %s"

# host metrics
HOST_COLUMNS = """model, host, ts, cpu_percent, memory_percent, memory_bytes, gpu_percent, gpu_memory_percent,
    gpu_memory_bytes"""
PUT_HOST_METRICS = f"INSERT INTO host_metrics ({HOST_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
HOST_METRICS = f"SELECT {HOST_COLUMNS} FROM host_metrics WHERE model = %s AND ts >= %s AND ts < %s"
"""Followed by the backend's order: by ``ts``, then the order rows were stored in."""

# baselines
PUT_BASELINE = """INSERT INTO baselines VALUES (%s, %s, %b) ON CONFLICT (model, key) DO UPDATE SET
    profile = excluded.profile"""
BASELINE = "SELECT profile FROM baselines WHERE model = %s AND key = %s"

# records, leases and the audit log
PUT_RECORD = """INSERT INTO records VALUES (%s, %s, %s, %s) ON CONFLICT (kind, id) DO UPDATE SET
    body = excluded.body, updated_at = excluded.updated_at"""
RECORD = "SELECT kind, id, body, updated_at FROM records WHERE kind = %s AND id = %s"
RECORDS = """SELECT kind, id, body, updated_at FROM records WHERE kind = %s AND updated_at >= %s
    ORDER BY updated_at, id"""
DELETE_RECORD = "DELETE FROM records WHERE kind = %s AND id = %s"
DELETE_RECORDS = "DELETE FROM records WHERE kind = %s AND updated_at < %s"
LEASE = """INSERT INTO records (kind, id, body, updated_at) VALUES ('lease', %s, %s, %s)
    ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
    WHERE records.body = excluded.body OR records.updated_at <= %s RETURNING 1"""
"""Take a lease (``updated_at`` holds its expiry) unless another holder's has not expired."""
APPEND_AUDIT = "INSERT INTO audit (at, actor, action, target, before, after) VALUES (%s, %s, %s, %s, %s, %s)"
AUDIT_LOG = """SELECT * FROM (SELECT seq, at, actor, action, target, before, after FROM audit WHERE {where}
    ORDER BY seq DESC LIMIT %s) AS newest ORDER BY seq"""
"""The newest entries, oldest first; ``{where}`` is ``audit_filter``'s."""


# API keys (their SHA-256) and the server's secrets
KEY_COLUMNS = "id, name, role, digest, created_at, created_by, last_used"
PUT_API_KEY = f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
API_KEYS = f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
API_KEY_BY_ID = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = %s"
API_KEY_BY_DIGEST = f"SELECT {KEY_COLUMNS} FROM api_keys WHERE digest = %s"
TOUCH_API_KEY = "UPDATE api_keys SET last_used = %s WHERE id = %s AND (last_used IS NULL OR last_used < %s)"
DELETE_API_KEY = "DELETE FROM api_keys WHERE id = %s"
PUT_SECRET = "INSERT INTO secrets VALUES (%s, %b, %s) ON CONFLICT (name) DO NOTHING"
SECRET = "SELECT value FROM secrets WHERE name = %s"


def audit_filter(since: float, target: str | None) -> tuple[str, tuple[object, ...]]:
    """The WHERE clause of the audit log's reading and its parameters: a ``target`` ending in ``/`` is a
    prefix."""
    if target is None:
        return "at >= %s", (since,)
    if target.endswith("/"):
        return "at >= %s AND substr(target, 1, %s) = %s", (since, len(target), target)
    return "at >= %s AND target = %s", (since, target)
