"""The ingest log joins the audit trail: each refusal becomes a link of a hash chain.

``link`` is the entry's place in the chain, assigned by the writer (head + 1, read inside the
write transaction) because the engine's ``seq`` skips numbers when a transaction rolls back on
PostgreSQL.  Rows written before this step have no link: they are listed, not verified (their
hashes cannot be computed in SQL).  Unique links and previous hashes make a second writer that
read the same head fail instead of forking the chain.
"""

STATEMENTS = [
    "ALTER TABLE ingest_log ADD COLUMN link {bigint}",
    "ALTER TABLE ingest_log ADD COLUMN prev_hash TEXT",
    "ALTER TABLE ingest_log ADD COLUMN hash TEXT",
    "CREATE UNIQUE INDEX ingest_log_link ON ingest_log (link)",
    "CREATE UNIQUE INDEX ingest_log_prev_hash ON ingest_log (prev_hash)",
]
