"""The config's `users:` map: people whose user names differ between servers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from manager.config_reader import Reader


@dataclass(frozen=True, slots=True)
class UserMapping:
    """One person's user names on the servers where they differ (`users:` in the config).

    Each name is given for a server (by its config name) or for a kind (every server of
    it); a server's own entry wins over its kind's. Names compare case-insensitively."""

    name: str
    names: tuple[tuple[str, str], ...]  # (server name or kind, user name there)

    def name_on(self, server: str, kind: str) -> str | None:
        given = dict(self.names)
        return given.get(server, given.get(kind))


def user_map(reader: Reader, raw: Any, places: set[str]) -> tuple[UserMapping, ...]:
    """`users: {person: {server name or kind: user name there}}`; `places`: the configured
    server names and the kinds. Each name belongs to one person only, or a change could
    be written for the wrong user."""
    people = reader.mapping(raw, "users", None)
    claimed: dict[tuple[str, str], str] = {}
    out = []
    for person, given in people.items():
        where = f"users.{person}"
        names = reader.mapping(given, where, None)
        if not names:
            raise reader.fail(where, "give the person's user name on a server or kind")
        pairs = []
        for place, name in names.items():
            if place not in places:
                raise reader.fail(f"{where}.{place}", "neither a configured server nor a kind")
            text = reader.string(name, f"{where}.{place}").strip()
            if not text:
                raise reader.fail(f"{where}.{place}", "empty user name")
            owner = claimed.setdefault((place, text.lower()), str(person))
            if owner != str(person):
                raise reader.fail(f"{where}.{place}", f"{text!r} is already {owner}'s name there")
            pairs.append((str(place), text))
        out.append(UserMapping(str(person), tuple(pairs)))
    return tuple(out)
