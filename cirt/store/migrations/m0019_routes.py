"""Routed notifications: an inbound observable that falls in a party's declared assets.

One row per party and value, so re-seeing a value counts a sighting instead of notifying again.
"""

STATEMENTS = [
    """CREATE TABLE routes (
        id {serial},
        party TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        asset TEXT NOT NULL,
        object_id TEXT NOT NULL,
        source TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        seen INTEGER NOT NULL,
        state TEXT NOT NULL,
        sent_at TEXT,
        bulletin TEXT,
        UNIQUE (party, value)
    )""",
    "CREATE INDEX routes_state ON routes (state, party)",
]
