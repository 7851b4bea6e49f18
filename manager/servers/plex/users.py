"""Plex's `UserDirectory`: who is who across an owner's Plex servers (see roster.py).

Everything is cached: once a token is known, telling whose it is costs no plex.tv call.
An unknown token triggers at most one roster refresh per `unknown_refresh_interval`
and one plex.tv `account` lookup (then it is remembered either way for a while). Tokens
handed out by `credential_for` come only from plex.tv for that server: a token a client
sent (possibly a transient one) is never used anywhere else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping

from manager.model import ClusterUser, UserId
from manager.redaction import redact
from manager.servers.errors import MediaServerError, Unauthorized
from manager.servers.models import Credential, Session
from manager.servers.plex.plextv import PlexTvClient
from manager.servers.plex.roster import Roster, RosterLoader, Token, log, user_id
from manager.servers.server import Server

# A Plex server calls its owner account 1; everyone else by their plex.tv id.
OWNER_ACCOUNT_ID = "1"


class PlexUserDirectory:
    def __init__(
        self,
        plextv: PlexTvClient,
        servers: Iterable[Server],
        *,
        token_ttl: float = 6 * 3600.0,
        unknown_refresh_interval: float = 60.0,
        unknown_token_ttl: float = 600.0,
        refetch_min_interval: float = 30.0,
        pins: Mapping[str, str] | None = None,
    ) -> None:
        self.plextv = plextv
        self.servers: dict[str, Server] = {s.name: s for s in servers}
        self.token_ttl = token_ttl
        self.unknown_refresh_interval = unknown_refresh_interval
        self.unknown_token_ttl = unknown_token_ttl
        self.refetch_min_interval = refetch_min_interval
        self.loader = RosterLoader(plextv, pins)
        self.refreshed_at: float | None = None  # wall clock
        self._roster = Roster()
        # server name → {token: (user id, expires at monotonic)}; a token identifies a user
        # only on the server it was seen on.
        self._owners: dict[str, dict[str, tuple[UserId, float]]] = {n: {} for n in self.servers}
        self._unknown: dict[tuple[str, str], float] = {}
        self._last_refresh = float("-inf")
        self._last_fetch: dict[tuple[UserId, str], float] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._identifying: dict[tuple[str, str], asyncio.Task[ClusterUser | None]] = {}
        self._session_tried: dict[tuple[str, str], float] = {}
        self._locks: dict[object, asyncio.Lock] = {}

    def update_server(self, server: Server) -> None:
        """Add a server or replace its details (e.g. its machineIdentifier became known,
        or its admin token changed); its cached tokens are dropped. Call refresh() next."""
        self.servers[server.name] = server
        self._owners[server.name] = {}
        tokens = self._roster.tokens
        for key in [k for k in tokens if k[1] == server.name]:
            del tokens[key]
        self._last_refresh = float("-inf")

    def _lock(self, key: object) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # --- reading the directory ---------------------------------------------------------

    def all_users(self) -> list[ClusterUser]:
        return sorted(self._roster.users.values(), key=lambda u: (u.kind != "owner", u.name))

    def user(self, uid: UserId) -> ClusterUser | None:
        return self._roster.users.get(uid)

    def user_by_name(self, name: str) -> ClusterUser | None:
        wanted = name.casefold()
        return next((u for u in self._roster.users.values() if u.name.casefold() == wanted), None)

    def name_on(self, user: ClusterUser, server: str) -> str | None:
        """Their plex.tv name: one account on every Plex server they can use."""
        return user.name if any(u.id == user.id for u in self.users(server)) else None

    def users(self, server: str) -> list[ClusterUser]:
        """Everyone who can use that server (owner first), for the full sync."""
        roster = self._roster
        ids = set(roster.access.get(server, ()))
        admin = roster.admins.get(server)
        if admin is not None:
            ids.add(user_id(admin.id))
        found = [roster.users[i] for i in ids if i in roster.users]
        return sorted(found, key=lambda u: (admin is None or u.id != user_id(admin.id), u.name))

    def owner_of(self, server: str) -> ClusterUser | None:
        admin = self._roster.admins.get(server)
        return self._roster.users.get(user_id(admin.id)) if admin else None

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        # Before plex.tv answered, a user known only from a queued write has no name.
        return session.username == user.name or (user.name == "" and session.user_id == user.id)

    # --- refreshing from plex.tv -------------------------------------------------------

    async def refresh(self) -> None:
        """Reload users and tokens from plex.tv; concurrent callers share one reload."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        roster = await self.loader.load(list(self.servers.values()), self._roster)
        now = time.monotonic()
        # Swap in: token identification keeps tokens learned from plex.tv account lookups.
        owners: dict[str, dict[str, tuple[UserId, float]]] = {n: {} for n in self.servers}
        for name, known in self._owners.items():
            for token, (uid, expires) in known.items():
                if expires > now and uid in roster.users:
                    owners.setdefault(name, {})[token] = (uid, expires)
        for (uid, server), tok in roster.tokens.items():
            owners.setdefault(server, {})[tok.value] = (uid, now + self.token_ttl)
        self._roster = roster
        self._owners = owners
        self._unknown.clear()
        self._session_tried.clear()
        self.refreshed_at = time.time()
        log.info(
            "user directory refreshed",
            users=len(roster.users),
            servers={n: len(self.users(n)) for n in self.servers},
        )

    # --- tokens ------------------------------------------------------------------------

    def _is_admin(self, user: ClusterUser, server: str) -> bool:
        admin = self._roster.admins.get(server)
        return admin is not None and user_id(admin.id) == user.id

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        """That user's token on that server, or None if they cannot use it."""
        ref = self.servers.get(server)
        if ref is None:
            return None
        if self._is_admin(user, server):
            return ref.admin
        tok = self._roster.tokens.get((user.id, server))
        if tok is not None and time.monotonic() - tok.fetched_at < self.token_ttl:
            return Credential(tok.value)
        value = await self._refetch(user, ref)
        return Credential(value) if value else None

    async def _refetch(self, user: ClusterUser, server: Server) -> str | None:
        key = (user.id, server.name)
        tokens = self._roster.tokens
        async with self._lock(key):
            tok = tokens.get(key)
            if tok is not None and time.monotonic() - tok.fetched_at < self.token_ttl:
                return tok.value  # someone else fetched it while we waited
            since = time.monotonic() - self._last_fetch.get(key, float("-inf"))
            if since < self.refetch_min_interval:
                return None
            self._last_fetch[key] = time.monotonic()
            value: str | None = None
            member = self._roster.home.get(user.id)
            admin_token = server.config.token
            # Ask where the token came from last time first: each path costs plex.tv calls.
            order = ["managed", "shared"] if user.kind == "managed" else ["shared", "managed"]
            source = order[0]
            try:
                for source in order:
                    if source == "shared":
                        assert server.server_id is not None
                        shares = await self.plextv.shared_servers(admin_token, server.server_id)
                        value = next(
                            (s.access_token for s in shares if user_id(s.user_id) == user.id),
                            None,
                        )
                    elif member is not None:
                        found = await self.loader.home_tokens(admin_token, member, [server])
                        value = found.get(server.name)
                    if value is not None:
                        break
            except MediaServerError as exc:
                log.warning(
                    "token fetch failed", user=user.name, server=server.name, error=str(exc)
                )
                return None
            if value is None:
                tokens.pop(key, None)
                self._roster.access.get(server.name, set()).discard(user.id)
                log.info("user has no access to server", user=user.name, server=server.name)
                return None
            now = time.monotonic()
            tokens[key] = Token(value, source, now)
            self._roster.access.setdefault(server.name, set()).add(user.id)
            self._owners.setdefault(server.name, {})[value] = (user.id, now + self.token_ttl)
            log.info("token fetched", user=user.name, server=server.name, token=redact(value))
            return value

    def invalidate(self, user: ClusterUser, server: str) -> None:
        """Forget that user's token on that server (call on 401): the next credential_for
        fetches a fresh one (at most every refetch_min_interval seconds)."""
        tok = self._roster.tokens.pop((user.id, server), None)
        if tok is not None:
            self._owners.get(server, {}).pop(tok.value, None)
            log.info("token invalidated", user=user.name, server=server, token=redact(tok.value))

    # --- identifying a token ------------------------------------------------------------

    def known_user_for_token(self, server: str, token: str) -> ClusterUser | None:
        """Cache-only lookup: never calls plex.tv."""
        ref = self.servers.get(server)
        if ref is None or not token:
            return None
        if token == ref.config.token:
            return self.owner_of(server)
        entry = self._owners.get(server, {}).get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return self._roster.users.get(entry[0])

    async def user_for_token(
        self,
        server: str,
        token: str | None,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        """Whose token this is on that server; None if nobody in the cluster (or unknown).

        `client_id` (and `item_id`) of the request let an unknown token, e.g. a
        transient one, be recognised from the server's own playback sessions.
        `account_id` (a webhook's `Account.id`; proxied Plex requests never name a user)
        wins: see `_by_account`. Without a token no token lookup is tried.
        """
        if account_id is not None:
            return await self._by_account(server, account_id)
        if not token:
            return None
        found = self.known_user_for_token(server, token)
        if found is not None or server not in self.servers or not token:
            return found
        if client_id:
            found = await self._identify_by_session(server, token, client_id, item_id)
            if found is not None:
                return found
        key = (server, token)
        if self._unknown.get(key, 0.0) > time.monotonic():
            return None
        task = self._identifying.get(key)
        if task is None:
            task = asyncio.ensure_future(self._identify(server, token))
            self._identifying[key] = task
            task.add_done_callback(lambda _t: self._identifying.pop(key, None))
        return await asyncio.shield(task)

    def _account_user(self, server: str, account_id: str) -> ClusterUser | None:
        if account_id == OWNER_ACCOUNT_ID:
            return self.owner_of(server)
        user = self._roster.users.get(user_id(account_id))
        if user is None or not (
            self._is_admin(user, server) or user.id in self._roster.access.get(server, ())
        ):
            return None  # an account that cannot use this server is nobody of ours here
        return user

    async def _by_account(self, server: str, account_id: str) -> ClusterUser | None:
        """A server-local account id: 1 is the server's owner, any other the plex.tv id of
        a user who can use that server. An unknown one reloads the roster (a user shared
        since), at most once per `unknown_refresh_interval`."""
        if server not in self.servers:
            return None
        found = self._account_user(server, account_id)
        if found is None and time.monotonic() - self._last_refresh >= self.unknown_refresh_interval:
            try:
                await self.refresh()
            except MediaServerError as exc:
                log.warning("directory refresh failed", error=str(exc))
            found = self._account_user(server, account_id)
        return found

    def _remember(self, server: str, token: str, user: ClusterUser, how: str) -> None:
        self._owners.setdefault(server, {})[token] = (user.id, time.monotonic() + self.token_ttl)
        self._unknown.pop((server, token), None)
        log.info("token identified", server=server, user=user.name, how=how, token=redact(token))

    async def _identify_by_session(
        self, server: str, token: str, client_id: str, item_id: str | None
    ) -> ClusterUser | None:
        """Match the request's player against the server's sessions (admin token)."""
        ref = self.servers[server]
        key = (server, token)
        now = time.monotonic()
        if now - self._session_tried.get(key, float("-inf")) < 5.0:
            return None
        self._session_tried[key] = now
        try:
            sessions = await ref.api.sessions(ref.admin)
        except MediaServerError as exc:
            log.info("sessions unavailable", server=server, error=str(exc))
            return None
        for session in sessions:
            if session.client_id != client_id:
                continue
            if item_id and session.item_id != str(item_id):
                continue
            user = self._user_of_session(server, session)
            if user is not None:
                self._remember(server, token, user, "session")
                return user
        return None

    def _user_of_session(self, server: str, session: Session) -> ClusterUser | None:
        if session.user_id == OWNER_ACCOUNT_ID:
            return self.owner_of(server)
        found = self._roster.users.get(UserId(session.user_id))
        if found is not None:
            return found
        return self.user_by_name(session.username) if session.username else None

    async def _identify(self, server: str, token: str) -> ClusterUser | None:
        running = self._refreshing is not None and not self._refreshing.done()
        # A reload already under way may be about to learn this token: wait for it rather
        # than judge the token against the old roster and cache it as unknown.
        if running or time.monotonic() - self._last_refresh >= self.unknown_refresh_interval:
            try:
                await self.refresh()
            except MediaServerError as exc:
                log.warning("directory refresh failed", error=str(exc))
            found = self.known_user_for_token(server, token)
            if found is not None:
                return found
        # Owner devices and Home members often present their own plex.tv token.
        try:
            account = await self.plextv.account(token)
        except Unauthorized:
            account = None
        except MediaServerError as exc:
            log.warning("token lookup failed", server=server, error=str(exc))
            account = None
        user = self._roster.users.get(user_id(account.id)) if account is not None else None
        if user is not None and (
            self._is_admin(user, server) or user.id in self._roster.access.get(server, ())
        ):
            self._remember(server, token, user, "plex.tv")
            return user
        self._unknown[(server, token)] = time.monotonic() + self.unknown_token_ttl
        log.info("unknown token", server=server, token=redact(token))
        return None
