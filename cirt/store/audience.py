"""Who may receive an AMBER, AMBER+STRICT or RED object: organisations and named contacts."""

from __future__ import annotations

from collections.abc import Iterable

from cirt.store.database import Database

AUDIENCE_KINDS = ("org", "contact")


class AudienceMixin:
    db: Database

    def add_audience(self, object_id: str, kind: str, members: Iterable[str]) -> None:
        self.db.executemany(
            "INSERT INTO audience (object_id, kind, member) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(object_id, kind, m) for m in members],
        )

    def remove_audience(self, object_id: str, kind: str, member: str) -> bool:
        return (
            self.db.execute(
                "DELETE FROM audience WHERE object_id = ? AND kind = ? AND member = ?",
                (object_id, kind, member),
            )
            > 0
        )

    def audience_of(self, object_id: str) -> dict[str, tuple[str, ...]]:
        """``{'org': (...), 'contact': (...)}`` for one object."""
        out: dict[str, list[str]] = {kind: [] for kind in AUDIENCE_KINDS}
        for kind, member in self.db.query(
            "SELECT kind, member FROM audience WHERE object_id = ? ORDER BY kind, member", (object_id,)
        ):
            out.setdefault(kind, []).append(member)
        return {k: tuple(v) for k, v in out.items()}

    def audiences(self, object_ids: Iterable[str]) -> dict[str, dict[str, tuple[str, ...]]]:
        """Audiences of many objects at once (the gate's input)."""
        ids = list(dict.fromkeys(object_ids))
        out: dict[str, dict[str, list[str]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for object_id, kind, member in self.db.query(
                f"SELECT object_id, kind, member FROM audience WHERE object_id IN ({marks})", chunk
            ):
                out.setdefault(object_id, {}).setdefault(kind, []).append(member)
        return {oid: {k: tuple(sorted(v)) for k, v in kinds.items()} for oid, kinds in out.items()}
