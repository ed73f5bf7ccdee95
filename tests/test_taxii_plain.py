"""The stored ``plain`` column says exactly what reading the object's text says, on both write
paths, and the TAXII gate shortcut decides the same with it as without it."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.ingest import ingest
from cirt.plain import NOT_PLAIN, plain_facts
from cirt.store import Provenance, StoredObject
from cirt.store.pages import PAGED_COLUMNS, PagedRow, paged_rows
from cirt.taxii.release import Gatekeeper, Row
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import indicator
from tests.test_taxii_isolation import _objects

NATIONAL = "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa"
STRANGER = "identity--0000aaaa-0000-4000-8000-000000000000"
PARTIES = ("cbb", "bel", "cto", "csirtamericas")


def _valid_objects() -> list[dict[str, Any]]:
    """Objects both write paths accept, covering every kind of plain facts."""
    bare = indicator(1, prefix="9a1a")
    bare.pop("object_marking_refs")
    nested = {
        **indicator(2, TLP.AMBER, prefix="9a1a"),
        "kill_chain_phases": [{"kill_chain_name": "lockheed", "phase_name": "recon"}],
    }
    granular = {
        **indicator(5, prefix="9a1a"),
        "granular_markings": [{"marking_ref": TLP.RED.marking_id, "selectors": ["name"]}],
    }
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--9a1a0000-0000-4000-8000-000000000001",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": bare["id"],
        "target_ref": nested["id"],
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    return [
        bare,
        nested,
        granular,
        relationship,
        {**indicator(3, TLP.CLEAR, prefix="9a1a"), "created_by_ref": NATIONAL},
        {**indicator(4, TLP.GREEN, prefix="9a1a"), "created_by_ref": STRANGER},
        {**indicator(6, prefix="9a1a"), "object_marking_refs": [TLP.CLEAR.marking_id, TLP.AMBER.marking_id]},
    ]


def _column(ws: Workspace) -> dict[str, str | None]:
    return dict(ws.store.db.query("SELECT id, plain FROM objects"))


def test_both_write_paths_store_the_same_plain_facts(tmp_path: Any) -> None:
    objects = _valid_objects()
    with Workspace.init(tmp_path / "put") as by_put, Workspace.init(tmp_path / "ing") as by_ingest:
        by_put.store.put_many([(o, 1) for o in objects], provenance=Provenance("local", "t"))
        summary = ingest(by_ingest.context, objects, Provenance("import", "cirt-bz"))  # our own restore
        assert summary.stored == len(objects), summary.rejected
        stored = _column(by_put)
        assert stored == _column(by_ingest)
        for object_id, stix_type, body in by_put.store.db.query("SELECT id, type, body FROM objects"):
            assert stored[object_id] == plain_facts(stix_type, body, partial(json.loads, body))
    facts = {o["id"]: stored[o["id"]] for o in objects}
    assert list(facts.values()) == ["d", "2", NOT_PLAIN, NOT_PLAIN, f"0:{NATIONAL}", f"1:{STRANGER}", "2"]


def test_rows_written_before_the_column_are_read_from_their_text(ws: Workspace) -> None:
    objects = _valid_objects()
    ws.store.put_many([(o, 2) for o in objects], provenance=Provenance("local", "t"))
    with_column = _paged(ws)
    ws.store.db.execute("UPDATE objects SET plain = NULL")
    without = _paged(ws)
    keeper = Gatekeeper(ws.context, ws.sharing)
    assert [keeper.plain_level(r) for r in with_column] == [keeper.plain_level(r) for r in without]
    # (an unmarked object is not plain: the gate writes its default level on it as it leaves)
    assert [keeper.plain_level(r) for r in with_column] == [
        None,
        TLP.AMBER,
        None,
        None,
        TLP.CLEAR,
        None,
        TLP.AMBER,
    ]


def _paged(ws: Workspace) -> list[PagedRow]:
    return paged_rows(ws.store.db.query(f"SELECT {PAGED_COLUMNS} FROM objects ORDER BY seq"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace.init(tmp_path_factory.mktemp("plain-column") / "ws")


@settings(max_examples=60, deadline=None)
@given(case=_objects(), with_column=st.booleans())
def test_the_column_decides_exactly_as_the_gate(
    shared: Workspace, case: tuple[dict[str, Any], int, list[str], str], with_column: bool
) -> None:
    obj, column, audience, origin = case
    shared.store.put(obj, tlp=column, provenance=Provenance(origin, "tester"))
    shared.store.add_audience(obj["id"], "org", audience)
    found = shared.store.db.query(f"SELECT {PAGED_COLUMNS} FROM objects WHERE id = ?", (obj["id"],))
    row: Row = paged_rows(found)[0] if with_column else StoredObject(*found[0][:9])
    keeper = Gatekeeper(shared.context, shared.sharing)
    for party in PARTIES:
        fast = [(r.row.id, r.text) for r in keeper.decide([row], party)]
        kept, _ = keeper.sift([row], party)
        full = sorted(keeper._decide_round(kept, party).items()) if kept else []
        assert fast == [(k[0], text) for k, text in full], (party, obj)
