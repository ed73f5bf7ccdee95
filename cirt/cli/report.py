"""``cirt report``: incident statistics for a month, a quarter or since a date."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, styled, table, workspace
from cirt.errors import UsageError

if TYPE_CHECKING:
    from cirt.report import Report

FORMATS = ("terminal", "md", "html", "csv", "json")


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    period: Annotated[
        str | None, typer.Option("--period", help="A month (2026-11) or a quarter (2026-Q4).")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this date until now.")] = None,
    for_org: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Count only what this organisation may see (the gate decides; writing a "
            "file for it is a logged release).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="terminal, md, html (charts), csv or json.")
    ] = "terminal",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Incidents by sector, category, severity, escalation, reporter and channel; response
    times; notification duties; trend; most-sighted indicators."""
    # Imported here: start-up time (20-60 ms; this module loads with every ``cirt`` command).
    from cirt.report import Reporter, parse_period

    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of: {', '.join(FORMATS)}")
    if fmt == "terminal" and output is not None:
        raise UsageError("--output needs --format md, html, csv or json")
    ws = workspace(ctx)
    window = parse_period(period, since, ws.clock())
    built = Reporter(ws.context, ws.sharing).build(window, for_org=for_org, release=output is not None)
    data = built.as_dict()
    if fmt == "terminal":
        _render(built, data)
        return
    text = _text(fmt, data)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    emit(
        {"file": str(output), "format": fmt},
        False,
        lambda: ok(f"report {built.period.label} written to {output}"),
    )


def _text(fmt: str, data: dict[str, Any]) -> str:
    from cirt import report_formats  # imported here: start-up time (~12 ms, above)

    if fmt == "md":
        return report_formats.markdown(data)
    if fmt == "html":
        return report_formats.html_text(data)
    if fmt == "csv":
        return report_formats.csv_text(data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _render(built: Report, data: dict[str, Any]) -> None:
    # Imported here: start-up time (rich.table, ~15 ms, is not loaded by ``cirt --help``).
    from rich.table import Table

    from cirt.report_formats import TIME_TITLES, TITLES, bar, hours_text, trend_text

    out = console()
    heading = f"Incident report {built.period.label}"
    if built.for_org:
        heading += f" (only what {built.for_org} may see)"
    out.print(styled(heading, "bold"))
    out.print(f"{trend_text(data['trend'])}; previous period {built.previous.label}")
    for key, title in TITLES.items():
        entries = data["by"][key]
        largest = max((e["count"] for e in entries), default=0)
        breakdown = Table(title=title, title_justify="left", show_header=False, box=None)
        for _ in range(4):
            breakdown.add_column()
        for e in entries:
            breakdown.add_row(
                str(e["key"]),
                str(e["count"]),
                styled(bar(e["count"], largest), "cyan"),
                f"(prev {e['previous']})",
            )
        out.print(breakdown)
    times = table("Response times")
    for column in ("", "incidents", "median", "90th percentile"):
        times.add_column(column, no_wrap=True)
    for key, title in TIME_TITLES.items():
        t = data["times"][key]
        times.add_row(title, str(t["count"]), hours_text(t["median_hours"]), hours_text(t["p90_hours"]))
    out.print(times)
    d = data["duties"]
    out.print(
        f"Notification duties: {d['on_time']} on time, {d['late']} late, {d['waived']}"
        f" waived, {d['pending']} pending"
    )
    for item in data["top_indicators"]:
        out.print(
            f"sighted {item['count']}x ({item['sightings']} sighting(s)): {item['pattern'] or item['id']}"
        )
