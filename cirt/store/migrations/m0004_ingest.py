"""MISP exchange state: which events went to which partner, and how far each pull got."""

STATEMENTS = [
    """CREATE TABLE misp_pushed (
        partner TEXT NOT NULL,
        event_uuid TEXT NOT NULL,
        digest TEXT NOT NULL,
        pushed TEXT NOT NULL,
        PRIMARY KEY (partner, event_uuid)
    )""",
    """CREATE TABLE misp_pull_cursor (
        partner TEXT PRIMARY KEY,
        last_timestamp {bigint} NOT NULL,
        pulled TEXT NOT NULL
    )""",
]
