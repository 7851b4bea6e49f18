"""Everyone who can use an owner's Plex servers, and their token on each, read from plex.tv.

- owner: a server's admin account; its token there is the configured admin token.
- shared: a friend; each server has its own access token for them, listed by plex.tv in
  the admin's `shared_servers` for that server's machineIdentifier.
- managed: a Plex Home member; the admin switches to them on plex.tv (→ authToken), then
  `resources` with that token lists each server's access token for them.

A user's cluster id is their plex.tv account id, as text. One failing call (an admin token
plex.tv refuses, a Home that cannot be read) keeps what the previous roster knew for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from manager.logs import get_logger
from manager.model import ClusterUser, UserId, UserKind
from manager.redaction import redact
from manager.servers.errors import BadRequest, MediaServerError, NotFound
from manager.servers.plex.models import HomeUser, PlexAccount
from manager.servers.plex.plextv import PlexTvClient
from manager.servers.server import Server

log = get_logger("manager.servers.plex.users")


def user_id(plex_id: int | str) -> UserId:
    """A plex.tv account id as the cluster's user id."""
    return UserId(str(plex_id))


@dataclass(slots=True)
class Token:
    value: str = field(repr=False)
    source: str  # shared | managed
    fetched_at: float  # monotonic


@dataclass
class Roster:
    """One refresh's result; swapped in whole."""

    users: dict[UserId, ClusterUser] = field(default_factory=dict)
    admins: dict[str, PlexAccount] = field(default_factory=dict)  # server name → admin
    access: dict[str, set[UserId]] = field(default_factory=dict)  # server name → user ids
    home: dict[UserId, HomeUser] = field(default_factory=dict)  # user id → Home member
    tokens: dict[tuple[UserId, str], Token] = field(default_factory=dict)

    def keep(self, old: Roster, server: str, source: str) -> None:
        """Carry over `old`'s tokens of one source for one server (its plex.tv call failed)."""
        for (uid, name), tok in old.tokens.items():
            if name == server and tok.source == source:
                self.tokens[(uid, name)] = tok
                self.access.setdefault(name, set()).add(uid)
                if uid in old.users and uid not in self.users:
                    self.users[uid] = old.users[uid]


class RosterLoader:
    def __init__(self, plextv: PlexTvClient, pins: Mapping[str, str] | None = None) -> None:
        self.plextv = plextv
        self.pins = dict(pins or {})  # Home user name → PIN, for protected profiles

    async def load(self, servers: Iterable[Server], old: Roster) -> Roster:
        roster = Roster()
        now = time.monotonic()

        candidates: dict[str, list[Server]] = {}
        for server in servers:
            if not server.server_id:
                # Not reached yet: plex.tv keys everything by machine id. update_server()
                # brings it in once known.
                log.info("server without machineIdentifier skipped", server=server.name)
                continue
            candidates.setdefault(server.config.token, []).append(server)

        # One bad admin token (or one unreachable account) must not blind the others.
        by_admin: dict[str, list[Server]] = {}
        failure: MediaServerError | None = None
        for admin_token, group in candidates.items():
            try:
                account = await self.plextv.account(admin_token)
            except MediaServerError as exc:
                failure = exc
                log.warning(
                    "admin account lookup failed",
                    servers=[s.name for s in group],
                    error=str(exc),
                    token=redact(admin_token),
                )
                continue
            by_admin[admin_token] = group
            roster.users[user_id(account.id)] = ClusterUser(
                user_id(account.id), account.name, "owner", _other_names(account)
            )
            for server in group:
                roster.admins[server.name] = account
                roster.access.setdefault(server.name, set())
        if failure is not None and not by_admin:
            raise failure

        shared_names: dict[UserId, str] = {}
        for server in (s for group in by_admin.values() for s in group):
            assert server.server_id is not None
            try:
                shares = await self.plextv.shared_servers(server.config.token, server.server_id)
            except MediaServerError as exc:
                log.warning(
                    "shared_servers failed; keeping previous", server=server.name, error=str(exc)
                )
                roster.keep(old, server.name, "shared")
                continue
            for share in shares:
                uid = user_id(share.user_id)
                shared_names[uid] = share.username or share.email
                roster.access[server.name].add(uid)
                roster.tokens[(uid, server.name)] = Token(share.access_token, "shared", now)

        home_ids: set[UserId] = set()
        for admin_token, group in by_admin.items():
            home_ids |= await self._load_home(admin_token, group, roster, old)

        for uid, name in shared_names.items():
            if uid not in roster.users:
                roster.users[uid] = ClusterUser(uid, name, "shared")
        for uid in home_ids:
            member = roster.home[uid]
            if uid in roster.users and roster.users[uid].kind == "owner":
                continue
            shared = uid in shared_names and not member.restricted
            kind: UserKind = "shared" if shared else "managed"
            roster.users[uid] = ClusterUser(uid, member.name, kind, _other_names(member))
        return roster

    async def _load_home(
        self, admin_token: str, servers: list[Server], roster: Roster, old: Roster
    ) -> set[UserId]:
        try:
            members = await self.plextv.home_users(admin_token)
        except (NotFound, BadRequest) as exc:
            # Not a Home admin: plex.tv has no Home for this account.
            log.info("no Plex Home for admin", error=str(exc))
            return set()
        except MediaServerError as exc:
            log.warning("home users failed; keeping previous", error=str(exc))
            for server in servers:
                roster.keep(old, server.name, "managed")
            roster.home.update(old.home)
            return set(old.home)
        ids: set[UserId] = set()
        for member in members:
            if member.admin or member.guest or not member.id:
                continue
            uid = user_id(member.id)
            ids.add(uid)
            roster.home[uid] = member
            missing = [s for s in servers if (uid, s.name) not in roster.tokens]
            if not missing:
                continue  # shared_servers already gave a token for every server
            try:
                found = await self.home_tokens(admin_token, member, missing)
            except MediaServerError as exc:
                log.warning("home user switch failed", user=member.name, error=str(exc))
                for server in missing:
                    old_tok = old.tokens.get((uid, server.name))
                    if old_tok is not None:
                        roster.tokens[(uid, server.name)] = old_tok
                        roster.access.setdefault(server.name, set()).add(uid)
                continue
            now = time.monotonic()
            for name, value in found.items():
                roster.tokens[(uid, name)] = Token(value, "managed", now)
                roster.access.setdefault(name, set()).add(uid)
        return ids

    async def home_tokens(
        self, admin_token: str, member: HomeUser, servers: list[Server]
    ) -> dict[str, str]:
        """Switch to a Home member, then read their access token for each server."""
        pin = self.pins.get(member.name)
        if member.protected and not pin:
            log.warning("home user needs a PIN; add it to the config", user=member.name)
        user_token: str | None = None
        attempts = [member.uuid, str(member.id)] if member.uuid else [str(member.id)]
        last: MediaServerError | None = None
        for ident in attempts:
            try:
                user_token = await self.plextv.switch_home_user(admin_token, ident, pin)
                break
            except (NotFound, BadRequest) as exc:
                last = exc
        if user_token is None:
            raise last or MediaServerError(f"cannot switch to {member.name}")
        by_machine = {s.server_id: s.name for s in servers}
        out: dict[str, str] = {}
        for resource in await self.plextv.resources(user_token):
            name = by_machine.get(resource.client_identifier)
            if name and resource.access_token:
                out[name] = resource.access_token
        return out


def _other_names(account: PlexAccount | HomeUser) -> tuple[str, ...]:
    """The title beside the username: a Jellyfin or Emby user may go by either."""
    return (account.title,) if account.title and account.title != account.name else ()
