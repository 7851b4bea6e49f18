"""Which accounts of a cluster's Jellyfin and Emby servers are one person, from each
server's user list (the step before `servers/people.py`, which joins them with the users
of other kinds).

A person is matched across servers by the config's `users:` map first (their user name on
each server or kind), else by user name, case-insensitively. Their cluster id is "name:"
and the lower-cased person's name (the mapping's name, or the user name), so the same
person keeps the same id whatever server was read first; their display name is the
mapping's, or the user name as the first server (in config order) spells it. An account
that would take the id of a mapped person who has another account on that server is left
out with a warning: names are matched, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from manager.config import UserMapping
from manager.logs import get_logger
from manager.model import ClusterUser, UserId
from manager.servers.jellyfin.parse import Account

log = get_logger("manager.servers.jellyfin.users")

ID_PREFIX = "name:"


def person_id(name: str) -> UserId:
    return UserId(ID_PREFIX + name.strip().lower())


@dataclass
class People:
    """One refresh's result; swapped in whole."""

    users: dict[UserId, ClusterUser] = field(default_factory=dict)
    # server name → person → their account there, in the server's own order
    accounts: dict[str, dict[UserId, Account]] = field(default_factory=dict)
    # server name → account id → person
    by_account: dict[str, dict[str, UserId]] = field(default_factory=dict)
    owners: dict[str, UserId] = field(default_factory=dict)  # server → first administrator


def match(
    servers: Sequence[tuple[str, str]],
    accounts: Mapping[str, Sequence[Account]],
    user_map: Sequence[UserMapping] = (),
) -> People:
    """`servers`: (name, kind) in config order; `accounts`: each server's `GET /Users`."""
    people = People()
    names: dict[UserId, str] = {}
    admin: dict[UserId, bool] = {}
    for server, kind in servers:
        # Who the map says each local user name is on this server.
        claimed = {
            local.strip().lower(): m.name
            for m in user_map
            if (local := m.name_on(server, kind)) is not None
        }
        listed = list(accounts.get(server, ()))
        mine: dict[UserId, Account] = {}
        # Mapped accounts first: one the map names wins over one that merely has the name.
        for account in sorted(listed, key=lambda a: a.name.strip().lower() not in claimed):
            mapped = claimed.get(account.name.strip().lower())
            uid = person_id(mapped or account.name)
            if uid in mine:
                log.warning(
                    "user left out: another account there is that person",
                    server=server,
                    user=account.name,
                    person=mapped or account.name,
                )
                continue
            mine[uid] = account
            names.setdefault(uid, mapped or account.name)
            admin[uid] = admin.get(uid, False) or account.admin
        people.accounts[server] = mine
        people.by_account[server] = by_id = {a.id: uid for uid, a in mine.items()}
        # The owner: the first administrator in the server's own order.
        first = next((a for a in listed if a.admin and a.id in by_id), None)
        if first is not None:
            people.owners[server] = by_id[first.id]
    for uid, name in names.items():
        people.users[uid] = ClusterUser(uid, name, "owner" if admin[uid] else "shared")
    return people
