"""The disclosure log: one append-only row per release, chained by hashes.

``seq`` is assigned by the writer (head + 1, read inside the write transaction), not by the engine:
a primary key on it, and uniqueness of ``prev_hash``, make a second writer that read the same head
fail instead of forking the chain on an engine that does not serialise transactions.
Look-ups by object search the ``objects`` text: the log is written on every release (every TAXII
page) and read rarely, so it carries no per-object index to maintain.
"""

STATEMENTS = [
    """CREATE TABLE disclosures (
        seq {bigint} PRIMARY KEY,
        recorded TEXT NOT NULL,
        analyst TEXT NOT NULL,
        recipient TEXT NOT NULL,
        channel TEXT NOT NULL,
        objects TEXT NOT NULL,
        tlp INTEGER NOT NULL,
        prev_hash TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE
    )""",
    "CREATE INDEX disclosures_recipient ON disclosures (recipient, seq)",
]
