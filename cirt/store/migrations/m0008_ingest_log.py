"""The ingest log: every refusal of inbound data (a whole document or one object), with its
source and reason, so that what a peer tried and was refused can be shown afterwards."""

STATEMENTS = [
    """CREATE TABLE ingest_log (
        seq {serial},
        recorded TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source TEXT NOT NULL,
        collection TEXT,
        object_id TEXT,
        version TEXT,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
    "CREATE INDEX ingest_log_source ON ingest_log (source_kind, source)",
]
