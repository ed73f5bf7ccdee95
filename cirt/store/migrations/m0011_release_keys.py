"""Secrets the release path derives public values from: ``public-reference`` keys the HMAC that
turns an incident id into the reference its recipients see (stable, not sequential)."""

STATEMENTS = [
    "CREATE TABLE release_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
]
