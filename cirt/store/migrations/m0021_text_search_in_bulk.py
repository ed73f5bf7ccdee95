"""SQLite's full-text index is filled by the index's writer in one statement per batch.

A trigger inserting each row of ``search_text`` into ``search_fts`` on its own cost about four
times one set-based ``INSERT … SELECT`` on a 100,000-indicator import; ``search_index`` now
writes the new rows' words itself (and ``cirt db copy`` rebuilds them).  Removals keep their
trigger.  PostgreSQL's GIN index needs nothing.
"""

STATEMENTS: list[str] = []

ENGINE_STATEMENTS = {
    "sqlite": ["DROP TRIGGER search_text_added"],
}
