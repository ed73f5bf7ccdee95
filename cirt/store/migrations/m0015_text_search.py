"""Full-text search over incidents (reference, title, summary), notes, evidence and indicators.

``search_text`` holds one row of words per object (its newest version).  SQLite indexes it with
an FTS5 table kept in step by triggers; PostgreSQL with a GIN index on its ``tsvector`` (the
``simple`` configuration: no stemming).  On PostgreSQL every run of non-word characters becomes a
space first, so that words split where FTS5 splits them (PostgreSQL's parser would keep
``host1.zone2.example`` or a URL as one token).
"""

STATEMENTS = [
    """CREATE TABLE search_text (
        seq {serial},
        object_id TEXT NOT NULL UNIQUE,
        object_type TEXT NOT NULL,
        content TEXT NOT NULL
    )""",
]

ENGINE_STATEMENTS = {
    "sqlite": [
        "CREATE VIRTUAL TABLE search_fts USING fts5(content, content='search_text',"
        " content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
        """CREATE TRIGGER search_text_added AFTER INSERT ON search_text BEGIN
            INSERT INTO search_fts (rowid, content) VALUES (new.seq, new.content);
        END""",
        """CREATE TRIGGER search_text_removed AFTER DELETE ON search_text BEGIN
            INSERT INTO search_fts (search_fts, rowid, content)
            VALUES ('delete', old.seq, old.content);
        END""",
    ],
    "postgresql": [
        "CREATE INDEX search_text_words ON search_text USING gin"
        " (to_tsvector('simple'::regconfig, regexp_replace(content, '\\W+', ' ', 'g')))",
    ],
}
