"""From a proxy's event to writes in the outbox, and from the outbox to a peer.

`Pipeline.handle(event)`:
1. source server: by the event's `machine_identifier` (learned from each server's
   /identity), else by matching `upstream_url` to a configured URL or alias;
2. user: whose token it was (UserDirectory, cached; no plex.tv call per event);
3. item: the source item's GUIDs (and its show's, for episodes and seasons);
4. what changed: scrobble → played, unscrobble → unplayed, stopped/paused timeline and
   progress → resume point, playing heartbeats → resume point at most once per
   `heartbeat_interval` per user and item, a position past `played_threshold` → played;
5. the ledger refuses a change older than the one it knows;
6. each peer: find the same item in its LibraryIndex (optionally only in a library of the
   same name) and queue the write; a peer without the item is skipped with one info line;
   a peer whose index cannot be read (down) is skipped too, but the user is remembered in
   its `catch_up_users`: the service runs a full sync for it when it answers again.

`Pipeline.deliver(delivery)` is the outbox's deliverer: the user's token on the peer,
skip when the user is playing that item there right now, then the write (marked as a
replay by the Plex client).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from manager.config import Config, ServerConfig
from manager.db import DbRunner
from manager.event import PlaybackEvent
from manager.guids import ItemIdentity, identity_keys, identity_of
from manager.ledger import Observation
from manager.ledger import get as ledger_get
from manager.ledger import record as ledger_record
from manager.library_index import LibraryIndex
from manager.logs import get_logger
from manager.outbox import Delivery, Outbox, Result, Verdict, Write
from manager.plex.errors import (
    BadRequest,
    NotFound,
    PlexError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unreachable,
)
from manager.plex.models import PlexItem, Session
from manager.users import ClusterUser, UserDirectory

log = get_logger("manager.pipeline")
T = TypeVar("T")
# Seconds a peer's /status/sessions answer is reused: bounds that request to two a second
# per peer in a burst, while a session that just started is seen almost at once.
SESSIONS_TTL = 0.5
SHOW_CACHE_TTL = 600.0


@dataclass(slots=True)
class ServerRuntime:
    """A configured server and what the manager has learned about it."""

    config: ServerConfig
    client: Any  # PlexServerClient (Any: tests build runtimes without one)
    index: LibraryIndex | None = None
    machine_identifier: str | None = None
    friendly_name: str | None = None
    reachable: bool | None = None
    last_error: str | None = None
    last_ok_at: float | None = None
    # Users whose events skipped this server because its index could not be read (it was
    # down); the service brings them up to date from the ledger once it answers again.
    catch_up_users: set[str] = field(default_factory=set)
    _sessions: tuple[float, list[Session]] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    def mark(self, ok: bool, error: str | None = None) -> None:
        self.reachable = ok
        if ok:
            self.last_ok_at = time.time()
            self.last_error = None
        else:
            self.last_error = error


@dataclass(frozen=True, slots=True)
class Decision:
    change: str | None  # played, unplayed, resume; None = nothing to do
    time_ms: int | None = None
    heartbeat: bool = False
    reason: str = ""


def decide(event: PlaybackEvent, duration_ms: int | None, threshold: float) -> Decision:
    """What state change an event stands for (before looking at any server)."""
    if event.kind == "scrobble":
        return Decision("played")
    if event.kind == "unscrobble":
        return Decision("unplayed")
    if event.time_ms is None:
        return Decision(None, reason="no position")
    state = event.state or ("stopped" if event.kind == "progress" else None)
    duration = event.duration_ms or duration_ms
    if duration and event.time_ms >= threshold * duration:
        return Decision("played", heartbeat=state in ("playing", "buffering"))
    if state in ("playing", "buffering"):
        return Decision("resume", event.time_ms, heartbeat=True)
    if state in ("stopped", "paused"):
        return Decision("resume", event.time_ms)
    return Decision(None, reason=f"state {state!r}")


_ACTION = {"played": "scrobble", "unplayed": "unscrobble", "resume": "resume"}


class Pipeline:
    def __init__(
        self,
        config: Config,
        servers: Sequence[ServerRuntime],
        users: UserDirectory | None,  # set once the servers' ids are known
        runner: DbRunner,
        outbox: Outbox | None = None,
    ) -> None:
        self.config = config
        self.servers = list(servers)
        self.users = users
        self.runner = runner
        self.outbox = outbox
        self._last_heartbeat_write: dict[tuple[str, str], float] = {}
        self._show_cache: dict[tuple[str, str], tuple[float, PlexItem]] = {}
        self._last_resume: dict[tuple[str, str], tuple[int | None, float]] = {}
        self._user_cache: dict[str, Any] = {}
        self.events_handled = 0

    # -- source ------------------------------------------------------------------------
    def source_for(self, event: PlaybackEvent) -> ServerRuntime | None:
        if event.machine_identifier:
            for server in self.servers:
                if server.machine_identifier == event.machine_identifier:
                    return server
        netloc = urlsplit(event.upstream_url).netloc.lower()
        host = urlsplit(event.upstream_url).hostname or ""
        for server in self.servers:
            if netloc == server.config.netloc or netloc in server.config.aliases:
                return server
        # An alias given without a port matches any port on that host.
        for server in self.servers:
            if host and host in server.config.aliases:
                return server
        return None

    # -- event → outbox ------------------------------------------------------------------
    async def handle(self, event: PlaybackEvent) -> str:
        started = time.monotonic()
        info: dict[str, Any] = {"event_id": event.id, "kind": event.kind, "state": event.state}
        outcome = await self._handle(event, info)
        self.events_handled += 1
        info["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
        info["age_ms"] = round((time.time() - event.seen_at) * 1000, 1)
        quiet = ("queued", "throttled", "no_peers", "ignored", "already_played", "unchanged")
        level = "info" if outcome in quiet else "warning"
        if outcome in ("stale", "duplicate"):
            level = "info"
        getattr(log, level)("event", outcome=outcome, **info)
        return outcome

    async def _handle(self, event: PlaybackEvent, info: dict[str, Any]) -> str:
        source = self.source_for(event)
        if source is None:
            info["upstream"] = event.upstream_url
            info["machine_identifier"] = event.machine_identifier
            if not event.machine_identifier:
                info["hint"] = "add this host[:port] to the server's aliases in the config"
            return "unknown_source"
        info["source"] = source.name
        if event.upstream_status >= 400:
            info["upstream_status"] = event.upstream_status
            return "ignored"

        if self.users is None:
            return "not_ready"
        try:
            # The player's id lets the directory recognise a transient token by session.
            user = await self.users.user_for_token(
                source.name, event.token, client_id=event.client_id, rating_key=event.rating_key
            )
        except PlexError as exc:
            info["error"] = str(exc)
            return "user_lookup_failed"
        if user is None:
            return "unknown_user"
        self._user_cache[str(user.id)] = user
        info["user"] = user.name

        try:
            # The source's library index already holds the item's ids (read at start with
            # includeGuids); the server is asked only for items added since.
            item = _indexed(source, event.rating_key) or await source.client.item(
                source.config.token, event.rating_key
            )
        except NotFound:
            info["rating_key"] = event.rating_key
            return "unknown_item"
        except PlexError as exc:
            info["error"] = str(exc)
            return "source_unreadable"
        info["title"] = _title(item)
        show = await self._show_of(source, item)
        identity = identity_of(item, show)
        keys = identity_keys(identity)
        if not keys:
            return "no_identity"
        key = keys[0]

        decision = decide(event, item.duration_ms, self.config.played_threshold)
        if decision.change is None:
            info["reason"] = decision.reason
            return "ignored"
        info["change"] = decision.change
        obs = Observation(
            user_id=str(user.id),
            identity_key=key,
            change=decision.change,  # type: ignore[arg-type]
            observed_at=event.seen_at,
            source_server=source.name,
            offset_ms=decision.time_ms,
            duration_ms=event.duration_ms or item.duration_ms,
            user_name=user.name,
            kind=item.type,
            title=_title(item),
            event_id=event.id,
            aliases=tuple(keys[1:]),
        )
        if decision.change == "played" and event.kind in ("timeline", "progress"):
            # Past the threshold every later report says "played" again; Plex counts each
            # scrobble as one more view, so only the first one of a viewing goes out.
            known = await self.runner.run(ledger_get, str(user.id), key, *keys[1:])
            if known is not None and known.played and known.change == "played":
                return "already_played"
        if not await self.runner.run(ledger_record, obs):
            return "stale"
        if decision.heartbeat and decision.change == "resume":
            if len(self._last_heartbeat_write) > 10_000:
                self._forget_old_heartbeats()
            throttle_key = (str(user.id), key)
            last = self._last_heartbeat_write.get(throttle_key)
            now = time.monotonic()
            if last is not None and now - last < self.config.heartbeat_interval:
                return "throttled"
            self._last_heartbeat_write[throttle_key] = now
        else:
            self._last_heartbeat_write.pop((str(user.id), key), None)
        memo_key = (str(user.id), key)
        if decision.change == "resume":
            # Paused players report the same position every 10 s: write it once (again
            # after heartbeat_interval, in case something else moved it meanwhile).
            now = time.monotonic()
            last_resume = self._last_resume.get(memo_key)
            if (
                last_resume is not None
                and last_resume[0] == decision.time_ms
                and now - last_resume[1] < self.config.heartbeat_interval
            ):
                return "unchanged"
            self._last_resume[memo_key] = (decision.time_ms, now)
        else:
            self._last_resume.pop(memo_key, None)

        library = item.section_title if self.config.same_library_name_only else None
        writes: list[Write] = []
        missing: list[str] = []
        for peer in self.servers:
            if peer is source:
                continue
            if not self._may_use(user, peer):
                log.info("no_access_on_peer", peer=peer.name, user=user.name, title=_title(item))
                continue
            found, unavailable = await self._lookup(peer, identity, library)
            if unavailable is not None:
                # The ledger already holds this change: a catch-up sync delivers it later.
                missing.append(peer.name)
                peer.catch_up_users.add(str(user.id))
                log.info(
                    "peer_catch_up_pending",
                    peer=peer.name,
                    user=user.name,
                    title=_title(item),
                    why=unavailable,
                    note="will catch up when the peer answers",
                )
                continue
            if found is None:
                missing.append(peer.name)
                log.info("not_on_peer", peer=peer.name, user=user.name, title=_title(item), key=key)
                continue
            writes.append(
                Write(
                    peer=peer.name,
                    user_id=str(user.id),
                    identity_key=key,
                    action=_ACTION[decision.change],
                    rating_key=str(found.rating_key),
                    observed_at=event.seen_at,
                    user_name=user.name,
                    user_kind=str(getattr(user, "kind", "")),
                    time_ms=decision.time_ms,
                    duration_ms=found.duration_ms or event.duration_ms or item.duration_ms,
                    title=_title(item),
                    origin="event",
                    event_id=event.id,
                )
            )
        info["peers"] = ",".join(w.peer for w in writes) or None
        if missing:
            info["not_on"] = ",".join(missing)
        if not writes:
            return "no_peers"
        if self.outbox is not None:
            await self.outbox.enqueue(writes)
        return "queued"

    def _forget_old_heartbeats(self) -> None:
        horizon = time.monotonic() - self.config.heartbeat_interval
        for k in [k for k, at in self._last_heartbeat_write.items() if at < horizon]:
            del self._last_heartbeat_write[k]
        if len(self._show_cache) > 10_000:
            self._show_cache.clear()
        if len(self._last_resume) > 10_000:
            self._last_resume.clear()

    def _may_use(self, user: ClusterUser, peer: ServerRuntime) -> bool:
        """False when the directory knows who can use the peer and this user is not one."""
        allowed = self.users.users(peer.name) if self.users is not None else []
        return not allowed or any(u.id == user.id for u in allowed)

    async def _show_of(self, source: ServerRuntime, item: PlexItem) -> PlexItem | None:
        show_key = item.show_rating_key
        if not show_key:
            return None
        if source.index is not None:
            indexed = source.index.show(show_key)
            if indexed is not None:
                return indexed
        cache_key = (source.name, show_key)
        cached = self._show_cache.get(cache_key)
        if cached is not None and time.monotonic() - cached[0] < SHOW_CACHE_TTL:
            return cached[1]
        try:
            show = await source.client.item(source.config.token, show_key)
        except PlexError:
            return None
        self._show_cache[cache_key] = (time.monotonic(), show)
        return show

    async def _lookup(
        self, peer: ServerRuntime, identity: ItemIdentity, library: str | None
    ) -> tuple[PlexItem | None, str | None]:
        """(the peer's item or None, why the peer's index could not be consulted or None)."""
        if peer.index is None:
            return None, "no library index"
        try:
            # find() rebuilds the index on a miss, at most every few minutes.
            found: PlexItem | None = await peer.index.find(identity, library)
        except PlexError as exc:
            return None, str(exc)
        if found is None and peer.index.built_at is None:
            return None, "library index not built yet"
        return found, None

    # -- outbox → peer -------------------------------------------------------------------
    def _server(self, name: str) -> ServerRuntime | None:
        return next((s for s in self.servers if s.name == name), None)

    def _user(self, w: Write) -> Any:
        user = self._user_cache.get(w.user_id)
        if user is None and self.users is not None and w.user_id.isdigit():
            user = self.users.user(int(w.user_id))
        if user is None:
            # Known from the outbox row only (e.g. after a restart, before plex.tv answered).
            user_id: Any = int(w.user_id) if w.user_id.isdigit() else w.user_id
            user = ClusterUser(id=user_id, name=w.user_name, kind=w.user_kind or "shared")  # type: ignore[arg-type]
        self._user_cache[w.user_id] = user
        return user

    async def _playing_there(self, peer: ServerRuntime, user: Any, rating_key: str) -> bool:
        now = time.monotonic()
        if peer._sessions is None or now - peer._sessions[0] > SESSIONS_TTL:
            sessions = await peer.client.sessions(peer.config.token)
            peer._sessions = (now, sessions)
        for s in peer._sessions[1]:
            if (
                s.rating_key == rating_key
                and s.state in ("playing", "buffering", "paused")
                and (s.username == user.name or (user.name == "" and s.user_id == str(user.id)))
            ):
                return True
        return False

    async def deliver(self, d: Delivery) -> Result:
        w = d.write
        peer = self._server(w.peer)
        if peer is None:
            return Result(Verdict.DROP, f"server {w.peer!r} is no longer configured")
        users = self.users
        if users is None:
            return Result(Verdict.RETRY, "user directory not loaded yet")
        user = self._user(w)
        try:
            token = await users.token_for(user, peer.name)
            if not token:
                # None is both "no access there" and "plex.tv did not answer": retry a little.
                if d.attempts < 3:
                    return Result(Verdict.RETRY, f"no token for {user.name} on {peer.name} yet")
                return Result(Verdict.DROP, f"no token for {user.name} on {peer.name}")
            if await self._playing_there(peer, user, w.rating_key):
                return Result(Verdict.SKIPPED, "user is playing it there now")
            if w.action == "scrobble":
                await peer.client.scrobble(token, w.rating_key)
            elif w.action == "unscrobble":
                await peer.client.unscrobble(token, w.rating_key)
            else:
                if not w.duration_ms:
                    return Result(Verdict.DROP, "no duration known for a resume point")
                if w.unscrobble_first:
                    await peer.client.unscrobble(token, w.rating_key)
                await peer.client.set_resume(
                    token, w.rating_key, int(w.time_ms or 0), w.duration_ms
                )
        except Unauthorized as exc:
            peer.mark(True)
            users.invalidate(user, peer.name)
            if d.attempts < 2:
                return Result(
                    Verdict.RETRY, f"401, token refreshed: {exc}", retry_now=d.attempts == 0
                )
            return Result(Verdict.DROP, f"unauthorized after token refresh: {exc}")
        except RateLimited as exc:
            return Result(Verdict.RETRY, f"plex.tv rate limit: {exc}")
        except NotFound as exc:
            peer.mark(True)
            return Result(Verdict.DROP, f"404 on peer: {exc}")
        except BadRequest as exc:
            peer.mark(True)
            return Result(Verdict.DROP, f"{exc.status}: {exc}")
        except ServerError as exc:
            peer.mark(False, str(exc))
            return Result(Verdict.RETRY, f"{exc.status}: {exc}")
        except Unreachable as exc:
            # Either the peer or plex.tv (token fetch) is unreachable; only the peer's own
            # failure should hold its other rows.
            down = exc.target in ("", peer.name, peer.config.url, peer.config.netloc)
            if down:
                peer.mark(False, str(exc))
            return Result(Verdict.RETRY, f"unreachable: {exc}", peer_down=down)
        except PlexError as exc:
            return Result(Verdict.RETRY, str(exc))
        peer.mark(True)
        return Result(Verdict.DELIVERED)


def _indexed(server: ServerRuntime, rating_key: str) -> PlexItem | None:
    if server.index is None:
        return None
    found: PlexItem | None = server.index.item(rating_key)
    return found


def _title(item: PlexItem) -> str:
    if item.type == "episode" and item.show_title:
        return f"{item.show_title} S{item.season_index or 0:02d}E{item.episode_index or 0:02d}"
    if item.type == "season" and item.show_title:
        return f"{item.show_title} season {item.season_index}"
    return item.title
