"""Closing an incident: a resolution always, and no notification duty dropped on the way.

A duty is done, or waived one by one with a reason; history and the dashboard's statistics
show each waiver.  ``update --status`` can neither close nor reopen: those have their own
commands and records.
"""

from __future__ import annotations

from typing import Any


def _open_bank_phishing(cli: Any) -> str:
    opened = cli(
        "incident",
        "open",
        "--title",
        "Phishing against CBB customers",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--json",
    )
    assert opened.code == 0, opened.err
    ref: str = opened.json()["reference"]
    return ref


def _open_duties(cli: Any, ref: str) -> list[dict[str, Any]]:
    tasks = cli("task", "list", ref, "--json").json()["tasks"]
    return [t for t in tasks if t["kind"] == "duty" and t["state"] == "open"]


def test_update_cannot_close_or_reopen(cli: Any) -> None:
    ref = _open_bank_phishing(cli)
    refused = cli("incident", "update", ref, "--status", "closed")
    assert refused.code == 1
    assert f"closing needs a resolution: cirt incident close {ref} --resolution" in refused.err
    assert cli("incident", "show", ref, "--json").json()["status"] == "new"


def test_close_is_refused_while_a_duty_is_open_and_names_each(cli: Any) -> None:
    ref = _open_bank_phishing(cli)
    duties = _open_duties(cli, ref)
    assert duties, "the phishing playbook gives the bank a notification duty"
    refused = cli("incident", "close", ref, "--resolution", "site taken down")
    assert refused.code == 1
    for duty in duties:
        assert f"{duty['number']} {duty['title']}" in refused.err
    assert f"cirt task waive {ref} N --reason" in refused.err
    assert cli("incident", "show", ref, "--json").json()["status"] != "closed"
    assert len(_open_duties(cli, ref)) == len(duties), "nothing dropped by the refusal"


def test_duties_done_or_waived_then_close_and_history_shows_each_waiver(cli: Any) -> None:
    ref = _open_bank_phishing(cli)
    first, *rest = _open_duties(cli, ref)
    assert cli("task", "done", ref, str(first["number"]), "--note", "phoned the SOC").code == 0
    for duty in rest:
        waived = cli(
            "task",
            "waive",
            ref,
            str(duty["number"]),
            "--reason",
            "CBB supervision: no report for a blocked kit",
        )
        assert waived.code == 0, waived.err
    assert cli("task", "waive", ref, str(first["number"]), "--reason", "x").code == 1
    closed = cli("incident", "close", ref, "--resolution", "site taken down", "--json")
    assert closed.code == 0, closed.err
    assert closed.json()["status"] == "closed" and closed.json()["resolution"] == "site taken down"
    history = [h["what"] for h in cli("incident", "history", ref, "--json").json()]
    for duty in rest:
        assert (
            f"duty {duty['number']} waived: {duty['title']} — CBB supervision: no report for a blocked kit"
        ) in history
    tasks = {t["number"]: t for t in cli("task", "list", ref, "--json").json()["tasks"]}
    assert tasks[first["number"]]["state"] == "done"
    assert all(tasks[d["number"]]["state"] == "waived" for d in rest)
    board = cli("dashboard", "--json").json()
    assert board["duties"]["waived"] == len(rest) and board["duties"]["done"] == 1
    assert f"{len(rest)} waived" in cli("dashboard").out


def test_a_task_is_cancelled_not_waived_and_a_waiver_needs_a_reason(cli: Any) -> None:
    ref = _open_bank_phishing(cli)
    tasks = cli("task", "list", ref, "--json").json()["tasks"]
    task = next(t for t in tasks if t["kind"] == "task")
    refused = cli("task", "waive", ref, str(task["number"]), "--reason", "not needed")
    assert refused.code == 1 and "cirt task cancel" in refused.err
    duty = _open_duties(cli, ref)[0]
    assert cli("task", "waive", ref, str(duty["number"]), "--reason", " ").code == 1


def test_a_closed_incident_is_reopened_only_by_reopen(cli: Any) -> None:
    ref = _open_bank_phishing(cli)
    for duty in _open_duties(cli, ref):
        cli("task", "waive", ref, str(duty["number"]), "--reason", "test")
    assert cli("incident", "close", ref, "--resolution", "done").code == 0
    refused = cli("incident", "update", ref, "--status", "open")
    assert refused.code == 1 and f"cirt incident reopen {ref}" in refused.err
    assert cli("incident", "reopen", ref, "--reason", "new victims").code == 0
