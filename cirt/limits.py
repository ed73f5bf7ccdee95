"""What one inbound document may hold, checked before the work it causes grows.

Every inbound path (``cirt import``, the TAXII inbox, TAXII and MISP pulls, MISP feeds) is held to
the same limits, set in config.toml ``[import]`` (``cirt.config`` reads and checks them).  Pure:
the parser, the validator and ingest take them as a value.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ImportLimits:
    """The defaults admit the largest public STIX sets (MITRE ATT&CK enterprise: about 50 MB,
    25,000 objects, collection objects with 20,000 references) with room to spare."""

    max_bytes: int = 256 * 1024 * 1024
    max_objects: int = 1_000_000
    max_granular_markings: int = 1_000
    max_selectors: int = 10_000
    max_references: int = 100_000  # per object, at any depth (``cirt.stix_refs``)
    max_pattern_length: int = 65_536
    max_pattern_comparisons: int = 1_000


LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ImportLimits))
