"""What an event means, before any server is asked: where it comes from and what changed.

Rules (pure functions, table-tested):
- source: the server whose id (`machine_identifier` in the event) the proxy read, else the
  configured server whose URL or alias matches the event's upstream URL;
- change: scrobble → played, unscrobble → unplayed; stopped/paused timeline and progress
  → resume point; playing/buffering heartbeats → resume point (throttled later); a position
  past `threshold` of the duration → played;
- a playback report to a server with rules of its own (Jellyfin, Emby: `StopRules`) means
  what that server made of it: under its minimum no resume point (nothing changed), past
  its played share played, and a short item stopped past the minimum played.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from manager.event import PlaybackEvent
from manager.model import Change
from manager.servers.models import StopRules
from manager.servers.server import Server


@dataclass(frozen=True, slots=True)
class Decision:
    change: Change | None  # None: nothing to do
    time_ms: int | None = None
    heartbeat: bool = False
    reason: str = ""


def decide(
    event: PlaybackEvent,
    duration_ms: int | None,
    threshold: float,
    rules: StopRules | None = None,
) -> Decision:
    """What state change an event stands for (before looking at any server); `rules`: the
    source server's own stop rules."""
    if event.kind == "scrobble":
        return Decision(Change.PLAYED)
    if event.kind == "unscrobble":
        return Decision(Change.UNPLAYED)
    if event.time_ms is None:
        return Decision(None, reason="no position")
    state = event.state or ("stopped" if event.kind == "progress" else None)
    duration = event.duration_ms or duration_ms
    if rules is not None and event.kind == "timeline" and duration:
        # Jellyfin applies its rules to every playback report, progress as well as stop.
        share = event.time_ms / duration
        beat = state in ("playing", "buffering")
        if share < rules.min_fraction:
            return Decision(None, reason="under the server's minimum: it kept no resume point")
        if share > rules.played_fraction or (duration < rules.short_ms and not beat):
            return Decision(Change.PLAYED, heartbeat=beat)
    if duration and event.time_ms >= threshold * duration:
        return Decision(Change.PLAYED, heartbeat=state in ("playing", "buffering"))
    if state in ("playing", "buffering"):
        return Decision(Change.RESUME, event.time_ms, heartbeat=True)
    if state in ("stopped", "paused"):
        return Decision(Change.RESUME, event.time_ms)
    return Decision(None, reason=f"state {state!r}")


def source_of(event: PlaybackEvent, servers: Sequence[Server]) -> Server | None:
    """The configured server an event comes from, or None."""
    if event.machine_identifier:
        for server in servers:
            if server.server_id == event.machine_identifier:
                return server
    netloc = urlsplit(event.upstream_url).netloc.lower()
    host = urlsplit(event.upstream_url).hostname or ""
    for server in servers:
        if netloc == server.config.netloc or netloc in server.config.aliases:
            return server
    # An alias given without a port matches any port on that host.
    for server in servers:
        if host and host in server.config.aliases:
            return server
    return None
