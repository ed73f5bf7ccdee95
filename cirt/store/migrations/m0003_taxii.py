"""TAXII exchange state: pull cursors, push state per object and peer, server credentials, status."""

STATEMENTS = [
    """CREATE TABLE taxii_cursors (
        peer TEXT NOT NULL,
        collection TEXT NOT NULL,
        added_after TEXT NOT NULL,
        complete INTEGER NOT NULL,
        updated TEXT NOT NULL,
        PRIMARY KEY (peer, collection)
    )""",
    """CREATE TABLE taxii_push (
        object_id TEXT NOT NULL,
        modified TEXT NOT NULL,
        peer TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_attempt TEXT NOT NULL,
        next_attempt TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (object_id, modified, peer)
    )""",
    "CREATE INDEX taxii_push_state ON taxii_push (peer, state, next_attempt)",
    """CREATE TABLE taxii_credentials (
        username TEXT PRIMARY KEY,
        party TEXT NOT NULL,
        salt TEXT NOT NULL,
        digest TEXT NOT NULL,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX taxii_credentials_party ON taxii_credentials (party)",
    """CREATE TABLE taxii_status (
        id TEXT PRIMARY KEY,
        party TEXT NOT NULL,
        created TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
]
