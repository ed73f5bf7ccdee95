"""sectors.yaml: the shipped community is valid, and a wrong file gets one precise line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirt.config import shipped_path
from cirt.errors import ConfigError
from cirt.sectors_file import load_community

SHIPPED = shipped_path("sectors.yaml")


def test_the_shipped_community_has_the_strategys_organisations_and_partners() -> None:
    community = load_community(SHIPPED)
    assert {"cbb", "bel", "bws", "btl", "speednet", "puc", "pitcu"} <= set(community.organisations)
    assert {"csirtamericas", "lacnic-warp", "cto"} <= set(community.partners)
    assert community.organisation("pitcu").role == "referral"
    assert community.national.identity.startswith("identity--")


def test_shipped_contacts_use_reserved_example_domains() -> None:
    community = load_community(SHIPPED)
    parties = [community.national, *community.organisations.values(), *community.partners.values()]
    for party in parties:
        for contact in party.contacts:
            assert contact.email.endswith(".example"), contact.email


def test_assets_tell_which_organisation_an_indicator_concerns() -> None:
    community = load_community(SHIPPED)
    assert community.concerned_by("192.0.2.70") == ["bel"]
    assert community.concerned_by("login.centralbank.org.bz") == ["cbb"]
    assert community.concerned_by("AS64498") == ["bws"]
    assert community.concerned_by("unrelated.example") == []


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED.read_text()
    assert old in text
    path = tmp_path / "sectors.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "old,new,field,reason,needle",
    [
        (
            "    cirt: BEL-CIRT\n",
            "    cirt: BEL-CIRT\n    colour: blue\n",
            "organisations[1].colour",
            "unknown key",
            "colour: blue",
        ),
        ("    sector: water\n", "", "organisations[2].sector", "missing required field", "id: bws"),
        ("id: bws", "id: bel", "organisations[2].id", "duplicate id 'bel'", "id: bel\n"),
        (
            "soc@cbb.bz.example",
            "soc-at-cbb",
            "organisations[0].contacts[0].email",
            "'soc-at-cbb' is not an e-mail address",
            "soc-at-cbb",
        ),
        (
            "max_tlp: clear",
            "max_tlp: purple",
            "partners[2].max_tlp",
            "'purple' is not a TLP label",
            "max_tlp: purple",
        ),
    ],
)
def test_a_wrong_file_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, field: str, reason: str, needle: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_community(path)
    error = caught.value
    assert (error.field, error.reason) == (field, reason)
    if needle == "id: bel\n":
        lines = [i for i, line in enumerate(path.read_text().splitlines(), 1) if "id: bel" in line]
        assert error.line == lines[1]
    else:
        assert error.line == _line_of(path, needle)
    assert str(error).startswith(f"{path}:{error.line}: {field}: ")
    assert "\n" not in str(error)


def test_yaml_bombs_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sectors.yaml"
    path.write_text('a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\n')
    with pytest.raises(ConfigError, match="anchors and aliases are not allowed"):
        load_community(path)


def test_sector_check_command_reports_one_line_and_exit_1(cli, tmp_path: Path) -> None:
    path = _broken(tmp_path, "sector: utilities", "sector: electricity")
    result = cli("sector", "check", str(path))
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert f"{path}:{_line_of(path, 'sector: electricity')}: organisations[1].sector:" in result.err
    assert cli("sector", "check").code == 0


def test_sector_list_and_show(cli) -> None:
    listed = cli("sector", "list", "--json").json()
    kinds = {row["id"]: row["kind"] for row in listed}
    assert kinds["cbb"] == "constituent" and kinds["pitcu"] == "referral"
    assert kinds["csirtamericas"] == "partner"
    assert "Central Bank of Belize" in cli("sector", "list").out
    shown = cli("sector", "show", "bel", "--json").json()
    assert shown["sector"] == "utilities" and shown["contacts"][0]["email"] == "cirt@bel.bz.example"
    missing = cli("sector", "show", "energy")
    assert missing.code == 1 and "known: cbb, bel" in missing.err


def test_init_reports_the_workspace_and_is_idempotent(cli, tmp_path: Path) -> None:
    target = tmp_path / "fresh"
    first = cli("--home", str(target), "init", "--json").json()
    assert first["home"] == str(target) and first["schema_version"] >= 1
    assert (target / "sectors.yaml").exists() and (target / "playbooks").is_dir()
    assert cli("--home", str(target), "init", "--json").json() == first


def test_incident_categories_are_the_rsit_taxonomy(cli) -> None:
    import json

    from tests.conftest import REFERENCE

    taxonomy = json.loads((REFERENCE / "misp-taxonomies" / "rsit" / "machinetag.json").read_text())
    expected = {v["predicate"]: [e["value"] for e in v["entry"]] for v in taxonomy["values"]}
    assert cli("incident", "categories", "--json").json() == expected
