"""The outbox's deliverer: one write on one peer, as the user whose state it is.

The user's credential on the peer (from the directory); while the user is playing that
item there, try again later; then what the peer should hold (goal.py, from the ledger),
what it holds now (one read, or the full sync's read of a moment ago: servers/recent.py),
and only the writes that change it. The write and the stamp the peer leaves are
remembered (store/peer_writes.py), so it never passes for a newer change: read back, or
predicted from the peer's clock (servers/peer_clock.py). Every failure
becomes an outbox `Result`: retry (with the peer held when it is down), drop with a
reason, or retry at once after a refused credential was refreshed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from manager.model import Change, ClusterUser, ItemKey, UserId
from manager.realtime.goal import Goal, goal_for, holds, peer_is_newer, steps
from manager.realtime.keyed_lock import KeyedLock
from manager.servers.errors import (
    BadRequest,
    MediaServerError,
    NotFound,
    RateLimited,
    ServerFault,
    Unauthorized,
    Unreachable,
)
from manager.servers.identity import identity_keys, item_key_of, parent_keys
from manager.servers.interface import UserDirectory
from manager.servers.models import SEASON, SHOW, Credential, MediaItem, Session
from manager.servers.server import Server
from manager.store import ledger, outbox_rows, peer_writes
from manager.store.ledger import LedgerEntry
from manager.store.outbox import Attempt, Result, Verdict, Write
from manager.store.runner import DbRunner

# Seconds a peer's sessions answer is reused: bounds that request to two a second per peer
# in a burst, while a session that just started is seen almost at once.
SESSIONS_TTL = 0.5


def _of(item: MediaItem, stamps: dict[str, tuple[int, float]]) -> list[tuple[int, float]]:
    """Our writes' stamps that can be on this item: its own, its season's, its show's."""
    return [stamps[i] for i in (item.id, item.season_id, item.show_id) if i and i in stamps]


def _family(server: Server, user_id: UserId, item_id: str) -> tuple[str, ...]:
    """The item's id, then its season's and show's where known: a write holds the first
    alone and the others shared (KeyedLock), so that an episode's write and its season's
    or show's do not both read the state before either changed it, while other items'
    writes, an episode's siblings' too, go beside it. Writes were one at a time per user:
    a first sync, which queues one user's rows after another, had one write in flight per
    server. What the item is: from the index, or the full sync's read of it (which knows
    an episode's season and show); an item neither knows is written as itself alone,
    as `related_ids` has it."""
    item = server.index.item(item_id)
    if item is None:
        seen = server.recent.peek(user_id, item_id)
        item = seen.item if seen is not None else None
    if item is None:
        return (item_id,)
    return (item_id, *(i for i in (item.season_id, item.show_id) if i))


def related_ids(server: Server, item: MediaItem) -> list[str]:
    """The ids whose writes can stamp this item there: its own, its season's and show's,
    and for a show or season every episode's and season's under it."""
    ids = [i for i in (item.id, item.season_id, item.show_id) if i]
    if item.kind in (SHOW, SEASON):
        for episode in server.index.episodes_under(item.id):
            ids += [episode.id, *([episode.season_id] if episode.season_id else [])]
    return list(dict.fromkeys(ids))


class PeerWriter:
    def __init__(
        self,
        servers: Sequence[Server],
        directory: UserDirectory,
        runner: DbRunner,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.servers = {s.name: s for s in servers}
        self.directory = directory
        self.runner = runner
        self.clock = clock  # when a write landed, on the clock events are dated by
        self._sessions: dict[str, tuple[float, list[Session]]] = {}
        self._asking: dict[str, asyncio.Future[list[Session]]] = {}  # sessions asked now
        # One write at a time per user and item family on a peer (`_family`).
        self._locks = KeyedLock()

    def _user(self, w: Write) -> ClusterUser:
        # Known from the outbox row only when the directory has not loaded it (yet).
        known = self.directory.user(w.user_id)
        if known is not None:
            return known
        kind = w.user_kind if w.user_kind in ("owner", "shared", "managed") else "shared"
        return ClusterUser(id=w.user_id, name=w.user_name, kind=kind)  # type: ignore[arg-type]

    async def _playing_there(self, peer: Server, user: ClusterUser, item_id: str) -> bool:
        return any(
            s.item_id == item_id and s.active and self.directory.plays(peer.name, s, user)
            for s in await self._sessions_of(peer)
        )

    async def _sessions_of(self, peer: Server) -> list[Session]:
        """What the peer is playing, asked at most once per SESSIONS_TTL: the writes that
        find the answer too old while it is being asked wait for that one answer. Each
        asked for itself before, so a first sync sent a burst of checks at every expiry
        (405 to each server in a first sync of 17 500 writes, where 2 a second is ~100)."""
        cached = self._sessions.get(peer.name)
        if cached is not None and time.monotonic() - cached[0] <= SESSIONS_TTL:
            return cached[1]
        asking = self._asking.get(peer.name)
        if asking is None:
            asking = self._asking[peer.name] = asyncio.ensure_future(self._ask_sessions(peer))
        return await asyncio.shield(asking)

    async def _ask_sessions(self, peer: Server) -> list[Session]:
        """One request for what the peer plays; its answer dated when it was asked."""
        asked_at = time.monotonic()
        try:
            sessions = await peer.api.sessions(peer.admin)
        finally:
            del self._asking[peer.name]
        self._sessions[peer.name] = (asked_at, sessions)
        return sessions

    async def deliver(self, attempt: Attempt) -> Result:
        w = attempt.write
        peer = self.servers.get(w.peer)
        if peer is None:
            return Result(Verdict.DROP, f"server {w.peer!r} is no longer configured")
        user = self._user(w)
        try:
            credential = await self.directory.credential_for(user, peer.name)
            if credential is None:
                # None is both "no access there" and "not answered": retry a little.
                if attempt.attempts < 3:
                    return Result(Verdict.RETRY, f"no token for {user.name} on {peer.name} yet")
                return Result(Verdict.DROP, f"no token for {user.name} on {peer.name}")
            if await self._playing_there(peer, user, w.item_id):
                # Their player reports what happens there; what is true after it stops is
                # delivered then (the goal is read again on every attempt).
                return Result(Verdict.DEFERRED, "user is playing it there now")
            own, *above = ((peer.name, w.user_id, i) for i in _family(peer, w.user_id, w.item_id))
            async with self._locks.hold(own, tuple(above)):
                result = await self._bring(peer, credential, attempt)
            if result is not None and result.verdict is not Verdict.DELIVERED:
                return result
        except Unauthorized as exc:
            peer.mark(True)
            self.directory.invalidate(user, peer.name)
            if attempt.attempts < 2:
                return Result(
                    Verdict.RETRY, f"401, token refreshed: {exc}", retry_now=attempt.attempts == 0
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
        except ServerFault as exc:
            peer.mark(False, str(exc))
            return Result(Verdict.RETRY, f"{exc.status}: {exc}")
        except Unreachable as exc:
            # Either the peer or the account service (a token fetch) is unreachable; only
            # the peer's own failure should hold its other rows.
            down = peer.answered_for(exc.target)
            if down:
                peer.mark(False, str(exc))
            return Result(Verdict.RETRY, f"unreachable: {exc}", peer_down=down)
        except MediaServerError as exc:
            return Result(Verdict.RETRY, str(exc))
        peer.mark(True)
        return result or Result(Verdict.DELIVERED)

    async def _bring(self, peer: Server, credential: Credential, row: Attempt) -> Result | None:
        """Bring the peer to the goal; a Result when nothing is written (or cannot be), or
        when the write's outbox row was finished with what it wrote (`_apply`)."""
        w = row.write
        keys = [item_key_of(w.identity_key)]
        seen = peer.recent.take(w.user_id, w.item_id) if w.origin == "sync" else None
        indexed = peer.index.item(w.item_id) or (seen.item if seen is not None else None)
        ids = related_ids(peer, indexed) if indexed is not None else [w.item_id]
        if seen is not None and seen.item.kind not in (SHOW, SEASON):
            # Our stamps only date a `last_played_at` (peer_is_newer): an item read
            # without one (most a first run writes) needs no lookup of them.
            dated = seen.item.last_played_at is not None
            known, stamps = await self.runner.together(
                _what_we_know, w, keys, peer.name, ids if dated else []
            )
            current = seen.item
            if known is not None and known.observed_at > seen.read_at:
                current = await peer.api.item(credential, w.item_id)  # it changed since
                if not dated and current.last_played_at is not None:
                    stamps = await self.runner.run(
                        peer_writes.stamps_by_item, peer.name, w.user_id, ids
                    )
        else:
            # The ledger and our stamps (one database call) while the peer is read.
            (known, stamps), current = await asyncio.gather(
                self.runner.together(_what_we_know, w, keys, peer.name, ids),
                peer.api.item(credential, w.item_id),
            )
        goal = goal_for(w, known)
        if current.kind in (SHOW, SEASON):
            return await self._bring_container(peer, credential, row, goal, current, stamps, ids)
        if holds(goal, current):
            return Result(Verdict.SKIPPED, "already holds")
        if peer_is_newer(goal, current, peer.name, _of(current, stamps)):
            return Result(Verdict.SKIPPED, "holds a newer state")
        todo = steps(goal, current)
        if Change.RESUME in todo and not w.duration_ms:
            return Result(Verdict.DROP, "no duration known for a resume point")
        return await self._apply(peer, credential, w, goal, todo, keys, ids, row)

    async def _bring_container(
        self,
        peer: Server,
        credential: Credential,
        row: Attempt,
        goal: Goal,
        container: MediaItem,
        stamps: dict[str, tuple[int, float]],
        ids: list[str],
    ) -> Result | None:
        """A show or season: one request for all its episodes, unless some episode changed
        after this change (in the ledger, or there): each episode then gets what is true
        for it, and the newer ones keep theirs. `ids`: related_ids of the container."""
        w = row.write
        episodes = await peer.api.leaves(credential, w.item_id)
        if holds(goal, container, episodes):
            return Result(Verdict.SKIPPED, "already holds")
        key = item_key_of(w.identity_key)
        split = any(peer_is_newer(goal, e, peer.name, _of(e, stamps)) for e in episodes)
        if not split and not await self.runner.run(
            ledger.changed_under, w.user_id, key, goal.as_of
        ):
            todo = steps(goal, container)
            return await self._apply(peer, credential, w, goal, todo, [key], ids, row)
        written = 0
        for episode in episodes:
            identity = peer.index.identity(episode)
            known = await self.runner.run(
                ledger.effective, w.user_id, identity_keys(identity), parent_keys(identity)
            )
            own = goal
            if known is not None and known.observed_at >= goal.as_of:
                own = goal_for(replace(w, observed_at=goal.as_of), known)
            if holds(own, episode) or peer_is_newer(own, episode, peer.name, _of(episode, stamps)):
                continue
            one = replace(w, item_id=episode.id, duration_ms=episode.duration_ms)
            todo, mine = steps(own, episode), related_ids(peer, episode)
            if await self._apply(peer, credential, one, own, todo, None, mine):
                return Result(Verdict.RETRY, MOVED_ON, retry_now=True)
            written += 1
        return None if written else Result(Verdict.SKIPPED, "holds a newer state")

    async def _apply(
        self,
        peer: Server,
        credential: Credential,
        w: Write,
        goal: Goal,
        todo: list[Change],
        keys: list[ItemKey] | None,
        ids: list[str],
        row: Attempt | None = None,
    ) -> Result | None:
        """The writes; then what they stamped is kept, and when a newer change for the
        item was recorded meanwhile (its event handled while we wrote), the write goes
        again at once, to what is true now. `keys`: the item's, None not to look; `ids`:
        the ids the write can change (related_ids). `row`: the outbox row this write
        completes, finished in the same transaction as the stamp (a delivered Result
        says so), one database commit per write instead of two."""
        # Before writing, as a failed write may still have landed; a show's or season's
        # write changes its episodes too.
        if todo:
            for item_id in ids:
                peer.recent.wrote(w.user_id, item_id)
        sent_at = answered_at = self.clock()
        for step in todo:
            sent_at = self.clock()
            if step is Change.PLAYED:
                await peer.api.mark_played(credential, w.item_id)
            elif step is Change.UNPLAYED:
                await peer.api.mark_unplayed(credential, w.item_id)
            else:
                assert goal.position_ms is not None and w.duration_ms
                await peer.api.set_resume(credential, w.item_id, goal.position_ms, w.duration_ms)
            answered_at = self.clock()
        stamp: int | None = None
        if todo and todo[-1] is not Change.UNPLAYED:  # unplayed leaves no stamp
            stamp = peer.clock.stamp_for(sent_at, answered_at)
            if stamp is None:  # the peer's clock is not known (any more): read it back
                stamp = (await peer.api.item(credential, w.item_id)).last_played_at
                if stamp is not None:
                    peer.clock.learn(stamp, sent_at, answered_at)
        written = (peer.name, stamp, goal.as_of, self.clock())
        if await self.runner.together(_after_writing, w, written, keys, row):
            return Result(Verdict.RETRY, MOVED_ON, retry_now=True)
        return None if row is None else Result(Verdict.DELIVERED, settled=True)


MOVED_ON = "a newer change came in while writing"


def _what_we_know(
    w: Write, keys: list[ItemKey], peer: str, ids: list[str]
) -> tuple[LedgerEntry | None, dict[str, tuple[int, float]]]:
    """On the database thread: the ledger's state of the item and our stamps there."""
    known = ledger.effective(w.user_id, keys, w.parent_keys)
    return known, peer_writes.stamps_by_item(peer, w.user_id, ids)


def _after_writing(
    w: Write,
    written: tuple[str, int | None, float, float],
    keys: list[ItemKey] | None,
    row: Attempt | None,
) -> bool:
    """On the database thread, in the transaction of `DbRunner.together`: keep the write's
    stamp; whether the ledger moved on. When it did not, `row` (if any) leaves the outbox
    in the same transaction: both or neither survive a crash, and a row still there is
    delivered again, as before."""
    peer, stamp, as_of, at = written
    peer_writes.record(peer, w.user_id, w.item_id, stamp, as_of, at)
    moved = False
    if keys is not None:
        now = ledger.effective(w.user_id, keys, w.parent_keys)
        moved = now is not None and now.observed_at > as_of
    if row is not None and not moved:
        outbox_rows.finish(row)
    return moved
