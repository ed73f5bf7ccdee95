"""What statistics and sightings need without reading every version of every object.

``incident_facts``: when an incident was first acknowledged (left ``new``) and closed, and who
reported it through which channel, kept as each version is stored.  ``sighting_index``: every
sighting's indicator, count, period, when it counts (``seen``: last seen, else first seen, else
created) and organisations sighted.  ``memory_cursors``: how far
``cirt correlate`` has looked (an ``added`` stamp).  ``relationship_index``: both ends of every
relationship, ours and partners', so an incident's related incidents are one look-up.
"""

STATEMENTS = [
    """CREATE TABLE incident_facts (
        incident_id TEXT PRIMARY KEY,
        acknowledged TEXT,
        closed TEXT,
        reporter_kind TEXT,
        channel TEXT
    )""",
    """CREATE TABLE sighting_index (
        sighting_id TEXT PRIMARY KEY,
        indicator_id TEXT NOT NULL,
        count {bigint} NOT NULL,
        first_seen TEXT,
        last_seen TEXT,
        seen TEXT NOT NULL,
        sighted_by TEXT NOT NULL
    )""",
    "CREATE INDEX sighting_index_indicator ON sighting_index (indicator_id)",
    "CREATE INDEX sighting_index_seen ON sighting_index (seen)",
    """CREATE TABLE relationship_index (
        relationship_id TEXT PRIMARY KEY,
        relationship_type TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        target_ref TEXT NOT NULL
    )""",
    "CREATE INDEX relationship_index_source ON relationship_index (source_ref)",
    "CREATE INDEX relationship_index_target ON relationship_index (target_ref)",
    # cirt report reads every due item of the period's incidents from this index alone
    "CREATE INDEX due_items_report ON due_items (incident_id, kind, phase, state, due, done_at)",
    """CREATE TABLE memory_cursors (
        name TEXT PRIMARY KEY,
        position TEXT NOT NULL
    )""",
]
