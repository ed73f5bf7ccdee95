"""Each disclosure says how it left: ``sent`` (to a peer, a mailbox, a TAXII reader) or ``file``
(written to a file the analyst hands on).  Entries written before say nothing (empty)."""

STATEMENTS = [
    "ALTER TABLE disclosures ADD COLUMN delivery TEXT NOT NULL DEFAULT ''",
]
