"""Reports from citizens and organisations (web form, e-mail), their attachments, the candidate
indicators found in them, the triage decision, and the per-address counters of the web form.

A report's status token is kept only as its SHA-256; the reporter's details never leave.
"""

STATEMENTS = [
    """CREATE TABLE reports (
        id {serial},
        reference TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        category TEXT NOT NULL,
        summary TEXT NOT NULL,
        what TEXT NOT NULL,
        occurred TEXT,
        reporter_name TEXT,
        reporter_contact TEXT,
        reporter_kind TEXT NOT NULL,
        language TEXT NOT NULL,
        received TEXT NOT NULL,
        message_id TEXT,
        state TEXT NOT NULL,
        decided_at TEXT,
        decided_by TEXT,
        reason TEXT,
        incident TEXT
    )""",
    "CREATE INDEX reports_state ON reports (state, received)",
    "CREATE UNIQUE INDEX reports_message_id ON reports (message_id)",
    """CREATE TABLE report_attachments (
        report_id {bigint} NOT NULL REFERENCES reports (id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size {bigint} NOT NULL,
        sha256 TEXT NOT NULL,
        PRIMARY KEY (report_id, position)
    )""",
    """CREATE TABLE report_indicators (
        report_id {bigint} NOT NULL REFERENCES reports (id),
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (report_id, kind, value)
    )""",
    """CREATE TABLE intake_hits (
        address TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX intake_hits_address ON intake_hits (address, at)",
]
