"""Secrets the release path derives public values from: ``public-reference`` keys the HMAC that
turns an incident id into the reference its recipients see (stable, not sequential).

And objects with extensions are no longer *plain* for the TAXII shortcut (an extension's
definition carries a marking of its own, which only the whole gate weighs): facts stored
before say otherwise, so they are reset here.
"""

STATEMENTS = [
    "CREATE TABLE release_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """UPDATE objects SET plain = '-' WHERE plain <> '-' AND body LIKE '%"extensions":%'""",
]
