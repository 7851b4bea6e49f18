"""Full sync, reporting: per-server counts, the closing summary as plain text, and
progress as log lines (at most one every `LOG_EVERY` seconds plus one at the end of each
phase). On a terminal the commands show both with rich instead (console.py).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from manager.logs import get_logger
from manager.model import Change

log = get_logger("manager.fullsync")
LOG_EVERY = 5.0
COLUMNS = ("compared", "watched", "unwatched", "resume", "skipped", "failed")
HEADINGS = {"full": "Full sync", "changed": "Sync of changes", "import": "Import"}


@dataclass
class ServerSummary:
    compared: int = 0  # (user, item) pairs read from this server
    watched: int = 0  # items marked watched (a show-level scrobble counts its episodes)
    unwatched: int = 0
    resume: int = 0  # resume points set
    skipped: int = 0  # items that cannot be matched or written, writes skipped by the peer
    failed: int = 0  # writes not delivered (peer down, refused), reads that failed
    read_requests: int = 0  # library reads of this run (pages, sections)
    write_requests: int = 0  # writes delivered (an unscrobble before a resume point counts)
    other_requests: int = 0  # CLI only: session checks and probes of the delivery path
    errors: list[str] = field(default_factory=list)

    def count(self, change: Change, items: int) -> None:
        if change is Change.PLAYED:
            self.watched += items
        elif change is Change.UNPLAYED:
            self.unwatched += items
        else:
            self.resume += items

    def error(self, text: str) -> None:
        if text not in self.errors and len(self.errors) < 20:
            self.errors.append(text)


@dataclass
class SyncReport:
    dry_run: bool
    started_at: float
    finished_at: float | None = None
    servers: dict[str, ServerSummary] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    groups: int = 0
    changes: int = 0
    undelivered: int = 0  # writes still in the outbox when the run ended (retried later)
    error: str | None = None  # a failure of the whole run
    # or "changed": only what changed since the last run (changed.py); "import": a file's
    # state put on a server (manager/transfer)
    kind: str = "full"

    def server(self, name: str) -> ServerSummary:
        found = self.servers.get(name)
        if found is None:
            found = self.servers[name] = ServerSummary()
        return found

    @property
    def ok(self) -> bool:
        return self.error is None and not any(s.failed or s.errors for s in self.servers.values())

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["seconds"] = round((self.finished_at or time.time()) - self.started_at, 3)
        return out

    def render(self) -> str:
        took = (self.finished_at or time.time()) - self.started_at
        head = HEADINGS.get(self.kind, self.kind)
        head += " (dry run: nothing written)" if self.dry_run else ""
        lines = [f"{head}: {len(self.users)} users, {self.groups} items, {took:.1f} s"]
        if self.error:
            lines.append(f"FAILED: {self.error}")
        names = list(self.servers)
        width = max([len("server"), *map(len, names)])
        cols = list(COLUMNS)
        if self.dry_run:
            cols = [c if c in ("compared", "skipped", "failed") else f"{c}*" for c in cols]
        lines.append("  ".join(["server".ljust(width), *(c.rjust(9) for c in cols)]))
        for name in names:
            s = self.servers[name]
            row = [name.ljust(width), *(str(getattr(s, c)).rjust(9) for c in COLUMNS)]
            lines.append("  ".join(row))
            for err in s.errors:
                lines.append(f"{'':{width}}  ! {err}")
        if self.dry_run:
            lines.append("* planned, not written")
        if self.undelivered:
            lines.append(
                f"{self.undelivered} writes are still queued and will be retried "
                "(by `serve` or the next sync)"
            )
        return "\n".join(lines)


class Progress:
    """Counts work done within phases; subclasses show it."""

    def __init__(self) -> None:
        self.phase = ""
        self.done = 0
        self.total = 0
        self.detail = ""

    def start(self, phase: str, total: int = 0, detail: str = "") -> None:
        self.phase, self.total, self.done, self.detail = phase, total, 0, detail
        self.show(force=True)

    def add_total(self, n: int) -> None:
        self.total += n

    def advance(self, n: int = 1, detail: str | None = None) -> None:
        self.done += n
        if detail is not None:
            self.detail = detail
        self.show()

    def finish(self) -> None:
        self.show(force=True, final=True)

    def show(self, force: bool = False, final: bool = False) -> None:
        """Nothing by default (library use, tests)."""

    def close(self) -> None:
        """The command is done with it (a terminal bar stops redrawing)."""


class LogProgress(Progress):
    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def show(self, force: bool = False, final: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < LOG_EVERY:
            return
        self._last = now
        log.info(
            "sync_progress",
            phase=self.phase,
            done=self.done,
            total=self.total or None,
            detail=self.detail or None,
            finished=final or None,
        )
