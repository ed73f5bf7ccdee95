"""The observable index: every value an object's newest version holds, for search and correlation.

One row per (object, value), with the ``added`` stamp of the version (the correlation cursor).
``lookup`` is what a B-tree finds fast on both engines: for
addresses the first address of the range as fixed-width hexadecimal (``ip_end`` the last), so a
range holding an address is one of its 33 (IPv4) or 129 (IPv6) prefix networks and the ranges
inside a range are a key range; for domains the labels reversed (``com.example.www.``), so the
subdomains of a domain are a key range; otherwise the normal form.  PostgreSQL also indexes the
addresses as ``inet`` with GiST, where ``&&`` (contains or is contained by) is one index scan.
"""

STATEMENTS = [
    """CREATE TABLE observable_index (
        object_id TEXT NOT NULL,
        object_type TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        lookup TEXT NOT NULL,
        ip_end TEXT,
        added TEXT NOT NULL,
        PRIMARY KEY (object_id, kind, value)
    )""",
    "CREATE INDEX observable_index_lookup ON observable_index (kind, lookup)",
    "CREATE INDEX observable_index_added ON observable_index (added)",
]

ENGINE_STATEMENTS = {
    "postgresql": [
        "CREATE INDEX observable_index_inet ON observable_index USING gist"
        " ((CAST(value AS inet)) inet_ops) WHERE kind IN ('ip4', 'ip6')",
    ],
}
