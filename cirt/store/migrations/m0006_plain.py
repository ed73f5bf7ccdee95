"""The plain facts of each stored version (``cirt.plain``), worked out when it is written.

TAXII pages read them instead of scanning every object's text on every page.  Versions stored
before this step keep NULL, which readers take as "work it out from the text".
"""

STATEMENTS = [
    "ALTER TABLE objects ADD COLUMN plain TEXT",
]
