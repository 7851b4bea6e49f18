"""One user directory over several kinds of server: the same person on Plex, Jellyfin and
Emby.

Each kind knows its own users (plex.tv knows every Plex server's; each Jellyfin or Emby
server its own); this directory joins them into people, by a rule that never guesses:

1. the config's `users:` map names a person's user name on a server or kind: those users
   are that person;
2. otherwise a user joins the person of another kind whose user name (Plex: username or
   title) is the same, case-insensitively, when exactly one person has that name and
   nobody of the same kind is already that person;
3. everyone else stays a person of their own kind, listed by `unmatched()` with the reason.

Two users of the same kind are never joined (each kind's directory already says who is who
there). A person keeps the id the first kind (Plex when there is one) gives them, so a
Plex-only cluster's ledger keeps its ids when a Jellyfin server joins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from manager.config import UserMapping
from manager.logs import get_logger
from manager.model import ClusterUser, UserId
from manager.servers.interface import UserDirectory
from manager.servers.models import Credential, Session
from manager.servers.server import Server

log = get_logger("plex_cluster.users")


@dataclass(frozen=True, slots=True)
class Part:
    """One kind's directory and the servers it answers for."""

    directory: UserDirectory
    servers: dict[str, str]  # server name -> kind

    @property
    def label(self) -> str:
        return "/".join(sorted(set(self.servers.values())))


@dataclass(frozen=True, slots=True)
class Unmatched:
    name: str
    kinds: str  # the kind(s) where this user is known
    reason: str


@dataclass(slots=True)
class _Person:
    user: ClusterUser
    members: dict[int, ClusterUser] = field(default_factory=dict)  # part -> that kind's user
    mapped: bool = False


class CrossKindDirectory:
    def __init__(self, parts: Sequence[Part], user_map: Sequence[UserMapping] = ()) -> None:
        self.parts = list(parts)
        self.user_map = list(user_map)
        self._part_of = {name: n for n, part in enumerate(self.parts) for name in part.servers}
        self._people: dict[UserId, _Person] = {}
        self._by_member: dict[tuple[int, UserId], _Person] = {}
        self._unmatched: list[Unmatched] = []

    @property
    def refreshed_at(self) -> float | None:
        stamps = [p.directory.refreshed_at for p in self.parts]
        return None if any(s is None for s in stamps) else min(s for s in stamps if s)

    async def refresh(self) -> None:
        """Refresh every kind's directory; one that fails keeps its old users, the others
        still refresh, and the first failure is raised once the people are joined again."""
        results = await asyncio.gather(
            *(p.directory.refresh() for p in self.parts), return_exceptions=True
        )
        self._join()
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def update_server(self, server: Server) -> None:
        self.parts[self._part_of[server.name]].directory.update_server(server)

    def all_users(self) -> list[ClusterUser]:
        return [p.user for p in self._people.values()]

    def user(self, user_id: UserId) -> ClusterUser | None:
        person = self._people.get(user_id)
        return person.user if person else None

    def users(self, server: str) -> list[ClusterUser]:
        n = self._part_of.get(server)
        if n is None:
            return []
        found = (self._by_member.get((n, u.id)) for u in self.parts[n].directory.users(server))
        return [p.user for p in found if p is not None]

    def owner_of(self, server: str) -> ClusterUser | None:
        n = self._part_of.get(server)
        if n is None:
            return None
        owner = self.parts[n].directory.owner_of(server)
        person = None if owner is None else self._by_member.get((n, owner.id))
        return person.user if person else None

    async def user_for_token(
        self,
        server: str,
        token: str | None,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        n = self._part_of.get(server)
        if n is None:
            return None
        member = await self.parts[n].directory.user_for_token(
            server, token, client_id=client_id, item_id=item_id, account_id=account_id
        )
        if member is None:
            return None
        person = self._by_member.get((n, member.id))
        if person is None:  # a user that kind learned of since the last join
            self._join()
            person = self._by_member.get((n, member.id))
        return person.user if person else None

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        found = self._member(user, server)
        if found is None:
            return None
        n, member = found
        return await self.parts[n].directory.credential_for(member, server)

    def invalidate(self, user: ClusterUser, server: str) -> None:
        found = self._member(user, server)
        if found is not None:
            self.parts[found[0]].directory.invalidate(found[1], server)

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        found = self._member(user, server)
        return found is not None and self.parts[found[0]].directory.plays(server, session, found[1])

    def unmatched(self) -> list[Unmatched]:
        """Users with no counterpart on the other kinds, and why (status, start-up line)."""
        return list(self._unmatched)

    def name_on(self, user: ClusterUser, server: str) -> str | None:
        found = self._member(user, server)
        return None if found is None else self.parts[found[0]].directory.name_on(found[1], server)

    def _member(self, user: ClusterUser, server: str) -> tuple[int, ClusterUser] | None:
        n = self._part_of.get(server)
        person = self._people.get(user.id)
        if n is None or person is None or n not in person.members:
            return None
        return n, person.members[n]

    def _join(self) -> None:
        people: list[_Person] = []
        by_member: dict[tuple[int, UserId], _Person] = {}
        unmatched: list[Unmatched] = []
        flagged: set[int] = set()  # people already listed as unmatched
        mapped: dict[str, _Person] = {}

        def add(n: int, person: _Person, member: ClusterUser) -> None:
            person.members[n] = member
            by_member[(n, member.id)] = person

        for n, part in enumerate(self.parts):
            by_name: dict[str, list[_Person]] = {}
            for person in people:
                if n in person.members:
                    continue
                for name in _names(person):
                    by_name.setdefault(name, []).append(person)
            for member in part.directory.all_users():
                mapping = self._mapping_of(part, member)
                if mapping is not None:
                    person = mapped.get(mapping.name)
                    if person is None or n in person.members:
                        person = _Person(_renamed(member, mapping.name), mapped=True)
                        mapped.setdefault(mapping.name, person)
                        people.append(person)
                    add(n, person, member)
                    continue
                candidates = {
                    id(p): p
                    for name in _member_names(member)
                    for p in by_name.get(name, ())
                    if n not in p.members and not p.mapped
                }
                if len(candidates) == 1:
                    add(n, next(iter(candidates.values())), member)
                    continue
                person = _Person(member)
                people.append(person)
                add(n, person, member)
                if len(candidates) > 1:
                    flagged.add(id(person))
                    unmatched.append(
                        Unmatched(member.name, part.label, "several people have that name")
                    )
        if len(self.parts) > 1:
            for person in people:
                if len(person.members) == 1 and id(person) not in flagged:
                    (n,) = person.members
                    unmatched.append(
                        Unmatched(
                            person.user.name,
                            self.parts[n].label,
                            "no user of that name on the other kinds (add it to users: if "
                            "the name differs)",
                        )
                    )
        if [(u.name, u.kinds) for u in unmatched] != [(u.name, u.kinds) for u in self._unmatched]:
            for u in unmatched:
                log.info(
                    "user not matched across kinds", user=u.name, kinds=u.kinds, reason=u.reason
                )
        self._people = {p.user.id: p for p in people}
        self._by_member = by_member
        self._unmatched = unmatched

    def _mapping_of(self, part: Part, member: ClusterUser) -> UserMapping | None:
        names = set(_member_names(member))
        for mapping in self.user_map:
            for server, kind in part.servers.items():
                given = mapping.name_on(server, kind)
                if given is not None and given.casefold() in names:
                    return mapping
        return None


def _member_names(user: ClusterUser) -> list[str]:
    return [n.casefold() for n in (user.name, *user.aliases) if n]


def _names(person: _Person) -> set[str]:
    return {n for member in person.members.values() for n in _member_names(member)}


def _renamed(user: ClusterUser, name: str) -> ClusterUser:
    return ClusterUser(user.id, name, user.kind, user.aliases)
