"""Response times count from when the incident was reported (``reported_at``), which may be
hours before it was opened: the report's facts keep it beside acknowledged and closed."""

STATEMENTS = [
    "ALTER TABLE incident_facts ADD COLUMN reported TEXT",
]
