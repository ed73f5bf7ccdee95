"""Objects with every version, provenance, the incident index and the audience."""

STATEMENTS = [
    """CREATE TABLE objects (
        seq {serial},
        id TEXT NOT NULL,
        modified TEXT NOT NULL,
        type TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        added TEXT NOT NULL,
        tlp INTEGER NOT NULL,
        latest INTEGER NOT NULL,
        origin TEXT NOT NULL,
        body TEXT NOT NULL,
        UNIQUE (id, modified)
    )""",
    "CREATE INDEX objects_type_latest ON objects (type, latest)",
    "CREATE INDEX objects_id ON objects (id)",
    "CREATE INDEX objects_added ON objects (added)",
    """CREATE TABLE provenance (
        object_id TEXT NOT NULL,
        modified TEXT NOT NULL,
        source_kind TEXT NOT NULL,
        source TEXT NOT NULL,
        collection TEXT,
        received TEXT NOT NULL,
        markings TEXT NOT NULL,
        PRIMARY KEY (object_id, modified)
    )""",
    """CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        reference TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT NOT NULL,
        category TEXT NOT NULL,
        tlp INTEGER NOT NULL,
        escalation TEXT NOT NULL,
        assignee TEXT,
        created TEXT NOT NULL,
        modified TEXT NOT NULL
    )""",
    "CREATE INDEX incidents_created ON incidents (created)",
    "CREATE INDEX incidents_status ON incidents (status, created)",
    """CREATE TABLE incident_organisations (
        incident_id TEXT NOT NULL,
        org_id TEXT NOT NULL,
        PRIMARY KEY (incident_id, org_id)
    )""",
    "CREATE INDEX incident_organisations_org ON incident_organisations (org_id)",
    """CREATE TABLE incident_links (
        incident_id TEXT NOT NULL,
        object_id TEXT NOT NULL,
        PRIMARY KEY (incident_id, object_id)
    )""",
    "CREATE INDEX incident_links_object ON incident_links (object_id)",
    """CREATE TABLE audience (
        object_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        member TEXT NOT NULL,
        PRIMARY KEY (object_id, kind, member)
    )""",
    """CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value {bigint} NOT NULL
    )""",
]
