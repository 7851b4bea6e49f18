"""The outbox's deliverer: one write on one peer, as the user whose state it is.

The user's credential on the peer (from the directory), skip when the user is playing that
item there right now, then the write. Every failure becomes an outbox `Result`: retry
(with the peer held when it is down), drop with a reason, or retry at once after a
refused credential was refreshed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from manager.model import Change, ClusterUser
from manager.servers.errors import (
    BadRequest,
    MediaServerError,
    NotFound,
    RateLimited,
    ServerFault,
    Unauthorized,
    Unreachable,
)
from manager.servers.interface import UserDirectory
from manager.servers.models import Credential, Session
from manager.servers.server import Server
from manager.store.outbox import Attempt, Result, Verdict, Write

# Seconds a peer's sessions answer is reused: bounds that request to two a second per peer
# in a burst, while a session that just started is seen almost at once.
SESSIONS_TTL = 0.5


class PeerWriter:
    def __init__(self, servers: Sequence[Server], directory: UserDirectory) -> None:
        self.servers = {s.name: s for s in servers}
        self.directory = directory
        self._sessions: dict[str, tuple[float, list[Session]]] = {}

    def _user(self, w: Write) -> ClusterUser:
        # Known from the outbox row only when the directory has not loaded it (yet).
        known = self.directory.user(w.user_id)
        if known is not None:
            return known
        kind = w.user_kind if w.user_kind in ("owner", "shared", "managed") else "shared"
        return ClusterUser(id=w.user_id, name=w.user_name, kind=kind)  # type: ignore[arg-type]

    async def _playing_there(self, peer: Server, user: ClusterUser, item_id: str) -> bool:
        now = time.monotonic()
        cached = self._sessions.get(peer.name)
        if cached is None or now - cached[0] > SESSIONS_TTL:
            cached = (now, await peer.api.sessions(peer.admin))
            self._sessions[peer.name] = cached
        return any(
            s.item_id == item_id and s.active and self.directory.plays(peer.name, s, user)
            for s in cached[1]
        )

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
                return Result(Verdict.SKIPPED, "user is playing it there now")
            dropped = await self._write(peer, credential, w)
            if dropped is not None:
                return dropped
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
        return Result(Verdict.DELIVERED)

    async def _write(self, peer: Server, credential: Credential, w: Write) -> Result | None:
        """The write itself; a Result only when it cannot be made."""
        if w.change is Change.PLAYED:
            await peer.api.mark_played(credential, w.item_id)
        elif w.change is Change.UNPLAYED:
            await peer.api.mark_unplayed(credential, w.item_id)
        else:
            if not w.duration_ms:
                return Result(Verdict.DROP, "no duration known for a resume point")
            if w.unscrobble_first:
                await peer.api.mark_unplayed(credential, w.item_id)
            await peer.api.set_resume(credential, w.item_id, int(w.time_ms or 0), w.duration_ms)
        return None
