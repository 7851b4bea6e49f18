"""From a proxy's event to writes in the outbox.

`RealtimeHandler.handle(event)`:
1. source server (interpret.source_of);
2. user: whose credential it was (the UserDirectory, cached; no account-service call per
   event);
3. item: the source item's ids (and its show's, for episodes and seasons);
4. what changed (interpret.decide); heartbeats and repeated positions are throttled;
5. the ledger refuses a change older than the one it knows;
6. each peer: find the same item in its library index (optionally only in a library of the
   same name) and queue the write; a peer without the item is skipped with one info line;
   a peer whose index cannot be read (down) is skipped too, but the user is remembered in
   its `catch_up_users`: the service runs a full sync for it when it answers again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from manager.config import Config
from manager.event import WEBHOOK_PROXY_NAME, PlaybackEvent
from manager.logs import get_logger
from manager.model import MIN_RESUME_MS, Change, ClusterUser, ItemKey, Outcome, UserId
from manager.realtime.interpret import decide, source_of
from manager.realtime.throttle import Throttle
from manager.realtime.writer import related_ids
from manager.servers.errors import MediaServerError, NotFound
from manager.servers.identity import ItemIdentity, identity_keys, identity_of, parent_keys
from manager.servers.interface import UserDirectory
from manager.servers.models import SEASON, SHOW, MediaItem
from manager.servers.server import Server
from manager.store import catch_up, ledger, peer_writes
from manager.store.ledger import Observation
from manager.store.outbox import Outbox, Write
from manager.store.runner import DbRunner

log = get_logger("manager.realtime")
SHOW_CACHE_TTL = 600.0
_SHOW_CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Handled:
    """One event's outcome, for whoever follows the real-time path (the dashboard)."""

    event: PlaybackEvent
    outcome: Outcome
    fields: Mapping[str, Any]  # the fields of the `event` log line
    keys: tuple[ItemKey, ...] = ()  # the item's identity keys, when it got that far
    absent_on: tuple[str, ...] = ()  # peers searched whose library has no item with them


HandledListener = Callable[[Handled], None]


class RealtimeHandler:
    def __init__(
        self,
        config: Config,
        servers: Sequence[Server],
        directory: UserDirectory,
        runner: DbRunner,
        outbox: Outbox,
    ) -> None:
        self.config = config
        self.servers = list(servers)
        self.directory = directory
        self.runner = runner
        self.outbox = outbox
        self.throttle = Throttle(config.heartbeat_interval)
        self._show_cache: dict[tuple[str, str], tuple[float, MediaItem]] = {}
        self.events_handled = 0
        self._listeners: list[HandledListener] = []

    def add_listener(self, listener: HandledListener) -> None:
        """Called with every event's outcome once it is logged; must not block or raise."""
        self._listeners.append(listener)

    async def handle(self, event: PlaybackEvent) -> Outcome:
        started = time.monotonic()
        info: dict[str, Any] = {"event_id": event.id, "kind": event.kind, "state": event.state}
        # What the listeners learn beyond the log line: the item's keys, the peers without it.
        found: dict[str, tuple[str, ...]] = {}
        outcome = await self._handle(event, info, found)
        self.events_handled += 1
        info["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
        info["age_ms"] = round((time.time() - event.seen_at) * 1000, 1)
        level = "info" if outcome.routine else "warning"
        getattr(log, level)("event", outcome=outcome.value, **info)
        if self._listeners:
            handled = Handled(
                event,
                outcome,
                info,
                tuple(ItemKey(k) for k in found.get("keys", ())),
                found.get("absent_on", ()),
            )
            for listener in self._listeners:
                try:
                    listener(handled)
                except Exception:
                    log.exception("event_listener_failed")
        return outcome

    async def _handle(
        self, event: PlaybackEvent, info: dict[str, Any], found: dict[str, tuple[str, ...]]
    ) -> Outcome:
        source = source_of(event, self.servers)
        if source is None:
            info["upstream"] = event.upstream_url
            info["machine_identifier"] = event.machine_identifier
            if not event.machine_identifier:
                info["hint"] = "add this host[:port] to the server's aliases in the config"
            return Outcome.UNKNOWN_SOURCE
        info["source"] = source.name
        if event.upstream_status >= 400:
            info["upstream_status"] = event.upstream_status
            return Outcome.IGNORED

        try:
            # The player's id lets the directory recognise a short-lived token by session.
            user = await self.directory.user_for_token(
                source.name,
                event.token,
                client_id=event.client_id,
                item_id=event.rating_key,
                account_id=event.account_id,
            )
        except MediaServerError as exc:
            info["error"] = str(exc)
            return Outcome.USER_LOOKUP_FAILED
        if user is None:
            return Outcome.UNKNOWN_USER
        info["user"] = user.name

        try:
            # The source's library index already holds the item's ids; the server is asked
            # only for items added since it was built.
            item = source.index.item(event.rating_key) or await source.api.item(
                source.admin, event.rating_key
            )
        except NotFound:
            info["rating_key"] = event.rating_key
            return Outcome.UNKNOWN_ITEM
        except MediaServerError as exc:
            info["error"] = str(exc)
            return Outcome.SOURCE_UNREADABLE
        info["title"] = item.label
        show = await self._show_of(source, item)
        identity = identity_of(item, show)
        keys = identity_keys(identity)
        if not keys:
            return Outcome.NO_IDENTITY
        found["keys"] = tuple(keys)
        key = keys[0]
        parents = tuple(parent_keys(identity))

        decision = decide(
            event, item.duration_ms, self.config.played_threshold, source.api.stop_rules
        )
        if decision.change is None:
            info["reason"] = decision.reason
            return Outcome.IGNORED
        info["change"] = decision.change.value
        if decision.change is Change.RESUME and (decision.time_ms or 0) <= MIN_RESUME_MS:
            # Plex ignores a position of a minute or less: nothing changed, on any server.
            info["reason"] = "a minute or less is no resume point"
            return Outcome.IGNORED
        obs = Observation(
            user_id=user.id,
            identity_key=key,
            change=decision.change,
            observed_at=event.seen_at,
            source_server=source.name,
            offset_ms=decision.time_ms,
            duration_ms=event.duration_ms or item.duration_ms,
            user_name=user.name,
            kind=item.kind,
            title=item.label,
            event_id=event.id,
            aliases=tuple(keys[1:]),
            parents=parents,
        )
        # A webhook also reports our own writes back (servers notify every change): when
        # the ledger already holds that played/unplayed, it is an echo, or news to nobody.
        webhook = event.proxy_name == WEBHOOK_PROXY_NAME
        if decision.change is Change.PLAYED and (event.kind in ("timeline", "progress") or webhook):
            # Past the threshold every later report says "played" again; Plex counts each
            # scrobble as one more view, so only the first one of a viewing goes out.
            known = await self.runner.run(ledger.effective, user.id, keys, parents)
            if known is not None and known.played and known.change is Change.PLAYED:
                return Outcome.ALREADY_PLAYED
        if decision.change is Change.UNPLAYED and webhook:
            known = await self.runner.run(ledger.effective, user.id, keys, parents)
            if known is not None and known.played is False and known.change is Change.UNPLAYED:
                return Outcome.UNCHANGED
        if not await self.runner.run(ledger.record, obs):
            return Outcome.STALE
        if decision.heartbeat and decision.change is Change.RESUME:
            if not self.throttle.heartbeat_due(user.id, key):
                return Outcome.THROTTLED
        else:
            self.throttle.not_heartbeat(user.id, key)
        if decision.change is Change.RESUME:
            if not self.throttle.position_new(user.id, key, decision.time_ms):
                return Outcome.UNCHANGED
        elif item.kind in (SHOW, SEASON):
            # A whole show or season changed: no episode's remembered position holds.
            self.throttle.forget_positions(user.id)
        else:
            self.throttle.not_position(user.id, key)

        writes, missing, absent = await self._fan_out(event, source, user, item, identity, obs)
        found["absent_on"] = tuple(absent)
        if writes:
            await self.outbox.enqueue(writes)
        # After the peers' writes are on their way: does the source itself need the ledger's
        # state? (It rarely does; one database call to know.)
        ids = related_ids(source, item)
        if await self.runner.run(
            _source_behind, user.id, event.seen_at, obs, keys, source.name, ids
        ):
            repair = self._write(source, item, user, obs, event, item)
            await self.outbox.enqueue([repair])
            writes.append(repair)
            info["source_repaired"] = True
        info["peers"] = ",".join(w.peer for w in writes) or None
        if missing:
            info["not_on"] = ",".join(missing)
        return Outcome.QUEUED if writes else Outcome.NO_PEERS

    async def _fan_out(
        self,
        event: PlaybackEvent,
        source: Server,
        user: ClusterUser,
        item: MediaItem,
        identity: ItemIdentity,
        obs: Observation,
    ) -> tuple[list[Write], list[str], list[str]]:
        """A write for every peer that has the item; the peers that were skipped; of
        those, the ones whose library was read and has no such item."""
        library = item.library if self.config.same_library_name_only else None
        writes: list[Write] = []
        missing: list[str] = []
        absent: list[str] = []
        for peer in self.servers:
            if peer is source:
                continue
            if not self._may_use(user, peer):
                log.info("no_access_on_peer", peer=peer.name, user=user.name, title=item.label)
                continue
            found, unavailable = await self._lookup(peer, identity, library)
            if unavailable is not None:
                # The ledger already holds this change: a catch-up sync delivers it later.
                missing.append(peer.name)
                if user.id not in peer.catch_up_users:
                    peer.catch_up_users.add(user.id)
                    await self.runner.run(catch_up.mark, peer.name, user.id)
                log.info(
                    "peer_catch_up_pending",
                    peer=peer.name,
                    user=user.name,
                    title=item.label,
                    why=unavailable,
                    note="will catch up when the peer answers",
                )
                continue
            if found is None:
                missing.append(peer.name)
                absent.append(peer.name)
                log.info(
                    "not_on_peer",
                    peer=peer.name,
                    user=user.name,
                    title=item.label,
                    key=obs.identity_key,
                )
                continue
            writes.append(self._write(peer, found, user, obs, event, item))
        return writes, missing, absent

    @staticmethod
    def _write(
        peer: Server,
        found: MediaItem,
        user: ClusterUser,
        obs: Observation,
        event: PlaybackEvent,
        item: MediaItem,
    ) -> Write:
        return Write(
            peer=peer.name,
            user_id=user.id,
            identity_key=obs.identity_key,
            change=obs.change,
            item_id=found.id,
            observed_at=event.seen_at,
            user_name=user.name,
            user_kind=user.kind,
            time_ms=obs.offset_ms,
            duration_ms=found.duration_ms or event.duration_ms or item.duration_ms,
            title=item.label,
            origin="event",
            event_id=event.id,
            parent_keys=obs.parents,
        )

    def _may_use(self, user: ClusterUser, peer: Server) -> bool:
        """False when the directory knows who can use the peer and this user is not one."""
        allowed = self.directory.users(peer.name)
        return not allowed or any(u.id == user.id for u in allowed)

    async def _show_of(self, source: Server, item: MediaItem) -> MediaItem | None:
        if not item.show_id:
            return None
        indexed = source.index.show(item.show_id)
        if indexed is not None:
            return indexed
        cache_key = (source.name, item.show_id)
        cached = self._show_cache.get(cache_key)
        if cached is not None and time.monotonic() - cached[0] < SHOW_CACHE_TTL:
            return cached[1]
        try:
            show = await source.api.item(source.admin, item.show_id)
        except MediaServerError:
            return None
        if len(self._show_cache) > _SHOW_CACHE_MAX:
            self._show_cache.clear()
        self._show_cache[cache_key] = (time.monotonic(), show)
        return show

    async def _lookup(
        self, peer: Server, identity: ItemIdentity, library: str | None
    ) -> tuple[MediaItem | None, str | None]:
        """(the peer's item or None, why the peer's index could not be consulted or None)."""
        try:
            # find() rebuilds the index on a miss, at most every few minutes.
            found = await peer.index.find(identity, library)
        except MediaServerError as exc:
            return None, str(exc)
        if found is None and peer.index.built_at is None:
            return None, "library index not built yet"
        return found, None


def _source_behind(
    user: UserId,
    at: float,
    obs: Observation,
    keys: list[ItemKey],
    source: str,
    ids: list[str],
) -> bool:
    """On the database thread: whether the source itself needs the ledger's state. One of
    our writes landed there after this change was made (its event came late: the write
    was decided without it), or this resume point met a newer show-level unwatch that had
    not reached the source yet (it kept the stale played)."""
    if obs.change is Change.RESUME:
        known = ledger.effective(user, keys, obs.parents)
        if known is not None and known.played is False:
            return True
    return peer_writes.landed_over(source, user, ids, at)
