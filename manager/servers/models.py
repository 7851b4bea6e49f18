"""What the manager reads from any media server, as small immutable values.

Every kind of server (Plex today; Jellyfin and Emby next) turns its answers into these, so
the real-time path, the library index and the full sync never see a server's own format.
Ids are the server's own strings (Plex rating keys, Jellyfin's 32-hex ids, Emby's numeric
strings); positions are milliseconds (Jellyfin's ticks are converted on the way in).

Slotted, so that an index of tens of thousands of items per server stays small. User
state fields are as seen by the credential used for the read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from manager.redaction import redact

# The item kinds the cluster syncs; a server's other kinds (music, photos) pass through.
MOVIE, SHOW, SEASON, EPISODE = "movie", "show", "season", "episode"
LEAF_KINDS = (MOVIE, EPISODE)  # what a user watches; shows and seasons are containers


@dataclass(frozen=True, slots=True)
class Credential:
    """How to act as one user on one server: for Plex that user's token there; kinds that
    act on a user's behalf with one key (Jellyfin, Emby) also name the user's id there."""

    secret: str = field(repr=False)
    user: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"Credential({redact(self.secret)!r}, user={self.user!r})"


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    id: str  # the server's own unique id (Plex: machineIdentifier)
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Library:
    id: str
    kind: str  # movie | show, or a kind the cluster does not sync
    title: str


# Not frozen, but never changed once a parser has built it (dataclasses.replace makes a
# changed copy): a frozen dataclass sets each field through object.__setattr__, which made
# building one 4.5x slower (3.1 against 0.7 µs), and a full sync builds one per item
# listed, hundreds of thousands a run.
@dataclass(slots=True)
class MediaItem:
    id: str
    kind: str  # movie | show | season | episode (other kinds pass through unchanged)
    title: str
    # The kind's own id for "this item", shared by its servers (Plex: plex://movie/…);
    # None for kinds whose ids are per server, or for items matched by an older agent.
    guid: str | None = None
    external_ids: tuple[str, ...] = ()  # normalised "imdb://tt…", "tmdb://…", "tvdb://…"
    duration_ms: int | None = None
    library_id: str | None = None
    library: str | None = None  # the library's title
    season_id: str | None = None  # an episode's season
    show_id: str | None = None  # an episode's or season's show
    show_ids: tuple[str, ...] = ()  # the show's guid or external ids, as the item names them
    show_title: str | None = None
    season_number: int | None = None  # of an episode or a season
    episode_number: int | None = None
    # The reading user's state: played, how often, where to resume, when last played.
    played: bool = False
    play_count: int = 0
    resume_ms: int = 0
    last_played_at: int | None = None  # epoch seconds, the server's clock
    # A show's or season's episodes, and how many of them the user has played.
    leaves: int | None = None
    played_leaves: int | None = None

    @property
    def label(self) -> str:
        """A title for log lines: episodes and seasons name their show."""
        if self.kind == EPISODE and self.show_title:
            return (
                f"{self.show_title} S{self.season_number or 0:02d}E{self.episode_number or 0:02d}"
            )
        if self.kind == SEASON and self.show_title:
            return f"{self.show_title} season {self.season_number}"
        return self.title


@dataclass(frozen=True, slots=True)
class StopRules:
    """What a server does by itself with a playback report (Jellyfin and Emby, on stop and
    progress alike):
    under `min_fraction` of the item it keeps no resume point; past `played_fraction` it
    marks the item played; an item shorter than `short_ms` counts as played once past
    `min_fraction`. Plex has none of its own (the config's played threshold stands)."""

    min_fraction: float = 0.05
    played_fraction: float = 0.9
    short_ms: int = 300_000


@dataclass(frozen=True, slots=True)
class Session:
    """Something playing now."""

    item_id: str
    user_id: str  # the server's own id for the account (Plex: 1 for its owner)
    username: str
    state: str  # playing | paused | buffering
    client_id: str = ""  # the player's identifier (Plex: X-Plex-Client-Identifier)

    @property
    def active(self) -> bool:
        return self.state in ("playing", "buffering", "paused")
