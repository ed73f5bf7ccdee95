"""The report as Markdown, HTML (charts drawn with matplotlib, embedded as data URIs) and CSV.

Every renderer takes the report's dictionary (``Report.as_dict()``, what ``--json`` prints), so
the five faces of a report cannot disagree.  Text from the store is escaped for its format.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from typing import Any

from cirt.csv_cells import neutralise

TITLES = {
    "sector": "By sector",
    "category": "By RSIT category",
    "severity": "By severity",
    "escalation": "By escalation level",
    "reporter": "By reporter kind",
    "channel": "By reporting channel",
}
TIME_TITLES = {"acknowledge": "Time to acknowledge", "contain": "Time to contain", "close": "Time to close"}
BAR_WIDTH = 30


def bar(count: int, largest: int, width: int = BAR_WIDTH) -> str:
    """A bar of block characters, at least one block for a non-zero count."""
    if largest <= 0 or count <= 0:
        return ""
    return "█" * max(1, round(width * count / largest))


def trend_text(trend: dict[str, Any]) -> str:
    change = trend["change_percent"]
    sign = "" if change is None else ("+" if change > 0 else "")
    delta = "no previous incidents" if change is None else f"{sign}{change}%"
    plural = "" if trend["incidents"] == 1 else "s"
    return f"{trend['incidents']} incident{plural}, previous period {trend['previous']} ({delta})"


def hours_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d"


def _md(text: object) -> str:
    """Markdown table cell: pipes, backslashes, markup and HTML neutralised."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for char in "*_`[]<>#":
        out = out.replace(char, "\\" + char)
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Incident report {_md(report['period']['label'])}", ""]
    if report["for"]:
        lines += [f"Only what {_md(report['for'])} may see.", ""]
    lines += [
        f"**{_md(trend_text(report['trend']))}** (previous period: "
        f"{_md(report['previous_period']['label'])})",
        "",
    ]
    for key, title in TITLES.items():
        rows = report["by"][key]
        largest = max((r["count"] for r in rows), default=0)
        lines += [f"## {title}", "", "| | count | previous | |", "|---|---:|---:|---|"]
        lines += [
            f"| {_md(r['key'])} | {r['count']} | {r['previous']} | {bar(r['count'], largest, 20)} |"
            for r in rows
        ]
        lines.append("")
    lines += ["## Response times", "", "| | incidents | median | 90th percentile |", "|---|---:|---:|---:|"]
    for key, title in TIME_TITLES.items():
        t = report["times"][key]
        lines.append(
            f"| {title} | {t['count']} | {hours_text(t['median_hours'])} | {hours_text(t['p90_hours'])} |"
        )
    duties = report["duties"]
    lines += [
        "",
        "## Notification duties",
        "",
        "| on time | late | waived | pending |",
        "|---:|---:|---:|---:|",
        f"| {duties['on_time']} | {duties['late']} | {duties['waived']} | {duties['pending']} |",
        "",
        "## Most-sighted indicators",
        "",
    ]
    if report["top_indicators"]:
        lines += ["| indicator | sightings | times seen |", "|---|---:|---:|"]
        lines += [
            f"| {_md(i['pattern'] or i['id'])} | {i['sightings']} | {i['count']} |"
            for i in report["top_indicators"]
        ]
    else:
        lines.append("No sightings in the period.")
    return "\n".join(lines) + "\n"


def rows(report: dict[str, Any]) -> list[list[Any]]:
    """One table of every figure: section, key, value, previous (what CSV writes)."""
    out: list[list[Any]] = [
        ["section", "key", "value", "previous"],
        ["period", report["period"]["label"], report["trend"]["incidents"], report["trend"]["previous"]],
    ]
    for key in TITLES:
        out += [[key, r["key"], r["count"], r["previous"]] for r in report["by"][key]]
    for key in TIME_TITLES:
        t = report["times"][key]
        out += [
            [f"{key}_median_hours", "", t["median_hours"], ""],
            [f"{key}_p90_hours", "", t["p90_hours"], ""],
            [f"{key}_count", "", t["count"], ""],
        ]
    out += [["duties", k, v, ""] for k, v in report["duties"].items()]
    out += [["top_indicator", i["pattern"] or i["id"], i["count"], ""] for i in report["top_indicators"]]
    return out


def csv_text(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows(report):
        writer.writerow([neutralise(str(v)) if isinstance(v, str) else v for v in row])
    return buffer.getvalue()


def _chart(title: str, labels: list[str], values: list[int], previous: list[int]) -> str:
    """A horizontal bar chart (this period and the previous one) as a PNG data URI."""
    import matplotlib  # imported here: start-up time (~0.4 s; only the HTML report draws)

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, axes = pyplot.subplots(figsize=(6.4, 0.45 * max(len(labels), 2) + 1.0), dpi=96)
    try:
        positions = list(range(len(labels)))
        axes.barh([p + 0.2 for p in positions], values, height=0.4, label="this period", color="#1f5fa8")
        axes.barh([p - 0.2 for p in positions], previous, height=0.4, label="previous", color="#b8c4d6")
        axes.set_yticks(positions, labels=labels)
        axes.invert_yaxis()
        axes.set_title(title)
        axes.legend(loc="lower right", fontsize="small")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        pyplot.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def html_text(report: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Incident report {e(report['period']['label'])}</title>",
        "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
        "td.n{text-align:right}</style></head><body>",
        f"<h1>Incident report {e(report['period']['label'])}</h1>",
    ]
    if report["for"]:
        parts.append(f"<p>Only what {e(report['for'])} may see.</p>")
    parts.append(
        f"<p><strong>{e(trend_text(report['trend']))}</strong> (previous period: "
        f"{e(report['previous_period']['label'])})</p>"
    )
    for key, title in TITLES.items():
        entries = report["by"][key]
        parts.append(f"<h2>{e(title)}</h2>")
        if not entries:
            parts.append("<p>None.</p>")
            continue
        labels = [str(r["key"]) for r in entries]
        uri = _chart(title, labels, [r["count"] for r in entries], [r["previous"] for r in entries])
        parts.append(f'<img alt="{e(title)}" src="{uri}">')
        parts.append(
            "<table><tr><th></th><th>count</th><th>previous</th></tr>"
            + "".join(
                f"<tr><td>{e(r['key'])}</td><td class=n>{r['count']}</td>"
                f"<td class=n>{r['previous']}</td></tr>"
                for r in entries
            )
            + "</table>"
        )
    parts.append(
        "<h2>Response times</h2><table><tr><th></th><th>incidents</th><th>median</th>"
        "<th>90th percentile</th></tr>"
    )
    for key, title in TIME_TITLES.items():
        t = report["times"][key]
        parts.append(
            f"<tr><td>{e(title)}</td><td class=n>{t['count']}</td>"
            f"<td class=n>{e(hours_text(t['median_hours']))}</td>"
            f"<td class=n>{e(hours_text(t['p90_hours']))}</td></tr>"
        )
    duties = report["duties"]
    parts.append(
        "</table><h2>Notification duties</h2><table><tr><th>on time</th><th>late</th>"
        "<th>waived</th><th>pending</th></tr><tr>"
        + "".join(f"<td class=n>{duties[k]}</td>" for k in ("on_time", "late", "waived", "pending"))
        + "</tr></table>"
    )
    parts.append("<h2>Most-sighted indicators</h2>")
    if report["top_indicators"]:
        parts.append(
            "<table><tr><th>indicator</th><th>sightings</th><th>times seen</th></tr>"
            + "".join(
                f"<tr><td>{e(i['pattern'] or i['id'])}</td>"
                f"<td class=n>{i['sightings']}</td><td class=n>{i['count']}</td>"
                "</tr>"
                for i in report["top_indicators"]
            )
            + "</table>"
        )
    else:
        parts.append("<p>No sightings in the period.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
