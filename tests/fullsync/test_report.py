"""The summary table and the progress display."""

from __future__ import annotations

import io
import re

from manager.fullsync.console import RichProgress, progress_for, show_report, show_table
from manager.fullsync.report import LogProgress, SyncReport
from manager.model import Change


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_summary_table_names_failures() -> None:
    report = SyncReport(dry_run=False, started_at=0.0, finished_at=2.5)
    report.users = ["admin", "alice"]
    report.server("alpha").compared = 120
    report.server("alpha").count(Change.PLAYED, 4)
    report.server("alpha").count(Change.RESUME, 1)
    beta = report.server("beta")
    beta.failed = 1
    beta.error("not read: beta GET /library/sections: ConnectError")
    text = report.render()
    assert "Full sync: 2 users" in text
    assert re.search(r"^alpha\s+120\s+4\s+0\s+1\s+0\s+0$", text, re.M), text
    assert "  ! not read: beta GET" in text
    assert not report.ok
    assert report.as_dict()["servers"]["alpha"]["watched"] == 4


def test_dry_run_marks_planned_columns() -> None:
    report = SyncReport(dry_run=True, started_at=0.0, finished_at=1.0)
    report.server("alpha")
    text = report.render()
    assert "dry run: nothing written" in text and "watched*" in text and "* planned" in text
    assert report.ok


def test_bar_on_a_terminal_log_lines_otherwise() -> None:
    tty = _Tty()
    bar = progress_for(tty)
    assert isinstance(bar, RichProgress)
    bar.start("users", 4)
    bar.advance(2, detail="alice")
    bar.finish()
    bar.close()
    out = tty.getvalue()
    assert "users" in out and "2/4" in out and "alice" in out and "50%" in out
    assert isinstance(progress_for(io.StringIO()), LogProgress)


def test_summary_is_a_table_on_a_terminal_and_plain_lines_otherwise() -> None:
    report = SyncReport(dry_run=False, started_at=0.0, finished_at=2.5)
    report.users = ["admin"]
    report.server("alpha").count(Change.PLAYED, 3)
    report.server("beta").error("not read: refused")
    plain = io.StringIO()
    show_report(report, plain)
    assert plain.getvalue() == report.render() + "\n"
    tty = _Tty()
    show_report(report, tty)
    text = re.sub(r"\x1b\[[0-9;]*m", "", tty.getvalue())
    assert "Full sync: 1 users" in text and "! not read: refused" in text
    assert "┃" in text or "│" in text  # drawn by rich, not the plain layout
    plain = io.StringIO()
    show_table(plain, "Export: 2 users", ["server", "items"], [["plex", "12"], ["jelly", "3"]])
    assert plain.getvalue().splitlines()[1:] == ["server  items", "plex       12", "jelly       3"]
