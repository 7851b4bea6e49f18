"""Jellyfin's and Emby's `UserDirectory`: the people of a cluster's Jellyfin/Emby servers.

Users come from each server's `GET /Users` (admin key) and are matched across servers in
people.py. No per-user secrets: the admin key acts for anyone, naming their user id, so a
credential is that key plus the user's id there.

Whose credential a client sent: the user id the request named (`account_id`) wins;
the admin key alone is nobody; else Jellyfin tells a token's owner (`GET /Users/Me`) and
Emby, which has no such route, by the admin's view of the sessions (the client's DeviceId).
Answers are cached, unknown tokens too for a while, so one event costs at most one lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence

from manager.config import UserMapping
from manager.model import ClusterUser, UserId
from manager.redaction import redact
from manager.servers.errors import MediaServerError, Unreachable
from manager.servers.jellyfin.accounts import People, log, match
from manager.servers.jellyfin.client import JellyfinClient
from manager.servers.jellyfin.parse import Account, canonical_id
from manager.servers.jellyfin.server import JellyfinMediaServer
from manager.servers.models import Credential, Session
from manager.servers.server import Server

SESSION_RETRY = 5.0  # seconds between two session lookups for the same unknown token
UNREAD_RETRY_S = 5.0  # seconds between two reads of a server whose users were never read


class JellyfinUserDirectory:
    def __init__(
        self,
        servers: Iterable[Server],
        user_map: Sequence[UserMapping] = (),
        *,
        token_ttl: float = 6 * 3600.0,
        unknown_token_ttl: float = 600.0,
        unknown_refresh_interval: float = 60.0,
    ) -> None:
        self.servers: dict[str, Server] = {}
        self.user_map = tuple(user_map)
        self.token_ttl = token_ttl
        self.unknown_token_ttl = unknown_token_ttl
        self.unknown_refresh_interval = unknown_refresh_interval
        self.refreshed_at: float | None = None  # wall clock
        self._people = People()
        self._accounts: dict[str, list[Account]] = {}  # the last good user list of each
        # (server, token) → (person, expires at monotonic); unknown tokens → until when
        self._tokens: dict[tuple[str, str], tuple[UserId, float]] = {}
        self._unknown: dict[tuple[str, str], float] = {}
        self._session_tried: dict[tuple[str, str], float] = {}
        self._last_refresh = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None
        self._identifying: dict[tuple[str, str], asyncio.Task[ClusterUser | None]] = {}
        for server in servers:
            self.update_server(server)

    def update_server(self, server: Server) -> None:
        """Add a server or replace its details; what was cached for it is dropped."""
        if not isinstance(server.api, JellyfinMediaServer):
            raise TypeError(f"{server.name} is not a Jellyfin or Emby server")
        self.servers[server.name] = server
        for key in [k for k in (*self._tokens, *self._unknown) if k[0] == server.name]:
            self._tokens.pop(key, None)
            self._unknown.pop(key, None)
        self._last_refresh = float("-inf")

    def _client(self, server: Server) -> JellyfinClient:
        api = server.api
        assert isinstance(api, JellyfinMediaServer)  # update_server checked
        return api.client

    # --- reading the directory ---------------------------------------------------------

    def all_users(self) -> list[ClusterUser]:
        return sorted(self._people.users.values(), key=lambda u: (u.kind != "owner", u.name))

    def user(self, user_id: UserId) -> ClusterUser | None:
        return self._people.users.get(user_id)

    def users(self, server: str) -> list[ClusterUser]:
        """Everyone with an account on that server, its owner first."""
        owner = self._people.owners.get(server)
        found = [self._people.users[u] for u in self._people.accounts.get(server, {})]
        return sorted(found, key=lambda u: (u.id != owner, u.name))

    def owner_of(self, server: str) -> ClusterUser | None:
        """Nobody: the admin API key reads as no user, so no user's state comes with the
        library read (the full sync reads every administrator's listing like anyone's)."""
        return None

    def name_on(self, user: ClusterUser, server: str) -> str | None:
        """The name of that person's account on that server (the config may map it)."""
        account = self._people.accounts.get(server, {}).get(user.id)
        return account.name if account else None

    def account_id(self, user: ClusterUser, server: str) -> str | None:
        """That person's user id on that server, if they have an account there."""
        account = self._people.accounts.get(server, {}).get(user.id)
        return account.id if account else None

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        mine = self.account_id(user, server)
        return mine is not None and canonical_id(session.user_id) == mine

    # --- refreshing --------------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload every server's users; concurrent callers share one reload."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        servers = list(self.servers.values())

        async def read(server: Server) -> None:
            try:
                self._accounts[server.name] = await self._client(server).users(server.config.token)
            except MediaServerError as exc:
                # Keep what the last good read knew: one server down leaves its users be.
                log.warning("users not read", server=server.name, error=str(exc))

        await asyncio.gather(*(read(s) for s in servers))
        order = [(s.name, s.config.kind) for s in servers]
        self._people = match(order, self._accounts, self.user_map)
        known = self._people.users
        self._tokens = {k: v for k, v in self._tokens.items() if v[0] in known}
        self._unknown.clear()
        self._session_tried.clear()
        self.refreshed_at = time.time()
        log.info(
            "user directory refreshed",
            users=len(known),
            servers={s.name: len(self.users(s.name)) for s in servers},
        )

    # --- credentials -------------------------------------------------------------------

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        """The admin key, acting for that user's id there; None without an account;
        Unreachable while that server's users were never read."""
        ref = self.servers.get(server)
        if ref is not None and server not in self._accounts:
            # Its users were never read (it was down since the start): read them now, at
            # most every few seconds; until then it is a server not answering yet, not
            # "no account", which would drop the write.
            if time.monotonic() - self._last_refresh >= UNREAD_RETRY_S:
                await self.refresh()
            if server not in self._accounts:
                raise Unreachable(f"{server}: its users have not been read yet", target=server)
        account = self.account_id(user, server)
        if ref is None or account is None:
            return None
        return Credential(ref.config.token, user=account)

    def invalidate(self, user: ClusterUser, server: str) -> None:
        """The server refused the admin key for that user: there is no other credential to
        fetch, but the user may have been removed there, so the next lookup reloads."""
        self._last_refresh = float("-inf")
        log.info("credential refused", user=user.name, server=server)

    # --- identifying a request's user --------------------------------------------------

    async def user_for_token(
        self,
        server: str,
        token: str | None,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        ref = self.servers.get(server)
        if ref is None:
            return None
        if account_id:
            # The server answered 2xx to a request for that user: it allowed the caller.
            return await self._by_account(server, canonical_id(account_id))
        if not token or token == ref.config.token:
            return None  # the admin key acts for no user unless a request names one
        key = (server, token)
        known = self._tokens.get(key)
        if known is not None and known[1] > time.monotonic():
            return self._people.users.get(known[0])
        if client_id:
            found = await self._by_session(ref, token, client_id, item_id)
            if found is not None:
                return found
        if self._unknown.get(key, 0.0) > time.monotonic():
            return None
        if not self._client(ref).dialect.has_users_me:
            self._forget(key)
            return None  # Emby cannot tell a token's owner but by its sessions
        task = self._identifying.get(key)
        if task is None:
            task = asyncio.ensure_future(self._by_users_me(ref, token))
            self._identifying[key] = task
            task.add_done_callback(lambda _t: self._identifying.pop(key, None))
        return await asyncio.shield(task)

    async def _by_account(self, server: str, account: str) -> ClusterUser | None:
        uid = self._people.by_account.get(server, {}).get(account)
        due = time.monotonic() - self._last_refresh >= self.unknown_refresh_interval
        if uid is None and due:
            # A user added since the last reload: one reload, at most once a minute.
            try:
                await self.refresh()
            except MediaServerError as exc:
                log.warning("directory refresh failed", error=str(exc))
            uid = self._people.by_account.get(server, {}).get(account)
        return self._people.users.get(uid) if uid else None

    async def _by_session(
        self, ref: Server, token: str, client_id: str, item_id: str | None
    ) -> ClusterUser | None:
        """The user of the client's session, from the admin's view of the sessions: one
        user on that device (on that item, when given), else nobody."""
        key = (ref.name, token)
        now = time.monotonic()
        if now - self._session_tried.get(key, float("-inf")) < SESSION_RETRY:
            return None
        self._session_tried[key] = now
        try:
            devices = await self._client(ref).devices(ref.config.token)
        except MediaServerError as exc:
            log.info("sessions unavailable", server=ref.name, error=str(exc))
            return None
        mine = [d for d in devices if d.device_id == client_id]
        if item_id:
            on_item = [d for d in mine if d.item_id == canonical_id(item_id)]
            mine = on_item or mine
        users = {d.user_id for d in mine}
        if len(users) != 1:
            return None
        uid = self._people.by_account.get(ref.name, {}).get(users.pop())
        return self._remember(key, uid, "session") if uid else None

    async def _by_users_me(self, ref: Server, token: str) -> ClusterUser | None:
        key = (ref.name, token)
        try:
            account = await self._client(ref).me(token)
        except MediaServerError as exc:
            # Not an answer about the token (the server is down): ask again next time.
            log.warning("token lookup failed", server=ref.name, error=str(exc))
            return None
        found = await self._by_account(ref.name, account.id) if account else None
        uid = found.id if found else None
        if uid is None:
            self._forget(key)
            return None
        return self._remember(key, uid, "users/me")

    def _remember(self, key: tuple[str, str], uid: UserId, how: str) -> ClusterUser | None:
        self._tokens[key] = (uid, time.monotonic() + self.token_ttl)
        self._unknown.pop(key, None)
        user = self._people.users.get(uid)
        log.info(
            "token identified",
            server=key[0],
            user=user.name if user else uid,
            how=how,
            token=redact(key[1]),
        )
        return user

    def _forget(self, key: tuple[str, str]) -> None:
        self._unknown[key] = time.monotonic() + self.unknown_token_ttl
        log.info("unknown token", server=key[0], token=redact(key[1]))
