"""What the dashboard remembers of the manager's recent work: events and writes with what
came of them, items a peer lacks, and the last event seen from each server.

Kept in memory, bounded, fed by the two places that log these lines (the real-time
handler's `event` line, the outbox's `write` line) through their listeners. Not a table:
the log already is the durable record, the dashboard asks "what happened lately", and a
database write per event and per write would queue on the one database thread that the
hot path needs. So a restart empties the page; the outbox, ledger and sync runs it shows
beside it come from the database and survive.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from manager.event import WEBHOOK_PROXY_NAME
from manager.model import Change, Outcome
from manager.realtime.handler import Handled
from manager.redaction import redact_text
from manager.store.outbox import Attempt, Result, Verdict

# Real-time events and their writes; a full sync's writes apart, so that a big sync does
# not push the real-time story off the page.
REALTIME_KEPT = 1000
SYNC_KEPT = 300
UNMATCHED_KEPT = 500
_EVENT_SOURCES_KEPT = 2000  # event id -> source server, to name a write's source

# Heartbeats and repeated positions say nothing new: counted, not listed.
_QUIET = frozenset({Outcome.THROTTLED, Outcome.UNCHANGED})
# (label, tone) of an event outcome; tone is the colour the page gives it.
_EVENT_LABEL: dict[Outcome, tuple[str, str]] = {
    Outcome.QUEUED: ("queued", "ok"),
    Outcome.NO_PEERS: ("no match", "warn"),
    Outcome.UNKNOWN_ITEM: ("no match", "warn"),
    Outcome.UNKNOWN_USER: ("no match", "warn"),
    Outcome.UNKNOWN_SOURCE: ("no match", "warn"),
    Outcome.NO_IDENTITY: ("no match", "warn"),
    Outcome.ALREADY_PLAYED: ("skipped: already holds", "skip"),
    Outcome.STALE: ("skipped: older", "skip"),
    Outcome.IGNORED: ("ignored", "skip"),
}
_WHY: dict[Outcome, str] = {
    Outcome.UNKNOWN_ITEM: "the item is not in the source's library",
    Outcome.UNKNOWN_USER: "no cluster user has this credential",
    Outcome.UNKNOWN_SOURCE: "no configured server matches this proxy's upstream",
    Outcome.NO_IDENTITY: "the item has no external ids to match it by",
    Outcome.ALREADY_PLAYED: "already played as of the ledger",
    Outcome.STALE: "a newer change is already known",
}


@dataclass(frozen=True, slots=True)
class Entry:
    at: float
    what: str  # "event" | "write"
    label: str  # applied, skipped: already holds, skipped: playing, no match, failed, …
    tone: str  # ok | skip | warn | bad
    user: str
    source: str  # where the change was made ("full sync" for a sync's write)
    peer: str  # the server written to ("" for an event)
    change: str
    title: str
    detail: str

    def __lt__(self, other: Entry) -> bool:  # heapq.merge, newest first
        return self.at > other.at

    def touches(self, server: str) -> bool:
        return server in (self.source, self.peer)


@dataclass(slots=True)
class MissingItem:
    """An item a user changed on `source` that `peer`'s library has no match for, although
    it was looked up there by these ids."""

    source: str
    peer: str
    title: str
    keys: tuple[str, ...]
    user: str
    first_seen: float
    last_seen: float
    times: int = 1


@dataclass(frozen=True, slots=True)
class LastEvent:
    at: float
    via: str  # "proxy NAME", "original proxy", "webhook"…
    label: str
    user: str
    title: str


@dataclass
class Activity:
    clock: Callable[[], float] = time.time
    realtime: deque[Entry] = field(default_factory=lambda: deque(maxlen=REALTIME_KEPT))
    sync: deque[Entry] = field(default_factory=lambda: deque(maxlen=SYNC_KEPT))
    missing: dict[tuple[str, str, str], MissingItem] = field(default_factory=dict)
    last_event: dict[str, LastEvent] = field(default_factory=dict)
    ways: dict[str, set[str]] = field(default_factory=dict)  # server -> proxy, webhook…
    quiet: int = 0  # heartbeats and repeated positions since start
    _sources: dict[str, str] = field(default_factory=dict)

    # -- fed by the handler and the outbox ------------------------------------------------
    def on_event(self, handled: Handled) -> None:
        fields, outcome, event = handled.fields, handled.outcome, handled.event
        source = str(fields.get("source") or "")
        user = str(fields.get("user") or "")
        title = str(fields.get("title") or "")
        now = self.clock()
        if source:
            self._remember_source(event.id, source)
            way, via = _way_in(event.proxy_name)
            self.ways.setdefault(source, set()).add(way)
            self.last_event[source] = LastEvent(now, via, outcome.value, user, title)
        if outcome in _QUIET:
            self.quiet += 1
            return
        label, tone = _EVENT_LABEL.get(outcome, ("failed", "bad"))
        detail = self._event_detail(handled)
        self.realtime.append(
            Entry(now, "event", label, tone, user, source, "", str(fields.get("change") or ""),
                  title, redact_text(detail))
        )  # fmt: skip
        if handled.keys and source:
            self._note_missing(handled, source, user, title, now)

    def on_write(self, attempt: Attempt, result: Result) -> None:
        w = attempt.write
        label, tone = _write_label(result)
        change = w.change.value
        if w.change is Change.RESUME and w.time_ms is not None:
            change = f"resume at {clock_of(w.time_ms)}"
        source = "full sync" if w.origin == "sync" else self._sources.get(w.event_id or "", "")
        entry = Entry(
            self.clock(), "write", label, tone, w.user_name or str(w.user_id), source, w.peer,
            change, w.title, redact_text(result.detail),
        )  # fmt: skip
        (self.sync if w.origin == "sync" else self.realtime).append(entry)

    # -- read by the pages ----------------------------------------------------------------
    def entries(
        self, user: str = "", server: str = "", origin: str = "", limit: int = 300
    ) -> list[Entry]:
        """Newest first; `user` and `server` match exactly (any case for the user)."""
        rings: list[Iterable[Entry]] = []
        if origin in ("", "realtime"):
            rings.append(reversed(self.realtime))
        if origin in ("", "sync"):
            rings.append(reversed(self.sync))
        wanted = user.casefold()
        out: list[Entry] = []
        for entry in heapq.merge(*rings):
            if wanted and entry.user.casefold() != wanted:
                continue
            if server and not entry.touches(server):
                continue
            out.append(entry)
            if len(out) >= limit:
                break
        return out

    def users_seen(self) -> list[str]:
        return sorted({e.user for e in (*self.realtime, *self.sync) if e.user}, key=str.casefold)

    def missing_items(self) -> list[MissingItem]:
        return sorted(self.missing.values(), key=lambda m: m.last_seen, reverse=True)

    # -- inside ---------------------------------------------------------------------------
    def _remember_source(self, event_id: str, source: str) -> None:
        if len(self._sources) >= _EVENT_SOURCES_KEPT:
            self._sources.pop(next(iter(self._sources)))  # the oldest (dicts keep order)
        self._sources[event_id] = source

    @staticmethod
    def _event_detail(handled: Handled) -> str:
        fields = handled.fields
        parts: list[str] = []
        if handled.outcome is Outcome.QUEUED and fields.get("peers"):
            parts.append(f"to {fields['peers'].replace(',', ', ')}")
        if handled.absent_on:
            parts.append(f"not found on {', '.join(handled.absent_on)}")
        elif fields.get("not_on"):
            parts.append(f"waiting for {fields['not_on'].replace(',', ', ')} to answer")
        for key in ("reason", "error", "hint"):
            if fields.get(key):
                parts.append(str(fields[key]))
        if handled.outcome in _WHY:
            parts.append(_WHY[handled.outcome])
        if handled.outcome is Outcome.NO_PEERS and not parts:
            parts.append("no other server this user can use has the item")
        return "; ".join(parts)

    def _note_missing(
        self, handled: Handled, source: str, user: str, title: str, now: float
    ) -> None:
        key = handled.keys[0]
        for peer in handled.absent_on:
            found = self.missing.get((source, peer, key))
            if found is not None:
                found.last_seen, found.times, found.user = now, found.times + 1, user
                continue
            if len(self.missing) >= UNMATCHED_KEPT:
                oldest = min(self.missing, key=lambda k: self.missing[k].last_seen)
                del self.missing[oldest]
            self.missing[(source, peer, key)] = MissingItem(
                source, peer, title, tuple(handled.keys), user, now, now
            )
        # A peer that has it now (added since, or re-matched) is no longer missing it.
        written = str(handled.fields.get("peers") or "").split(",")
        for peer in filter(None, written):
            self.missing.pop((source, peer, key), None)


def _way_in(proxy_name: str | None) -> tuple[str, str]:
    """How an event came (proxy, webhook, the original nginx proxy), and in more words."""
    if proxy_name == WEBHOOK_PROXY_NAME:
        return "webhook", "webhook"
    if proxy_name == "legacy":
        return "original proxy", "original proxy"
    return "proxy", f"proxy {proxy_name}" if proxy_name else "proxy"


def _write_label(result: Result) -> tuple[str, str]:
    verdict = result.verdict
    if verdict is Verdict.DELIVERED:
        return "applied", "ok"
    if verdict is Verdict.SKIPPED:
        return "skipped: already holds", "skip"
    if verdict is Verdict.DEFERRED:
        return "skipped: playing", "skip"
    if verdict is Verdict.DROP:
        return "failed", "bad"
    return "will retry", "warn"


def clock_of(ms: int) -> str:
    """A position as h:mm:ss."""
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
