"""Lists an analyst reads at 80 columns: ids whole, a page at a time, unknown filters refused.

The 20,000-indicator speed target is measured by benchmarks/indicator_list.py, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture
def day(cli: Any, tmp_path: Path) -> str:
    ref: str = cli(
        "incident",
        "open",
        "--title",
        "Ransomware at BWS: billing servers encrypted, ransom note demands payment within 72 hours",
        "--category",
        "availability:sabotage",
        "--severity",
        "critical",
        "--sector",
        "bws",
        "--sector",
        "bel",
        "--json",
    ).json()["reference"]
    cli(
        "indicator",
        "add",
        "--incident",
        ref,
        "--url",
        "https://a-very-long-host-name.pay-now.example/locker/instructions?id=12345678",
    )
    evidence = tmp_path / "ransom-note-from-the-billing-server-of-bws.txt"
    evidence.write_text("pay 2 BTC")
    cli("evidence", "add", ref, str(evidence), "--note", "copied by the BWS duty engineer")
    return ref


def test_every_list_fits_80_columns_and_shows_ids_whole(cli: Any, day: str, narrow: None) -> None:
    indicator = cli("indicator", "list", "--json").json()["objects"][0]
    views = {
        "incident list": cli("incident", "list").out,
        "incident show": cli("incident", "show", day).out,
        "incident history": cli("incident", "history", day).out,
        "task list": cli("task", "list", day).out,
        "indicator list": cli("indicator", "list").out,
        "evidence list": cli("evidence", "list", day).out,
        "dashboard": cli("dashboard").out,
        "overdue": cli("overdue", "--within", "30d").out,
    }
    for name, out in views.items():
        too_wide = [line for line in out.splitlines() if len(line) > 80]
        assert too_wide == [], name
        assert "…" not in out, f"{name} truncates something"
    assert day in views["incident list"] and day in views["dashboard"]
    assert indicator["id"] in views["indicator list"]
    sha = cli("evidence", "list", day, "--json").json()[0]["sha256"]
    assert sha in views["evidence list"]


def test_indicator_list_pages(cli: Any) -> None:
    for i in range(55):
        assert cli("indicator", "add", "--ip", f"198.51.100.{i}", "--tlp", "green").code == 0
    first = cli("indicator", "list")
    assert "Indicators (1-50 of 55" in first.out
    assert "next page: cirt indicator list --offset 50" in first.out
    assert "198.51.100.54" in first.out and "198.51.100.4'" not in first.out  # newest first
    rest = cli("indicator", "list", "--offset", "50", "--json").json()
    assert rest["total"] == 55 and len(rest["objects"]) == 5 and rest["next_offset"] is None
    assert cli("indicator", "list", "--limit", "10", "--json").json()["next_offset"] == 10
    assert cli("indicator", "list", "--tlp", "amber", "--json").json()["total"] == 0


@pytest.mark.parametrize(
    "args",
    [
        ("incident", "list", "--status", "bogus"),
        ("incident", "list", "--sector", "nowhere"),
        ("incident", "list", "--severity", "urgent"),
        ("incident", "list", "--tlp", "purple"),
        ("incident", "list", "--category", "nonsense"),
        ("indicator", "list", "--tlp", "purple"),
        ("indicator", "list", "--limit", "0"),
    ],
)
def test_an_unknown_filter_value_is_a_usage_error(cli: Any, args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.out == ""
