"""The SQLite store's schema, one script per migration (each run in its own transaction; the file's
``user_version`` counts those applied); ``migrations.postgres`` keeps the same tables, keys and indexes."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[str] = [
    # 1: everything
    """
    CREATE TABLE models (
        name TEXT PRIMARY KEY, spec TEXT NOT NULL, source TEXT NOT NULL, updated_at REAL NOT NULL);
    CREATE TABLE ingest_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, writer TEXT NOT NULL, model TEXT NOT NULL,
        rows INTEGER NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL, key TEXT);
    CREATE INDEX ingest_log_writer ON ingest_log (writer, seq);
    CREATE UNIQUE INDEX ingest_log_key ON ingest_log (model, key);
    CREATE TABLE checkpoints (writer TEXT PRIMARY KEY, seq INTEGER NOT NULL);
    CREATE TABLE windows (
        model TEXT NOT NULL, version TEXT NOT NULL, resolution INTEGER NOT NULL, start INTEGER NOT NULL,
        writer TEXT NOT NULL, events INTEGER NOT NULL, state BLOB NOT NULL,
        PRIMARY KEY (model, resolution, start, version, writer)) WITHOUT ROWID;
    CREATE TABLE predictions (
        model TEXT NOT NULL, writer TEXT NOT NULL, seq INTEGER NOT NULL, start REAL NOT NULL,
        "end" REAL NOT NULL, rows INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (model, writer, seq));
    CREATE INDEX predictions_end ON predictions (model, "end");
    CREATE TABLE labels (
        model TEXT NOT NULL, request_id TEXT NOT NULL, label TEXT NOT NULL, ts REAL NOT NULL,
        PRIMARY KEY (model, request_id)) WITHOUT ROWID;
    CREATE INDEX labels_ts ON labels (model, ts);
    CREATE TABLE host_metrics (
        model TEXT NOT NULL, host TEXT NOT NULL, ts REAL NOT NULL, cpu_percent REAL, memory_percent REAL,
        memory_bytes INTEGER, gpu_percent REAL, gpu_memory_percent REAL, gpu_memory_bytes INTEGER);
    CREATE INDEX host_metrics_ts ON host_metrics (model, ts);
    CREATE TABLE baselines (
        model TEXT NOT NULL, key TEXT NOT NULL, profile BLOB NOT NULL, PRIMARY KEY (model, key));
    """,
    # 2: records and the audit log
    """
    CREATE TABLE records (
        kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (kind, id)) WITHOUT ROWID;
    CREATE INDEX records_updated ON records (kind, updated_at);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT NOT NULL, before TEXT, after TEXT);
    CREATE INDEX audit_at ON audit (at);
    """,
    # 3: held batches
    """
    CREATE TABLE held (
        writer TEXT NOT NULL, seq INTEGER NOT NULL, model TEXT NOT NULL, rows INTEGER NOT NULL,
        kind TEXT NOT NULL, reason TEXT NOT NULL, since REAL NOT NULL,
        PRIMARY KEY (writer, seq)) WITHOUT ROWID;
    """,
    # 4: idempotency keys with the digest of their request, kept after the log lets the batch go
    """
    CREATE TABLE ingest_keys (
        key TEXT NOT NULL, model TEXT NOT NULL, digest BLOB, seq INTEGER NOT NULL, rows INTEGER NOT NULL,
        received_at REAL NOT NULL, PRIMARY KEY (key, model)) WITHOUT ROWID;
    CREATE INDEX ingest_keys_received ON ingest_keys (model, received_at);
    INSERT INTO ingest_keys
        SELECT key, model, NULL, seq, rows, received_at FROM ingest_log WHERE key IS NOT NULL;
    """,
    # 5: API keys created through the API (their SHA-256, never the key) and the server's own secrets
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL, created_by TEXT NOT NULL, last_used REAL) WITHOUT ROWID;
    CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL, created_at REAL NOT NULL) WITHOUT ROWID;
    """,
    # 6: the windows' event and error counts, read without their states (a covering index: some 2 ms for 2
    # days of minute windows of a model, not 20 reading the states' pages); errors NULL in older rows
    """
    ALTER TABLE windows ADD COLUMN errors INTEGER;
    CREATE INDEX windows_counts ON windows (model, resolution, start, version, writer, events, errors);
    """,
    # 7: feedback on predictions (thumbs, ratings, evaluator scores), the latest per request id and name
    """
    CREATE TABLE feedback (
        model TEXT NOT NULL, request_id TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        comment TEXT, ts REAL NOT NULL, PRIMARY KEY (model, request_id, name)) WITHOUT ROWID;
    CREATE INDEX feedback_ts ON feedback (model, ts);
    """,
    # 8: broker messages folded into each writer's windows (stream sequence ranges), saved with them
    """
    CREATE TABLE folded (
        stream TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, writer TEXT NOT NULL,
        at REAL NOT NULL, PRIMARY KEY (stream, first)) WITHOUT ROWID;
    CREATE INDEX folded_last ON folded (stream, last);
    """,
    # 9: LLM calls' prompts and completions from OTLP log records, scrubbed, whenever they arrive
    """
    CREATE TABLE llm_content (
        model TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, record BLOB NOT NULL,
        ts REAL NOT NULL, seq INTEGER NOT NULL, prompt TEXT, completion TEXT,
        PRIMARY KEY (model, trace_id, span_id, record)) WITHOUT ROWID;
    CREATE INDEX llm_content_ts ON llm_content (model, ts);
    """,
    # 10: idempotency keys of broker messages, recorded by the workers with the windows (seq: the stream's)
    """
    ALTER TABLE ingest_keys ADD COLUMN stream TEXT;
    """,
]
