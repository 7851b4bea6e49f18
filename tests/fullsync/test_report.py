"""The summary table and the progress display."""

from __future__ import annotations

import io
import re

from manager.fullsync.report import BarProgress, LogProgress, SyncReport, progress_for
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
    assert isinstance(bar, BarProgress)
    bar.start("users", 4)
    bar.advance(2, detail="alice")
    bar.finish()
    out = tty.getvalue()
    assert "\r" in out and "[###############---------------]  50% 2/4  alice" in out
    assert out.endswith("\n")
    assert isinstance(progress_for(io.StringIO()), LogProgress)
