"""``cirt import FILE|-``: STIX 2.1/2.0 bundles, MISP events and MISP feeds into the store."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli.correlate import mark, say_seen
from cirt.cli.output import JsonFlag, console, emit, markup, ok, warn, workspace
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.ingest import ImportResult

PROGRESS_THRESHOLD = 5000
SHOWN_REJECTIONS = 20


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)


def import_command(
    ctx: typer.Context,
    source_file: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-", help="A STIX bundle, a MISP event, a MISP feed directory, or - (stdin)."
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="The organisation or partner of sectors.yaml the file comes from (it may "
            "assert only that party's identities), or just a provenance name "
            "(default: the file name).",
        ),
    ] = None,
    tlp: Annotated[
        str | None,
        typer.Option("--tlp", help="TLP for objects that carry none (default: sectors.yaml default_tlp)."),
    ] = None,
    allow_custom: Annotated[
        bool | None,
        typer.Option(
            "--allow-custom/--refuse-custom",
            help="Keep or refuse custom objects and properties (default: [import] allow_custom).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate every object, store those that pass all together, and list the rest with reasons."""
    # start-up: this command is registered for every command; ingest loads on use (~0.4 s)
    from cirt.ingest import import_file

    default = TLP.parse(tlp) if tlp else None
    ws = workspace(ctx)
    before = mark(ws)
    with ExitStack() as stack:
        stack.enter_context(_without_cycle_collection())
        progress = None if as_json else stack.enter_context(_ProgressBar())
        result = import_file(
            ws.context,
            source_file,
            source=source,
            default_tlp=default,
            allow_custom=allow_custom,
            progress=progress,
        )
    emit(result.to_dict(), as_json, lambda: _render(result))
    say_seen(ws, before)
    summary = result.summary
    if summary.rejected and not summary.stored and not summary.duplicates:
        raise typer.Exit(1)


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """No cycle collection while this command imports (parsed JSON and validated objects are
    many small acyclic containers the collector would rescan over and over: about a quarter of
    the CPU of a 30,000-indicator import).  Safe here only: the command is the process's one
    thread.  The library (``cirt.ingest``) never touches the process-wide switch, since the TAXII
    server and pulls call it from worker threads."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


class _ProgressBar:
    """A rich progress bar on stderr, shown only for large inputs on a terminal."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < PROGRESS_THRESHOLD:
            return
        if self._progress is None:
            # start-up: rich.progress (~40-75 ms) only when a bar is drawn
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description:>10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console(stderr=True),
                transient=True,
            )
            self._progress.start()
        if phase not in self._tasks:
            self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(self._tasks[phase], completed=done)


def _render(result: ImportResult) -> None:
    summary = result.summary
    out = console()
    for note in summary.notes:
        out.print(markup("[cyan]note[/cyan] {}", note))
    (warn if summary.rejected else ok)(
        f"{result.source} ({result.kind}): {summary.new} new, {summary.updated} updated,"
        f" {summary.duplicates} duplicate(s), {len(summary.rejected)} rejected"
    )
    for ref, reason in summary.rejected[:SHOWN_REJECTIONS]:
        warn(f"rejected {ref}: {reason}")
    if len(summary.rejected) > SHOWN_REJECTIONS:
        warn(f"… and {len(summary.rejected) - SHOWN_REJECTIONS} more rejected (use --json for all)")
