"""Tasks and notification duties of incidents: an index over their STIX ``task`` objects.

The STIX objects (all versions) stay the record; this table answers "what is due before T, for
which open incidents" without reading every object.  Times are UTC RFC 3339 strings with
milliseconds, so text order is time order on every engine.
"""

STATEMENTS = [
    """CREATE TABLE due_items (
        task_id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        item_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        phase TEXT NOT NULL,
        owner TEXT,
        parties TEXT NOT NULL,
        role TEXT,
        playbook TEXT,
        level TEXT,
        due TEXT,
        after_key TEXT,
        offset_minutes INTEGER NOT NULL,
        state TEXT NOT NULL,
        done_at TEXT,
        done_by TEXT,
        note TEXT,
        UNIQUE (incident_id, item_key)
    )""",
    "CREATE INDEX due_items_state_due ON due_items (state, due)",
    "CREATE INDEX due_items_incident ON due_items (incident_id, position)",
]
