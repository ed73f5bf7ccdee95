"""One TLP translation table for every tool we exchange with: STIX (TLP 2.0 and 1.0 marking
definitions) and MISP (``tlp:`` tags, distribution levels, sharing groups).

Pure.  Rules, in one place: several labels resolve to the most restrictive, and the conflict is
reported; nothing read from outside can lower a level; no label at all means the configured
default (fail closed); a label we do not know means RED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cirt.errors import SharingDenied
from cirt.tlp import TLP, TLP1_MARKING_IDS, TLP2_MARKING_IDS, level_of_marking


@dataclass(frozen=True)
class Translation:
    """One TLP level as each tool spells it, and how far MISP may spread it from us."""

    level: TLP
    stix2_marking: str
    stix1_markings: tuple[str, ...]
    misp_tags: tuple[str, ...]  # the first one is what we write
    misp_distribution: int | None  # None: never leaves through MISP


# MISP distribution levels (MISP user guide, "Distribution").
YOUR_ORGANISATION, THIS_COMMUNITY, CONNECTED_COMMUNITIES, ALL_COMMUNITIES = 0, 1, 2, 3
SHARING_GROUP, INHERIT_EVENT = 4, 5
DISTRIBUTIONS = {
    YOUR_ORGANISATION: "your organisation only",
    THIS_COMMUNITY: "this community only",
    CONNECTED_COMMUNITIES: "connected communities",
    ALL_COMMUNITIES: "all communities",
    SHARING_GROUP: "sharing group",
    INHERIT_EVENT: "inherit event",
}

_STIX1 = {level: tuple(mid for mid, lvl in TLP1_MARKING_IDS.items() if lvl is level) for level in TLP}

TABLE: tuple[Translation, ...] = (
    Translation(
        TLP.CLEAR, TLP2_MARKING_IDS[TLP.CLEAR], _STIX1[TLP.CLEAR], ("tlp:clear", "tlp:white"), ALL_COMMUNITIES
    ),
    Translation(TLP.GREEN, TLP2_MARKING_IDS[TLP.GREEN], _STIX1[TLP.GREEN], ("tlp:green",), THIS_COMMUNITY),
    Translation(TLP.AMBER, TLP2_MARKING_IDS[TLP.AMBER], _STIX1[TLP.AMBER], ("tlp:amber",), YOUR_ORGANISATION),
    Translation(
        TLP.AMBER_STRICT, TLP2_MARKING_IDS[TLP.AMBER_STRICT], (), ("tlp:amber+strict",), YOUR_ORGANISATION
    ),
    Translation(TLP.RED, TLP2_MARKING_IDS[TLP.RED], _STIX1[TLP.RED], ("tlp:red",), None),
)
_BY_LEVEL = {row.level: row for row in TABLE}
_BY_TAG = {tag: row.level for row in TABLE for tag in row.misp_tags}

# What a MISP distribution tells us about the audience when we receive it: "your organisation
# only" and sharing groups are closed audiences (at least AMBER); the community levels are
# MISP's propagation scope and leave the level to the tags.
DISTRIBUTION_FLOOR = {
    YOUR_ORGANISATION: TLP.AMBER,
    THIS_COMMUNITY: TLP.CLEAR,
    CONNECTED_COMMUNITIES: TLP.CLEAR,
    ALL_COMMUNITIES: TLP.CLEAR,
    SHARING_GROUP: TLP.AMBER,
}


def translation(level: TLP) -> Translation:
    return _BY_LEVEL[level]


def misp_tag(level: TLP) -> str:
    """The ``tlp:`` tag we write for a level (``tlp:clear``, ``tlp:amber+strict``…)."""
    return _BY_LEVEL[level].misp_tags[0]


def is_tlp_tag(name: str) -> bool:
    return name.strip().lower().startswith("tlp:")


def tag_level(name: str) -> TLP:
    """The level of one ``tlp:`` tag; one we do not know (``tlp:ex:chr``…) counts as RED."""
    return _BY_TAG.get(name.strip().lower(), TLP.RED)


def export_distribution(level: TLP) -> int:
    """How far MISP may spread an attribute of this level; RED has none and raises."""
    distribution = _BY_LEVEL[level].misp_distribution
    if distribution is None:
        raise SharingDenied("(MISP)", level.label, "MISP", "TLP:RED never leaves through MISP")
    return distribution


def distribution_floor(distribution: int | None, sharing_group: bool = False) -> TLP:
    """The lowest level a received distribution (or sharing group) allows."""
    if sharing_group:
        return TLP.AMBER
    if distribution is None:
        return TLP.CLEAR
    return DISTRIBUTION_FLOOR.get(int(distribution), TLP.AMBER)


@dataclass(frozen=True)
class Resolved:
    """A level decided from labels, and the sentence explaining a conflict or a default."""

    level: TLP
    labels: tuple[str, ...]
    note: str = ""


def resolve_tags(
    tags: Iterable[str], default: TLP, *, floor: TLP = TLP.CLEAR, what: str = "the event"
) -> Resolved:
    """The level of MISP ``tlp:`` tags: most restrictive wins, none means ``default``."""
    labels = tuple(dict.fromkeys(t.strip().lower() for t in tags if is_tlp_tag(t)))
    levels = {tag_level(t) for t in labels}
    notes = []
    if not labels:
        level = default
        notes.append(f"{what} has no tlp: tag: treated as {default.label} (the default)")
    else:
        level = max(levels)
        unknown = [t for t in labels if t not in _BY_TAG]
        if unknown:
            notes.append(f"{what} carries unknown TLP tag(s) {', '.join(unknown)}: treated as RED")
        if len(levels) > 1:
            notes.append(
                f"{what} carries contradicting TLP tags {', '.join(labels)}: treated as {level.label}"
            )
    if floor > level:
        notes.append(f"{what} has a restricted MISP distribution: raised from {level.label} to {floor.label}")
        level = floor
    return Resolved(level, labels, "; ".join(notes))


def resolve_markings(
    refs: Iterable[str], default: TLP, treatment: Mapping[str, TLP] | None = None
) -> Resolved:
    """The level of STIX marking refs (TLP 2.0, 1.0, or treated as TLP in sectors.yaml)."""
    treatment = treatment or {}
    found: dict[str, TLP] = {}
    for ref in refs:
        level = level_of_marking(ref)
        if level is None:
            level = treatment.get(ref)
        if level is not None:
            found[ref] = level
    if not found:
        return Resolved(default, ())
    levels = set(found.values())
    level = max(levels)
    note = ""
    if len(levels) > 1:
        names = ", ".join(sorted({lvl.label for lvl in levels}))
        note = f"contradicting TLP markings ({names}): treated as {level.label}"
    return Resolved(level, tuple(found), note)


def marking_refs_of(obj: Mapping[str, object]) -> list[str]:
    """Object-level and granular marking refs of a STIX object."""
    refs = [r for r in obj.get("object_marking_refs", ()) or () if isinstance(r, str)]  # type: ignore[attr-defined]
    for g in obj.get("granular_markings", ()) or ():  # type: ignore[attr-defined]
        if isinstance(g, dict) and isinstance(g.get("marking_ref"), str):
            refs.append(g["marking_ref"])
    return refs
