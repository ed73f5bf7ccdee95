"""``cirt check`` reports every configuration problem at once, each on one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_a_healthy_workspace_checks_clean(cli: Any) -> None:
    result = cli("check", "--json")
    assert result.code == 0, result.err
    areas = {f["area"] for f in result.json()}
    assert areas == {"config", "timezone", "sectors", "playbooks", "database"}
    assert all(f["ok"] for f in result.json())


def test_every_broken_part_is_reported_not_just_the_first(cli: Any, home: Path) -> None:
    sectors = home / "sectors.yaml"
    sectors.write_text(sectors.read_text().replace("sector: water", "sector: aqua"))
    (home / "playbooks" / "zz-broken.yaml").write_text("title: [unclosed\n")
    config = home / "config.toml"
    config.write_text(config.read_text().replace('timezone = "America/Belize"', 'timezone = "Mars/Olympus"'))
    result = cli("check", "--json")
    assert result.code == 1
    bad = {f["area"]: f["message"] for f in result.json() if not f["ok"]}
    assert "organisations[2].sector" in bad["sectors"]
    assert "'Mars/Olympus' is not a time zone" in bad["timezone"]
    assert "zz-broken.yaml" in " ".join(
        f["message"] for f in result.json() if f["area"] == "playbooks" and not f["ok"]
    )
    text = cli("check")
    assert text.code == 1 and text.err.count("✗") == 4


def test_check_without_a_workspace_says_how_to_make_one(cli: Any, tmp_path: Path) -> None:
    result = cli("--home", str(tmp_path / "none"), "check")
    assert result.code == 1 and "run 'cirt init'" in result.err
