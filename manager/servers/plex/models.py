"""Plex's library type codes and what plex.tv answers, as small immutable values.

Library items become the cluster's `MediaItem` (manager.servers.models) when parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

# Plex's numeric library types, as used in `/library/sections/{id}/all?type=`.
TYPE_MOVIE = 1
TYPE_SHOW = 2
TYPE_SEASON = 3
TYPE_EPISODE = 4
TYPE_CODES: dict[str, int] = {
    "movie": TYPE_MOVIE,
    "show": TYPE_SHOW,
    "season": TYPE_SEASON,
    "episode": TYPE_EPISODE,
}


@dataclass(frozen=True, slots=True)
class PlexAccount:
    """The plex.tv account a token belongs to (`/api/v2/user`)."""

    id: int
    uuid: str
    username: str
    title: str
    email: str = ""
    home: bool = False
    restricted: bool = False

    @property
    def name(self) -> str:
        return self.username or self.title


@dataclass(frozen=True, slots=True)
class PlexTvUser:
    """A friend or Home member of the admin (`/api/users`), with the servers they can use."""

    id: int
    title: str
    username: str
    email: str = ""
    home: bool = False
    restricted: bool = False
    machine_identifiers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.username or self.title


@dataclass(frozen=True, slots=True)
class SharedServer:
    """One user's access to one server (`/api/servers/{machineId}/shared_servers`)."""

    user_id: int
    username: str
    email: str
    access_token: str
    machine_identifier: str

    def __repr__(self) -> str:  # never print the token
        return f"SharedServer(user_id={self.user_id}, username={self.username!r})"


@dataclass(frozen=True, slots=True)
class HomeUser:
    """A member of the admin's Plex Home (`/api/v2/home/users`)."""

    id: int
    uuid: str
    title: str
    username: str = ""
    admin: bool = False
    guest: bool = False
    restricted: bool = False
    protected: bool = False  # a PIN is needed to switch to this user

    @property
    def name(self) -> str:
        return self.username or self.title


@dataclass(frozen=True, slots=True)
class Resource:
    """A device the token's user can reach (`/api/v2/resources`); servers carry a token."""

    client_identifier: str
    name: str
    provides: str
    owned: bool
    access_token: str

    def __repr__(self) -> str:  # never print the token
        return f"Resource({self.name!r}, {self.client_identifier!r}, provides={self.provides!r})"
