"""The PostgreSQL store's schema, one migration (a list of statements, run in one transaction) after the
other; the SQLite store's ``migrations.sqlite`` keeps the same tables, keys and indexes."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: list[list[str]] = [
    # 1: everything (the same keys and indexes as the SQLite store)
    [
        """CREATE TABLE models (
            name TEXT COLLATE "C" PRIMARY KEY, spec TEXT NOT NULL, source TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL)""",
        """CREATE TABLE ingest_log (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, writer TEXT COLLATE "C" NOT NULL,
            model TEXT NOT NULL, rows BIGINT NOT NULL, payload BYTEA NOT NULL,
            received_at DOUBLE PRECISION NOT NULL, key TEXT)""",
        "CREATE INDEX ingest_log_writer ON ingest_log (writer, seq)",
        "CREATE UNIQUE INDEX ingest_log_key ON ingest_log (model, key)",
        """CREATE TABLE checkpoints (writer TEXT COLLATE "C" PRIMARY KEY, seq BIGINT NOT NULL)""",
        """CREATE TABLE windows (
            model TEXT COLLATE "C" NOT NULL, version TEXT COLLATE "C" NOT NULL, resolution INTEGER NOT NULL,
            start BIGINT NOT NULL, writer TEXT COLLATE "C" NOT NULL, events BIGINT NOT NULL,
            state BYTEA NOT NULL, PRIMARY KEY (model, resolution, start, version, writer))""",
        """CREATE TABLE predictions (
            model TEXT COLLATE "C" NOT NULL, writer TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
            start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION NOT NULL, rows BIGINT NOT NULL,
            payload BYTEA NOT NULL, PRIMARY KEY (model, writer, seq))""",
        'CREATE INDEX predictions_end ON predictions (model, "end")',
        """CREATE TABLE labels (
            model TEXT COLLATE "C" NOT NULL, request_id TEXT COLLATE "C" NOT NULL, label TEXT NOT NULL,
            ts DOUBLE PRECISION NOT NULL, PRIMARY KEY (model, request_id))""",
        "CREATE INDEX labels_ts ON labels (model, ts)",
        # ``id`` plays SQLite's rowid: rows with the same ts come back in the order they were stored
        """CREATE TABLE host_metrics (
            id BIGINT GENERATED ALWAYS AS IDENTITY, model TEXT COLLATE "C" NOT NULL,
            host TEXT COLLATE "C" NOT NULL, ts DOUBLE PRECISION NOT NULL, cpu_percent DOUBLE PRECISION,
            memory_percent DOUBLE PRECISION, memory_bytes BIGINT, gpu_percent DOUBLE PRECISION,
            gpu_memory_percent DOUBLE PRECISION, gpu_memory_bytes BIGINT)""",
        "CREATE INDEX host_metrics_ts ON host_metrics (model, ts)",
        """CREATE TABLE baselines (
            model TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, profile BYTEA NOT NULL,
            PRIMARY KEY (model, key))""",
    ],
    # 2: records and the audit log
    [
        """CREATE TABLE records (
            kind TEXT COLLATE "C" NOT NULL, id TEXT COLLATE "C" NOT NULL, body TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (kind, id))""",
        "CREATE INDEX records_updated ON records (kind, updated_at)",
        """CREATE TABLE audit (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT COLLATE "C" NOT NULL, before TEXT,
            after TEXT)""",
        "CREATE INDEX audit_at ON audit (at)",
    ],
    # 3: held batches
    [
        """CREATE TABLE held (
            writer TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, model TEXT NOT NULL, rows BIGINT NOT NULL,
            kind TEXT NOT NULL, reason TEXT NOT NULL, since DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (writer, seq))""",
    ],
    # 4: idempotency keys with the digest of their request, kept after the log lets the batch go
    [
        """CREATE TABLE ingest_keys (
            key TEXT COLLATE "C" NOT NULL, model TEXT COLLATE "C" NOT NULL, digest BYTEA, seq BIGINT NOT NULL,
            rows BIGINT NOT NULL, received_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (key, model))""",
        "CREATE INDEX ingest_keys_received ON ingest_keys (model, received_at)",
        """INSERT INTO ingest_keys
            SELECT key, model, NULL, seq, rows, received_at FROM ingest_log WHERE key IS NOT NULL""",
    ],
    # 5: API keys created through the API (their SHA-256, never the key) and the server's own secrets
    [
        """CREATE TABLE api_keys (
            id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
            digest TEXT COLLATE "C" NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL,
            created_by TEXT NOT NULL, last_used DOUBLE PRECISION)""",
        """CREATE TABLE secrets (
            name TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL)""",
    ],
    # 6: the windows' event and error counts, read without their states (an index-only scan); errors NULL in
    # older rows
    [
        "ALTER TABLE windows ADD COLUMN errors BIGINT",
        """CREATE INDEX windows_counts ON windows (model, resolution, start, version, writer)
            INCLUDE (events, errors)""",
    ],
    # 7: feedback on predictions (thumbs, ratings, evaluator scores), the latest per request id and name
    [
        """CREATE TABLE feedback (
            model TEXT COLLATE "C" NOT NULL, request_id TEXT COLLATE "C" NOT NULL,
            name TEXT COLLATE "C" NOT NULL, value DOUBLE PRECISION NOT NULL, comment TEXT,
            ts DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (model, request_id, name))""",
        "CREATE INDEX feedback_ts ON feedback (model, ts)",
    ],
    # 8: broker messages folded into each writer's windows (stream sequence ranges), saved with them
    [
        """CREATE TABLE folded (
            stream TEXT COLLATE "C" NOT NULL, first BIGINT NOT NULL, last BIGINT NOT NULL,
            writer TEXT COLLATE "C" NOT NULL, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (stream, first))""",
        "CREATE INDEX folded_last ON folded (stream, last)",
    ],
    # 9: LLM calls' prompts and completions from OTLP log records, scrubbed, whenever they arrive
    [
        """CREATE TABLE llm_content (
            model TEXT COLLATE "C" NOT NULL, trace_id TEXT COLLATE "C" NOT NULL,
            span_id TEXT COLLATE "C" NOT NULL, record BYTEA NOT NULL, ts DOUBLE PRECISION NOT NULL,
            seq INTEGER NOT NULL, prompt TEXT, completion TEXT,
            PRIMARY KEY (model, trace_id, span_id, record))""",
        "CREATE INDEX llm_content_ts ON llm_content (model, ts)",
    ],
    # 10: idempotency keys of broker messages, recorded by the workers with the windows (seq: the stream's)
    ['ALTER TABLE ingest_keys ADD COLUMN stream TEXT COLLATE "C"'],
]
