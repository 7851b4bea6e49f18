"""What the manager reads from Plex, as small immutable values.

Slotted so that an index of tens of thousands of items per server stays small. User
state fields (view_count, view_offset_ms, last_viewed_at, viewed_leaf_count) are as seen
by the token used for the read.
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
class ServerIdentity:
    machine_identifier: str
    friendly_name: str
    version: str


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    type: str  # movie | show | artist | photo
    title: str
    uuid: str


@dataclass(frozen=True, slots=True)
class PlexItem:
    rating_key: str
    type: str  # movie | show | season | episode (other types pass through unchanged)
    title: str
    guid: str | None = None  # the item's own guid attribute, as the server gave it
    guids: tuple[str, ...] = ()  # external ids from <Guid> children, normalised
    duration_ms: int | None = None
    section_id: str | None = None
    section_title: str | None = None
    parent_rating_key: str | None = None
    grandparent_rating_key: str | None = None
    show_guid: str | None = None  # grandparentGuid (episode) or parentGuid (season)
    show_title: str | None = None
    season_index: int | None = None  # parentIndex (episode) or index (season)
    episode_index: int | None = None
    view_count: int = 0
    view_offset_ms: int = 0
    last_viewed_at: int | None = None
    leaf_count: int | None = None
    viewed_leaf_count: int | None = None

    @property
    def show_rating_key(self) -> str | None:
        """The show this episode or season belongs to (None for movies and shows)."""
        if self.type == "episode":
            return self.grandparent_rating_key
        if self.type == "season":
            return self.parent_rating_key
        return None

    @property
    def is_played(self) -> bool:
        """plexapi's rule: viewCount for leaves, every leaf viewed for shows and seasons."""
        if self.leaf_count is not None and self.type in ("show", "season"):
            return self.leaf_count > 0 and (self.viewed_leaf_count or 0) >= self.leaf_count
        return self.view_count > 0


@dataclass(frozen=True, slots=True)
class Session:
    rating_key: str
    user_id: str  # the server's account id (the owner is "1" on the owner's own server)
    username: str
    state: str  # playing | paused | buffering
    client_id: str = ""  # the player's X-Plex-Client-Identifier (Player machineIdentifier)


# --- plex.tv ---------------------------------------------------------------------------


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
