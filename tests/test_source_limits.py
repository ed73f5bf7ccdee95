"""Per-source import limits: a party of sectors.yaml may declare ``import_limits`` (the keys of
config.toml ``[import]``) that tighten, never loosen, what it alone may send.

On every inbound path (``cirt import --source``, the TAXII inbox under the party's credential, a
TAXII pull, a MISP pull) the same indicator, its pattern longer than CSIRTAmericas's
``max_pattern_length``, is refused from CSIRTAmericas (and the refusal is chained in the refusal
log) while LACNIC WARP, which declares no limits, has it stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cirt.config import shipped_path
from cirt.demos.misp_server import running
from cirt.errors import ConfigError
from cirt.ingest import limits_of
from cirt.limits import LIMIT_NAMES, ImportLimits
from cirt.refusal_log import verify_refusals
from cirt.sectors_file import CommunityFile, load_community
from cirt.store import Provenance
from cirt.taxii.auth import issue_credential
from cirt.workspace import Workspace
from tests.taxii_fixtures import (
    PULL_COLLECTION,
    TAXII_MEDIA,
    cirt_server,
    point_partner,
    set_peer_secret,
)
from tests.test_hostile_sources import raw_taxii

TIGHT, LOOSE = "csirtamericas", "lacnic-warp"
IDENTITY = {
    TIGHT: "identity--b960b001-fd33-513f-b191-b35fc53c8f24",
    LOOSE: "identity--bcf28b5c-bc70-53c2-8131-4fb5b6329756",
}
LIMIT = 80
PATTERN = "[domain-name:value = '" + "a" * 60 + ".example']"  # 83 characters
REFUSAL = f"a pattern of {len(PATTERN)} characters (the limit is {LIMIT}"
MISP_KEY = "source-limits-test-key-0123456789"


def _sectors(home: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((home / "sectors.yaml").read_text(encoding="utf-8"))
    return loaded


def _write_sectors(home: Path, data: dict[str, Any]) -> None:
    (home / "sectors.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _limit_tight_partner(home: Path, **limits: int) -> None:
    data = _sectors(home)
    for partner in data["partners"]:
        if partner["id"] == TIGHT:
            partner["import_limits"] = limits
    _write_sectors(home, data)


@pytest.fixture
def limited(home: Path) -> Path:
    _limit_tight_partner(home, max_pattern_length=LIMIT)
    return home


def _indicator(party: str) -> dict[str, Any]:
    n = 1 if party == TIGHT else 2
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--5a5a0000-0000-4000-8000-{n:012d}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "created_by_ref": IDENTITY[party],
        "name": "long pattern",
        "pattern_type": "stix",
        "pattern": PATTERN,
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }


def _refusals(home: Path, party: str) -> list[str]:
    with Workspace.open(home) as ws:
        chain = verify_refusals(ws.store.iter_refusal_chain())
        assert chain.ok, chain.as_dict()
        return [r.reason for r in ws.store.ingest_log(source=party)]


def _stored(home: Path, party: str) -> bool:
    with Workspace.open(home) as ws:
        return ws.store.get(_indicator(party)["id"]) is not None


def _assert_tight_refused_loose_stored(home: Path, said: dict[str, str]) -> None:
    assert REFUSAL in said[TIGHT], said
    assert any(REFUSAL in reason for reason in _refusals(home, TIGHT))
    assert not _stored(home, TIGHT)
    assert said[LOOSE] == "", said
    assert _refusals(home, LOOSE) == []
    assert _stored(home, LOOSE)


# --- sectors.yaml -------------------------------------------------------------------------------


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_a_party_may_tighten_its_limits(limited: Path) -> None:
    community = load_community(limited / "sectors.yaml")
    tight = community.source_policy("taxii", TIGHT)
    assert dict(tight.limits) == {"max_pattern_length": LIMIT}
    assert dict(community.source_policy("taxii", LOOSE).limits) == {}


def test_a_looser_limit_names_sectors_yaml_and_line(home: Path) -> None:
    _limit_tight_partner(home, max_objects=5_000)
    path = home / "sectors.yaml"
    with pytest.raises(ConfigError) as caught:
        load_community(path, ImportLimits(max_objects=1_000))
    error = caught.value
    assert error.field == "partners[0].import_limits.max_objects"
    assert error.line == _line_of(path, "max_objects: 5000")
    assert "5,000 is looser than config.toml [import] max_objects (1,000)" in error.reason
    assert str(error).startswith(f"{path}:{error.line}: ")
    load_community(path, ImportLimits(max_objects=5_000))  # equal is allowed


def test_an_unknown_limit_is_refused(home: Path) -> None:
    _limit_tight_partner(home, max_bites=10)
    with pytest.raises(ConfigError, match=r"'max_bites' is not an \[import\] limit"):
        load_community(home / "sectors.yaml")


def test_cirt_check_reports_a_looser_limit(home: Path, cli: Callable[..., Any]) -> None:
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write("\n[import]\nmax_pattern_length = 1000\n")
    _limit_tight_partner(home, max_pattern_length=2000)
    result = cli("check", "--json")
    assert result.code == 1
    sectors = [f for f in result.json() if f["area"] == "sectors"]
    assert not sectors[0]["ok"]
    assert "import_limits.max_pattern_length: 2,000 is looser than config.toml" in sectors[0]["message"]
    assert cli("sector", "check").code == 1


SHIPPED = yaml.safe_load(shipped_path("sectors.yaml").read_text(encoding="utf-8"))


@given(
    name=st.sampled_from(sorted(LIMIT_NAMES)),
    configured=st.integers(1, 10**9),
    declared=st.integers(1, 10**9),
)
def test_a_declared_limit_is_taken_exactly_when_it_is_no_looser(
    name: str, configured: int, declared: int
) -> None:
    data = {
        **SHIPPED,
        "partners": [
            {**p, "import_limits": {name: declared}} if p["id"] == TIGHT else p for p in SHIPPED["partners"]
        ],
    }
    limits = ImportLimits(**{name: configured})
    if declared > configured:
        with pytest.raises(ValueError, match=r"looser than config\.toml"):
            CommunityFile.model_validate(data, context={"limits": limits})
        return
    community = CommunityFile.model_validate(data, context={"limits": limits}).community()
    assert dict(community.source_policy("taxii", TIGHT).limits) == {name: declared}
    assert community.source_policy("taxii", LOOSE).limits == {}


def test_the_effective_limits_are_config_tomls_tightened_by_the_party(limited: Path) -> None:
    with Workspace.open(limited) as ws:
        tight = limits_of(ws.context, Provenance("taxii", TIGHT, "inbox"))
        loose = limits_of(ws.context, Provenance("taxii", LOOSE, "inbox"))
        unbound = limits_of(ws.context, Provenance("import", "some-file.json"))
    assert tight == ImportLimits(max_pattern_length=LIMIT)
    assert loose == unbound == ImportLimits()


# --- every inbound path -------------------------------------------------------------------------


def test_import_file_holds_the_source_to_its_limits(
    limited: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:
    said = {}
    for party in (TIGHT, LOOSE):
        path = tmp_path / f"{party}.json"
        bundle = {
            "type": "bundle",
            "id": "bundle--6b9c2f1e-4a3d-4e5f-8a7b-0c1d2e3f4a5b",
            "objects": [_indicator(party)],
        }
        path.write_text(json.dumps(bundle), encoding="utf-8")
        result = cli("import", str(path), "--source", party, "--json")
        assert result.code == (1 if party == TIGHT else 0), result.err  # 1: something refused
        said[party] = " | ".join(r["reason"] for r in result.json()["rejected"])
    _assert_tight_refused_loose_stored(limited, said)


def test_the_taxii_inbox_holds_each_credential_to_its_partys_limits(limited: Path) -> None:
    with Workspace.open(limited) as ws:
        credentials = {party: issue_credential(ws, party) for party in (TIGHT, LOOSE)}
    said = {}
    with cirt_server(limited) as server:
        for party, cred in credentials.items():
            body = json.dumps({"objects": [_indicator(party)]}).encode()
            answer = requests.post(
                f"{server.api_root}collections/inbox/objects/",
                data=body,
                auth=(cred.username, cred.password),
                timeout=60,
                headers={"Content-Type": TAXII_MEDIA, "Accept": TAXII_MEDIA},
            )
            assert answer.status_code == 202, answer.text
            said[party] = " | ".join(f["message"] for f in answer.json()["failures"])
    _assert_tight_refused_loose_stored(limited, said)


def test_a_taxii_pull_holds_the_peer_to_its_limits(
    limited: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    said = {}
    for party in (TIGHT, LOOSE):
        page = json.dumps({"more": False, "objects": [_indicator(party)]}).encode()
        with raw_taxii(page) as url:
            point_partner(
                limited, party, discovery=f"{url}/taxii2/", api_root=f"{url}/api1/", pull=[PULL_COLLECTION]
            )
            set_peer_secret(monkeypatch, party, "user", "password")
            result = cli("taxii", "pull", party, "--json")
        assert result.out, result.err
        (collection,) = result.json()["collections"]
        said[party] = " | ".join(r["reason"] for r in collection["rejected"])
    _assert_tight_refused_loose_stored(limited, said)


def test_a_misp_pull_holds_the_peer_to_its_limits(
    limited: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    said = {}
    with running(MISP_KEY) as server:
        data = _sectors(limited)
        for partner in data["partners"]:
            partner["misp"] = {"url": server.url}
        _write_sectors(limited, data)
        for n, party in enumerate((TIGHT, LOOSE), 1):
            monkeypatch.setenv(f"CIRT_MISP_{party.replace('-', '_').upper()}_KEY", MISP_KEY)
            uuid = f"5b5b5b5b-0000-4000-8000-00000000000{n}"
            server.state.events.clear()
            server.state.events[uuid] = {
                "id": str(n),
                "uuid": uuid,
                "info": f"from {party}",
                "distribution": "1",
                "timestamp": str(1775000000 + n),
                "Tag": [{"name": "tlp:clear"}],
                "Attribute": [
                    {
                        "uuid": _indicator(party)["id"][11:],
                        "type": "stix2-pattern",
                        "value": PATTERN,
                        "to_ids": True,
                        "timestamp": "1775000000",
                    }
                ],
            }
            result = cli("misp", "pull", party, "--since", "2020-01-01T00:00:00Z", "--json")
            assert result.out, result.err
            said[party] = " | ".join(r["reason"] for r in result.json()["rejected"])
    _assert_tight_refused_loose_stored(limited, said)


def test_the_shipped_sectors_yaml_loads_under_the_default_limits() -> None:
    load_community(shipped_path("sectors.yaml"), ImportLimits())
