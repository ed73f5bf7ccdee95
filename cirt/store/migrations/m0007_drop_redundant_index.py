"""The unique (id, modified) key already serves look-ups by id: one index fewer to write."""

STATEMENTS = [
    "DROP INDEX objects_id",
]
