"""Who is who in the cluster, and each user's token on each server.

- owner: a server's admin account; its token there is the configured admin token.
- shared: a friend; each server has its own access token for them, listed by plex.tv in
  the admin's `shared_servers` for that server's machineIdentifier.
- managed: a Plex Home member; the admin switches to them on plex.tv (→ authToken), then
  `resources` with that token lists each server's access token for them.

Everything is cached: once a token is known, telling whose it is costs no plex.tv call.
An unknown token triggers at most one directory refresh per `unknown_refresh_interval`
and one plex.tv `account` lookup (then it is remembered either way for a while). Tokens
handed out by `token_for` come only from plex.tv for that server: a token a client sent
(possibly a transient one) is never used anywhere else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from manager.logs import get_logger
from manager.plex.errors import BadRequest, NotFound, PlexError, Unauthorized
from manager.plex.models import HomeUser, PlexAccount
from manager.plex.plextv import PlexTvClient
from manager.plex.server_client import PlexServerClient
from manager.redaction import redact

log = get_logger("manager.users")

UserKind = Literal["owner", "shared", "managed"]


@dataclass(frozen=True, slots=True)
class ClusterUser:
    id: int  # plex.tv account id: the same person on every server
    name: str
    kind: UserKind


@dataclass(frozen=True)
class ServerRef:
    name: str
    machine_identifier: str
    admin_token: str = field(repr=False)
    client: PlexServerClient | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    source: str  # shared | managed
    fetched_at: float  # monotonic


@dataclass
class _Snapshot:
    """One refresh's result; swapped in whole."""

    users: dict[int, ClusterUser] = field(default_factory=dict)
    admins: dict[str, PlexAccount] = field(default_factory=dict)  # server name → admin
    access: dict[str, set[int]] = field(default_factory=dict)  # server name → user ids
    home: dict[int, HomeUser] = field(default_factory=dict)  # user id → Home member


class UserDirectory:
    def __init__(
        self,
        plextv: PlexTvClient,
        servers: Iterable[ServerRef],
        *,
        token_ttl: float = 6 * 3600.0,
        unknown_refresh_interval: float = 60.0,
        unknown_token_ttl: float = 600.0,
        refetch_min_interval: float = 30.0,
        pins: Mapping[str, str] | None = None,
    ) -> None:
        self.plextv = plextv
        self.servers: dict[str, ServerRef] = {s.name: s for s in servers}
        self.token_ttl = token_ttl
        self.unknown_refresh_interval = unknown_refresh_interval
        self.unknown_token_ttl = unknown_token_ttl
        self.refetch_min_interval = refetch_min_interval
        self.pins = dict(pins or {})  # Home user name → PIN, for protected profiles
        self.refreshed_at: float | None = None  # wall clock
        self._snap = _Snapshot()
        self._tokens: dict[tuple[int, str], _Token] = {}
        # server name → {token: (user id, expires at monotonic)}; a token identifies a user
        # only on the server it was seen on.
        self._owners: dict[str, dict[str, tuple[int, float]]] = {n: {} for n in self.servers}
        self._unknown: dict[tuple[str, str], float] = {}
        self._last_refresh = float("-inf")
        self._last_fetch: dict[tuple[int, str], float] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._identifying: dict[tuple[str, str], asyncio.Task[ClusterUser | None]] = {}
        self._session_tried: dict[tuple[str, str], float] = {}
        self._locks: dict[object, asyncio.Lock] = {}

    def update_server(self, ref: ServerRef) -> None:
        """Add a server or replace its details (e.g. its machineIdentifier became known,
        or its admin token changed); its cached tokens are dropped. Call refresh() next."""
        self.servers[ref.name] = ref
        self._owners[ref.name] = {}
        for key in [k for k in self._tokens if k[1] == ref.name]:
            del self._tokens[key]
        self._last_refresh = float("-inf")

    def _lock(self, key: object) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    # --- reading the directory ---------------------------------------------------------

    def all_users(self) -> list[ClusterUser]:
        return sorted(self._snap.users.values(), key=lambda u: (u.kind != "owner", u.name))

    def user(self, user_id: int | str) -> ClusterUser | None:
        try:
            return self._snap.users.get(int(user_id))
        except (TypeError, ValueError):
            return None

    def user_by_name(self, name: str) -> ClusterUser | None:
        wanted = name.casefold()
        return next((u for u in self._snap.users.values() if u.name.casefold() == wanted), None)

    def users(self, server_name: str) -> list[ClusterUser]:
        """Everyone who can use that server (owner first), for the full sync."""
        snap = self._snap
        ids = set(snap.access.get(server_name, ()))
        admin = snap.admins.get(server_name)
        if admin is not None:
            ids.add(admin.id)
        found = [snap.users[i] for i in ids if i in snap.users]
        return sorted(found, key=lambda u: (admin is None or u.id != admin.id, u.name))

    def owner_of(self, server_name: str) -> ClusterUser | None:
        admin = self._snap.admins.get(server_name)
        return self._snap.users.get(admin.id) if admin else None

    # --- refreshing from plex.tv -------------------------------------------------------

    async def refresh(self) -> None:
        """Reload users and tokens from plex.tv; concurrent callers share one reload."""
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._refresh())
        await asyncio.shield(self._refreshing)

    async def _refresh(self) -> None:
        self._last_refresh = time.monotonic()
        old = self._snap
        snap = _Snapshot()
        tokens: dict[tuple[int, str], _Token] = {}
        now = time.monotonic()

        candidates: dict[str, list[ServerRef]] = {}
        for ref in self.servers.values():
            if not ref.machine_identifier:
                # Not reached yet: plex.tv keys everything by machine id. update_server()
                # brings it in once known.
                log.info("server without machineIdentifier skipped", server=ref.name)
                continue
            candidates.setdefault(ref.admin_token, []).append(ref)

        # One bad admin token (or one unreachable account) must not blind the others.
        by_admin: dict[str, list[ServerRef]] = {}
        failure: PlexError | None = None
        for admin_token, refs in candidates.items():
            try:
                account = await self.plextv.account(admin_token)
            except PlexError as exc:
                failure = exc
                log.warning(
                    "admin account lookup failed",
                    servers=[r.name for r in refs],
                    error=str(exc),
                    token=redact(admin_token),
                )
                continue
            by_admin[admin_token] = refs
            snap.users[account.id] = ClusterUser(account.id, account.name, "owner")
            for ref in refs:
                snap.admins[ref.name] = account
                snap.access.setdefault(ref.name, set())
        if failure is not None and not by_admin:
            raise failure

        shared_names: dict[int, str] = {}
        for ref in (r for refs in by_admin.values() for r in refs):
            try:
                shares = await self.plextv.shared_servers(ref.admin_token, ref.machine_identifier)
            except PlexError as exc:
                log.warning(
                    "shared_servers failed; keeping previous", server=ref.name, error=str(exc)
                )
                self._keep_previous(old, snap, tokens, ref.name, "shared")
                continue
            for share in shares:
                shared_names[share.user_id] = share.username or share.email
                snap.access[ref.name].add(share.user_id)
                tokens[(share.user_id, ref.name)] = _Token(share.access_token, "shared", now)

        home_ids: set[int] = set()
        for admin_token, refs in by_admin.items():
            home_ids |= await self._refresh_home(admin_token, refs, snap, tokens, old)

        for user_id, name in shared_names.items():
            if user_id not in snap.users:
                snap.users[user_id] = ClusterUser(user_id, name, "shared")
        for user_id in home_ids:
            member = snap.home[user_id]
            if user_id in snap.users and snap.users[user_id].kind == "owner":
                continue
            shared = user_id in shared_names and not member.restricted
            kind: UserKind = "shared" if shared else "managed"
            snap.users[user_id] = ClusterUser(user_id, member.name, kind)

        # Swap in: token identification keeps tokens learned from plex.tv account lookups.
        owners: dict[str, dict[str, tuple[int, float]]] = {n: {} for n in self.servers}
        for name, known in self._owners.items():
            for token, (user_id, expires) in known.items():
                if expires > now and user_id in snap.users:
                    owners.setdefault(name, {})[token] = (user_id, expires)
        for (user_id, server), tok in tokens.items():
            owners.setdefault(server, {})[tok.value] = (user_id, now + self.token_ttl)
        self._snap = snap
        self._tokens = tokens
        self._owners = owners
        self._unknown.clear()
        self._session_tried.clear()
        self.refreshed_at = time.time()
        log.info(
            "user directory refreshed",
            users=len(snap.users),
            servers={n: len(self.users(n)) for n in self.servers},
        )

    def _keep_previous(
        self,
        old: _Snapshot,
        snap: _Snapshot,
        tokens: dict[tuple[int, str], _Token],
        server: str,
        source: str,
    ) -> None:
        for (user_id, name), tok in self._tokens.items():
            if name == server and tok.source == source:
                tokens[(user_id, name)] = tok
                snap.access.setdefault(name, set()).add(user_id)
                if user_id in old.users and user_id not in snap.users:
                    snap.users[user_id] = old.users[user_id]

    async def _refresh_home(
        self,
        admin_token: str,
        refs: list[ServerRef],
        snap: _Snapshot,
        tokens: dict[tuple[int, str], _Token],
        old: _Snapshot,
    ) -> set[int]:
        try:
            members = await self.plextv.home_users(admin_token)
        except (NotFound, BadRequest) as exc:
            # Not a Home admin: plex.tv has no Home for this account.
            log.info("no Plex Home for admin", error=str(exc))
            return set()
        except PlexError as exc:
            log.warning("home users failed; keeping previous", error=str(exc))
            for ref in refs:
                self._keep_previous(old, snap, tokens, ref.name, "managed")
            snap.home.update(old.home)
            return set(old.home)
        ids: set[int] = set()
        for member in members:
            if member.admin or member.guest or not member.id:
                continue
            ids.add(member.id)
            snap.home[member.id] = member
            missing = [r for r in refs if (member.id, r.name) not in tokens]
            if not missing:
                continue  # shared_servers already gave a token for every server
            try:
                found = await self._home_tokens(admin_token, member, missing)
            except PlexError as exc:
                log.warning("home user switch failed", user=member.name, error=str(exc))
                for ref in missing:
                    old_tok = self._tokens.get((member.id, ref.name))
                    if old_tok is not None:
                        tokens[(member.id, ref.name)] = old_tok
                        snap.access.setdefault(ref.name, set()).add(member.id)
                continue
            now = time.monotonic()
            for server, value in found.items():
                tokens[(member.id, server)] = _Token(value, "managed", now)
                snap.access.setdefault(server, set()).add(member.id)
        return ids

    async def _home_tokens(
        self, admin_token: str, member: HomeUser, refs: list[ServerRef]
    ) -> dict[str, str]:
        """Switch to a Home member, then read their access token for each server."""
        pin = self.pins.get(member.name)
        if member.protected and not pin:
            log.warning("home user needs a PIN; add it to the config", user=member.name)
        user_token: str | None = None
        attempts = [member.uuid, str(member.id)] if member.uuid else [str(member.id)]
        last: PlexError | None = None
        for ident in attempts:
            try:
                user_token = await self.plextv.switch_home_user(admin_token, ident, pin)
                break
            except (NotFound, BadRequest) as exc:
                last = exc
        if user_token is None:
            raise last or PlexError(f"cannot switch to {member.name}")
        by_machine = {r.machine_identifier: r.name for r in refs}
        out: dict[str, str] = {}
        for resource in await self.plextv.resources(user_token):
            server = by_machine.get(resource.client_identifier)
            if server and resource.access_token:
                out[server] = resource.access_token
        return out

    # --- tokens ------------------------------------------------------------------------

    def _is_admin(self, user: ClusterUser, server_name: str) -> bool:
        admin = self._snap.admins.get(server_name)
        return admin is not None and admin.id == user.id

    async def token_for(self, user: ClusterUser, server_name: str) -> str | None:
        """That user's token on that server, or None if they cannot use it."""
        ref = self.servers.get(server_name)
        if ref is None:
            return None
        if self._is_admin(user, server_name):
            return ref.admin_token
        key = (user.id, server_name)
        tok = self._tokens.get(key)
        if tok is not None and time.monotonic() - tok.fetched_at < self.token_ttl:
            return tok.value
        return await self._refetch(user, ref)

    async def _refetch(self, user: ClusterUser, ref: ServerRef) -> str | None:
        key = (user.id, ref.name)
        async with self._lock(key):
            tok = self._tokens.get(key)
            if tok is not None and time.monotonic() - tok.fetched_at < self.token_ttl:
                return tok.value  # someone else fetched it while we waited
            since = time.monotonic() - self._last_fetch.get(key, float("-inf"))
            if since < self.refetch_min_interval:
                return None
            self._last_fetch[key] = time.monotonic()
            value: str | None = None
            member = self._snap.home.get(user.id)
            # Ask where the token came from last time first: each path costs plex.tv calls.
            order = ["managed", "shared"] if user.kind == "managed" else ["shared", "managed"]
            source = order[0]
            try:
                for source in order:
                    if source == "shared":
                        shares = await self.plextv.shared_servers(
                            ref.admin_token, ref.machine_identifier
                        )
                        value = next((s.access_token for s in shares if s.user_id == user.id), None)
                    elif member is not None:
                        found = await self._home_tokens(ref.admin_token, member, [ref])
                        value = found.get(ref.name)
                    if value is not None:
                        break
            except PlexError as exc:
                log.warning("token fetch failed", user=user.name, server=ref.name, error=str(exc))
                return None
            if value is None:
                self._tokens.pop(key, None)
                self._snap.access.get(ref.name, set()).discard(user.id)
                log.info("user has no access to server", user=user.name, server=ref.name)
                return None
            now = time.monotonic()
            self._tokens[key] = _Token(value, source, now)
            self._snap.access.setdefault(ref.name, set()).add(user.id)
            self._owners.setdefault(ref.name, {})[value] = (user.id, now + self.token_ttl)
            log.info("token fetched", user=user.name, server=ref.name, token=redact(value))
            return value

    def invalidate(self, user: ClusterUser, server_name: str) -> None:
        """Forget that user's token on that server (call on 401): the next token_for
        fetches a fresh one (at most every refetch_min_interval seconds)."""
        tok = self._tokens.pop((user.id, server_name), None)
        if tok is not None:
            self._owners.get(server_name, {}).pop(tok.value, None)
            log.info(
                "token invalidated", user=user.name, server=server_name, token=redact(tok.value)
            )

    # --- identifying a token ------------------------------------------------------------

    def known_user_for_token(self, server_name: str, token: str) -> ClusterUser | None:
        """Cache-only lookup: never calls plex.tv."""
        ref = self.servers.get(server_name)
        if ref is None or not token:
            return None
        if token == ref.admin_token:
            return self.owner_of(server_name)
        entry = self._owners.get(server_name, {}).get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return self._snap.users.get(entry[0])

    async def user_for_token(
        self,
        server_name: str,
        token: str,
        *,
        client_id: str | None = None,
        rating_key: str | None = None,
    ) -> ClusterUser | None:
        """Whose token this is on that server; None if nobody in the cluster (or unknown).

        `client_id` (and `rating_key`) of the request let an unknown token, e.g. a
        transient one, be recognised from the server's own playback sessions.
        """
        found = self.known_user_for_token(server_name, token)
        if found is not None or server_name not in self.servers or not token:
            return found
        if client_id:
            found = await self._identify_by_session(server_name, token, client_id, rating_key)
            if found is not None:
                return found
        key = (server_name, token)
        if self._unknown.get(key, 0.0) > time.monotonic():
            return None
        task = self._identifying.get(key)
        if task is None:
            task = asyncio.ensure_future(self._identify(server_name, token))
            self._identifying[key] = task
            task.add_done_callback(lambda _t: self._identifying.pop(key, None))
        return await asyncio.shield(task)

    def _remember(self, server_name: str, token: str, user: ClusterUser, how: str) -> None:
        self._owners.setdefault(server_name, {})[token] = (
            user.id,
            time.monotonic() + self.token_ttl,
        )
        self._unknown.pop((server_name, token), None)
        log.info(
            "token identified", server=server_name, user=user.name, how=how, token=redact(token)
        )

    async def _identify_by_session(
        self, server_name: str, token: str, client_id: str, rating_key: str | None
    ) -> ClusterUser | None:
        """Match the request's player against the server's sessions (admin token)."""
        ref = self.servers[server_name]
        key = (server_name, token)
        now = time.monotonic()
        if ref.client is None or now - self._session_tried.get(key, float("-inf")) < 5.0:
            return None
        self._session_tried[key] = now
        try:
            sessions = await ref.client.sessions(ref.admin_token)
        except PlexError as exc:
            log.info("sessions unavailable", server=server_name, error=str(exc))
            return None
        for session in sessions:
            if session.client_id != client_id:
                continue
            if rating_key and session.rating_key != str(rating_key):
                continue
            user = self._user_of_session(server_name, session.user_id, session.username)
            if user is not None:
                self._remember(server_name, token, user, "session")
                return user
        return None

    def _user_of_session(self, server_name: str, user_id: str, username: str) -> ClusterUser | None:
        # A server calls its owner account 1; everyone else by their plex.tv id.
        if user_id == "1":
            return self.owner_of(server_name)
        if user_id.isdigit() and int(user_id) in self._snap.users:
            return self._snap.users[int(user_id)]
        return self.user_by_name(username) if username else None

    async def _identify(self, server_name: str, token: str) -> ClusterUser | None:
        running = self._refreshing is not None and not self._refreshing.done()
        # A reload already under way may be about to learn this token: wait for it rather
        # than judge the token against the old snapshot and cache it as unknown.
        if running or time.monotonic() - self._last_refresh >= self.unknown_refresh_interval:
            try:
                await self.refresh()
            except PlexError as exc:
                log.warning("directory refresh failed", error=str(exc))
            found = self.known_user_for_token(server_name, token)
            if found is not None:
                return found
        # Owner devices and Home members often present their own plex.tv token.
        try:
            account = await self.plextv.account(token)
        except Unauthorized:
            account = None
        except PlexError as exc:
            log.warning("token lookup failed", server=server_name, error=str(exc))
            account = None
        user = self._snap.users.get(account.id) if account is not None else None
        if user is not None and (
            self._is_admin(user, server_name) or user.id in self._snap.access.get(server_name, ())
        ):
            self._remember(server_name, token, user, "plex.tv")
            return user
        self._unknown[(server_name, token)] = time.monotonic() + self.unknown_token_ttl
        log.info("unknown token", server=server_name, token=redact(token))
        return None
