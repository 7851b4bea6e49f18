"""What `sync`, `export` and `import` show on a terminal: rich's progress bar and tables.

On a terminal: a bar per phase (rich.progress) and the closing summary as a rich table.
Anywhere else (a pipe, a log file, the tests): the `sync_progress` log lines and the
plain-text summary, so scripts and logs keep reading the same lines.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table

from manager.fullsync.report import COLUMNS, LogProgress, Progress, SyncReport


class RichProgress(Progress):
    """One bar per phase (catalogue, users, writing…), each left in place when done."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._bar = RichBar(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}", style="dim"),
            console=console,
        )
        self._task: TaskID | None = None

    def start(self, phase: str, total: int = 0, detail: str = "") -> None:
        if not self._bar.live.is_started:
            self._bar.start()
        self._task = self._bar.add_task(phase, total=total or None, detail=detail)
        super().start(phase, total, detail)

    def show(self, force: bool = False, final: bool = False) -> None:
        if self._task is None:
            return
        # rich redraws on its own clock: updating the numbers costs nothing per item.
        total = self.total or (self.done if final else None)
        self._bar.update(self._task, completed=self.done, total=total, detail=self.detail)

    def close(self) -> None:
        self._bar.stop()


def progress_for(stream: TextIO | None = None) -> Progress:
    """A bar on a terminal (stderr by default), log lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return RichProgress(Console(file=stream))
    return LogProgress()


def show_table(
    out: TextIO,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    notes: Sequence[str] = (),
) -> None:
    """A small table: rich on a terminal, aligned plain lines otherwise (first column
    left, numbers right)."""
    if out.isatty():
        table = Table(title=title, title_justify="left")
        for n, col in enumerate(columns):
            table.add_column(col, justify="left" if n == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console = Console(file=out)
        console.print(table)
        for note in notes:
            console.print(note, style="dim", markup=False, highlight=False)
        return
    widths = [max([len(col), *(len(r[n]) for r in rows)]) for n, col in enumerate(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(widths[n]) if n == 0 else c.rjust(widths[n]) for n, c in enumerate(cells)
        )

    print(title, file=out)
    print(line(columns), file=out)
    for row in rows:
        print(line(row), file=out)
    for note in notes:
        print(note, file=out)


def show_report(report: SyncReport, out: TextIO) -> None:
    """The closing summary of a sync or an import: the plain text `render()` gives off a
    terminal (the lines scripts and tests read), a rich table on one."""
    if not out.isatty():
        print(report.render(), file=out)
        return
    console = Console(file=out)
    head, *_ = report.render().splitlines()
    table = Table(title=head, title_justify="left")
    table.add_column("server")
    for col in COLUMNS:
        planned = report.dry_run and col not in ("compared", "skipped", "failed")
        table.add_column(f"{col}*" if planned else col, justify="right")
    for name, s in report.servers.items():
        cells = [str(getattr(s, c)) for c in COLUMNS]
        failed = s.failed or s.errors
        table.add_row(name, *cells, style="red" if failed else None)
    console.print(table)
    for name, s in report.servers.items():
        for err in s.errors:  # below the table: a reason is a sentence, not a cell
            console.print(f"{name}: ! {err}", style="red", markup=False, highlight=False)
    if report.error:
        console.print(f"FAILED: {report.error}", style="bold red", markup=False)
    if report.dry_run:
        console.print("* planned, not written", style="dim")
    if report.undelivered:
        console.print(
            f"{report.undelivered} writes are still queued and will be retried "
            "(by `serve` or the next sync)",
            style="yellow",
            markup=False,
        )
