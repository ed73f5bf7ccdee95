"""Bulletins to sector contacts: composed from what the gate released, rendered, delivered."""
