"""A media server kept in memory, behind the cluster's `MediaServer` interface: the real-time
handler and the full sync run against it without HTTP.

It follows the rules every real kind shares and our emulator checks against Plex: state is
per user; marking played counts one more play and stamps `last_played_at` with "now";
marking unplayed clears the count, the resume point and the stamp; a resume point of a
minute or less is ignored; a resume point past 90 % marks the item played; a show or
season mark applies to every episode under it. Each server has its own item ids.

`FakeDirectory` is its `UserDirectory`: a credential is "<user>@<server>", the owner's is
the server's admin token.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace

from manager.config import ServerConfig
from manager.model import ClusterUser, UserId, UserKind
from manager.servers.errors import NotFound, Unauthorized, Unreachable
from manager.servers.index import LibraryIndex
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.models import (
    EPISODE,
    MOVIE,
    SEASON,
    SHOW,
    Credential,
    Library,
    MediaItem,
    ServerIdentity,
    Session,
    StopRules,
)
from manager.servers.server import Server

PLAYED_AT = 0.9
MIN_RESUME_MS = 60_000
_ids = itertools.count(1000)


@dataclass
class UserState:
    play_count: int = 0
    resume_ms: int = 0
    last_played_at: int | None = None


@dataclass
class FakeMediaServer:
    name: str
    server_id: str
    kind: str = "fake"
    level_marks: bool = True
    stop_rules: StopRules | None = None
    request_count: int = 0
    down: bool = False
    library: dict[str, MediaItem] = field(default_factory=dict)  # by id
    state: dict[tuple[str, str], UserState] = field(default_factory=dict)  # (user, item id)
    writes: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    # Writes that changed nothing: the user's state there already was what they asked for.
    redundant: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    playing: list[Session] = field(default_factory=list)
    item_reads: list[tuple[str, str]] = field(default_factory=list)  # (user, item id)
    batch_reads: list[tuple[str, list[str]]] = field(default_factory=list)  # (user, item ids)
    clock: Callable[[], float] = time.time  # what it stamps last_played_at with

    # -- building the library ------------------------------------------------------------
    def add_movie(self, title: str, imdb: str, duration_ms: int = 6_000_000) -> str:
        item = MediaItem(
            id=str(next(_ids)), kind=MOVIE, title=title, external_ids=(f"imdb://{imdb}",),
            duration_ms=duration_ms, library_id="1", library="Movies",
        )  # fmt: skip
        self.library[item.id] = item
        return item.id

    def add_show(self, title: str, tvdb: str, seasons: dict[int, int]) -> str:
        """A show with `seasons[n]` episodes in season n; returns the show's id."""
        show = MediaItem(
            id=str(next(_ids)), kind=SHOW, title=title, external_ids=(f"tvdb://{tvdb}",),
            library_id="2", library="TV Shows",
        )  # fmt: skip
        self.library[show.id] = show
        for number, count in seasons.items():
            season = MediaItem(
                id=str(next(_ids)), kind=SEASON, title=f"Season {number}", show_id=show.id,
                show_ids=(f"tvdb://{tvdb}",), show_title=title, season_number=number,
                library_id="2", library="TV Shows",
            )  # fmt: skip
            self.library[season.id] = season
            for episode in range(1, count + 1):
                item = MediaItem(
                    id=str(next(_ids)), kind=EPISODE, title=f"{title} {number}x{episode}",
                    duration_ms=2_400_000, season_id=season.id, show_id=show.id,
                    show_ids=(f"tvdb://{tvdb}",), show_title=title, season_number=number,
                    episode_number=episode, library_id="2", library="TV Shows",
                )  # fmt: skip
                self.library[item.id] = item
        return show.id

    def find(self, title: str) -> str:
        return next(i.id for i in self.library.values() if i.title == title)

    def seen(self, user: str, item_id: str) -> tuple[bool, int]:
        """(watched, resume point ms) of a leaf item, as the user sees it."""
        st = self.state.get((user, item_id), UserState())
        return st.play_count > 0, st.resume_ms

    # -- the interface -------------------------------------------------------------------
    def _call(self, credential: Credential | None = None) -> str:
        self.request_count += 1
        if self.down:
            raise Unreachable(f"{self.name}: down", target=self.name)
        if credential is None:
            return ""
        user, _, server = credential.secret.partition("@")
        if server != self.name:
            raise Unauthorized(f"{self.name}: not a credential here", status=401, target=self.name)
        return user

    async def identify(self) -> ServerIdentity:
        self._call()
        return ServerIdentity(self.server_id, self.name, "1")

    async def libraries(self, credential: Credential) -> list[Library]:
        self._call(credential)
        return [Library("1", MOVIE, "Movies"), Library("2", SHOW, "TV Shows")]

    async def items(
        self,
        credential: Credential,
        library: Library,
        kind: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        since: int | None = None,
        *,
        state_only: bool = False,
    ) -> AsyncIterator[list[MediaItem]]:
        user = self._call(credential)
        found = [
            self._as_seen(user, i)
            for i in self.library.values()
            if i.library_id == library.id and i.kind == kind
        ]
        if since is not None:
            found = [i for i in found if i.last_played_at is not None and i.last_played_at > since]
        if state_only:  # as lean as a real server's answer may be: a caller must not need more
            found = [_state_of(i) for i in found]
        for start in range(0, len(found), page_size):
            yield found[start : start + page_size]

    async def items_by_id(self, credential: Credential, item_ids: list[str]) -> list[MediaItem]:
        user = self._call(credential)
        self.batch_reads.append((user, list(item_ids)))
        return [self._as_seen(user, self.library[i]) for i in item_ids if i in self.library]

    async def item(self, credential: Credential, item_id: str) -> MediaItem:
        user = self._call(credential)
        self.item_reads.append((user, item_id))
        if item_id not in self.library:
            raise NotFound(f"{self.name}: no item {item_id}", status=404, target=self.name)
        return self._as_seen(user, self.library[item_id])

    async def leaves(self, credential: Credential, container_id: str) -> list[MediaItem]:
        user = self._call(credential)
        return [self._as_seen(user, self.library[i]) for i in self._leaves(container_id)]

    async def sessions(self, credential: Credential) -> list[Session]:
        self._call(credential)
        return list(self.playing)

    async def mark_played(self, credential: Credential, item_id: str) -> None:
        user = self._call(credential)
        held = all(self.seen(user, i)[0] for i in self._leaves(item_id))
        self._note(user, "played", item_id, None, held)
        self.mark(user, item_id, True)

    async def mark_unplayed(self, credential: Credential, item_id: str) -> None:
        user = self._call(credential)
        held = all(self.seen(user, i) == (False, 0) for i in self._leaves(item_id))
        self._note(user, "unplayed", item_id, None, held)
        self.mark(user, item_id, False)

    async def set_resume(
        self, credential: Credential, item_id: str, position_ms: int, duration_ms: int
    ) -> None:
        user = self._call(credential)
        held = abs(self.seen(user, item_id)[1] - position_ms) <= 10_000
        self._note(user, "resume", item_id, position_ms, held)
        self.resume(user, item_id, position_ms)

    def _note(self, user: str, what: str, item_id: str, at: int | None, held: bool) -> None:
        self.writes.append((user, what, item_id, at))
        if held:
            self.redundant.append((user, what, item_id, at))

    # -- what a client does on this server (no proxy involved) ---------------------------
    def mark(self, user: str, item_id: str, played: bool) -> None:
        """A client marks an item (or a whole show or season) played or unplayed."""
        for leaf in self._leaves(item_id):
            st = self.state.setdefault((user, leaf), UserState())
            if not played:
                self.state[(user, leaf)] = UserState()
            elif item_id == leaf or not st.play_count:
                st.play_count += 1
                st.resume_ms = 0
                st.last_played_at = self._stamp()

    def resume(self, user: str, item_id: str, position_ms: int) -> None:
        if position_ms <= MIN_RESUME_MS:
            return
        st = self.state.setdefault((user, item_id), UserState())
        duration = self.library[item_id].duration_ms or 0
        if duration and position_ms >= PLAYED_AT * duration:
            st.play_count += 1
            st.resume_ms = 0
        else:
            st.resume_ms = position_ms
        st.last_played_at = self._stamp()

    def _stamp(self) -> int:
        return int(self.clock())

    def _leaves(self, item_id: str) -> list[str]:
        item = self.library.get(item_id)
        if item is None:
            raise NotFound(f"{self.name}: no item {item_id}", status=404, target=self.name)
        if item.kind == SHOW:
            episodes = (i for i in self.library.values() if i.kind == EPISODE)
            return [i.id for i in episodes if i.show_id == item_id]
        if item.kind == SEASON:
            return [i.id for i in self.library.values() if i.season_id == item_id]
        return [item_id]

    def _as_seen(self, user: str, item: MediaItem) -> MediaItem:
        if item.kind in (SHOW, SEASON):
            # As Plex: every episode played, how many are, and the latest episode's stamp.
            leaves = self._leaves(item.id)
            played = sum(1 for leaf in leaves if self.seen(user, leaf)[0])
            stamps = [
                st.last_played_at
                for leaf in leaves
                if (st := self.state.get((user, leaf))) and st.last_played_at is not None
            ]
            return replace(
                item,
                played=bool(leaves) and played == len(leaves),
                leaves=len(leaves),
                played_leaves=played,
                last_played_at=max(stamps, default=None),
            )
        st = self.state.get((user, item.id))
        if st is None:
            return item
        return replace(
            item,
            played=st.play_count > 0,
            play_count=st.play_count,
            resume_ms=st.resume_ms,
            last_played_at=st.last_played_at,
        )


class FakeDirectory:
    """Who is who: users by name, each able to use the servers listed for them."""

    def __init__(
        self,
        servers: Iterable[Server],
        users: dict[str, tuple[UserKind, set[str]]],
        *,
        prefix: str = "id-",  # ids differ per directory, as Plex's and Jellyfin's do
        aliases: dict[str, tuple[str, ...]] | None = None,
    ):
        self.servers = {s.name: s for s in servers}
        aliases = aliases or {}
        self.people = {
            name: ClusterUser(UserId(f"{prefix}{name}"), name, kind, aliases.get(name, ()))
            for name, (kind, _) in users.items()
        }
        self.access = {name: where for name, (_, where) in users.items()}
        self.refreshed_at: float | None = None
        self.invalidated: list[tuple[str, str]] = []

    async def refresh(self) -> None:
        self.refreshed_at = time.time()

    def update_server(self, server: Server) -> None:
        self.servers[server.name] = server

    def all_users(self) -> list[ClusterUser]:
        return sorted(self.people.values(), key=lambda u: (u.kind != "owner", u.name))

    def user(self, user_id: UserId) -> ClusterUser | None:
        return next((u for u in self.people.values() if u.id == user_id), None)

    def name_on(self, user: ClusterUser, server: str) -> str | None:
        return user.name if any(u.id == user.id for u in self.users(server)) else None

    def users(self, server: str) -> list[ClusterUser]:
        return [u for u in self.all_users() if server in self.access[u.name]]

    def owner_of(self, server: str) -> ClusterUser | None:
        return next((u for u in self.users(server) if u.kind == "owner"), None)

    async def user_for_token(
        self,
        server: str,
        token: str | None,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        user, _, where = (token or "").partition("@")
        if where != server or user not in self.people or server not in self.access[user]:
            return None
        return self.people[user]

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        if server not in self.access.get(user.name, ()):
            return None
        return Credential(f"{user.name}@{server}")

    def invalidate(self, user: ClusterUser, server: str) -> None:
        self.invalidated.append((user.name, server))

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        return session.username == user.name


def fake_server(name: str, owner: str = "admin") -> Server:
    """A configured server backed by a FakeMediaServer; the owner's credential is its
    admin token, as for every kind."""
    api = FakeMediaServer(name, f"id-{name}")
    config = ServerConfig(name=name, url=f"http://{name}.invalid:1", token=f"{owner}@{name}")
    return Server(config, api, LibraryIndex(api, Credential(config.token)), server_id=api.server_id)


def fake(server: Server) -> FakeMediaServer:
    """The FakeMediaServer behind a fake_server()."""
    assert isinstance(server.api, FakeMediaServer)
    return server.api


@dataclass
class FakeCluster:
    """Three fake servers holding the same films and show under their own ids, and who may
    use them: admin owns all three, alice (invited) and kid (managed) use all three, bob
    (invited) alpha and beta only."""

    servers: list[Server]
    directory: FakeDirectory

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def api(self, name: str) -> FakeMediaServer:
        return fake(self.server(name))

    def key(self, server: str, title: str) -> str:
        return self.api(server).find(title)


def fake_cluster(names: tuple[str, ...] = ("alpha", "beta", "gamma")) -> FakeCluster:
    servers = [fake_server(n) for n in names]
    for server in servers:
        api = fake(server)
        api.add_movie("Heat", "tt0113277")
        api.add_movie("Jaws", "tt0073195")
        api.add_movie("Casablanca", "tt0034583")
        api.add_show("Fargo", "269613", {1: 3, 2: 2})
    users: dict[str, tuple[UserKind, set[str]]] = {
        "admin": ("owner", set(names)),
        "alice": ("shared", set(names)),
        "bob": ("shared", set(names[:2])),
        "kid": ("managed", set(names)),
    }
    return FakeCluster(servers, FakeDirectory(servers, users))


def _state_of(item: MediaItem) -> MediaItem:
    """The item with its id, kind and the user's state only."""
    return MediaItem(
        id=item.id, kind=item.kind, title="", played=item.played, play_count=item.play_count,
        resume_ms=item.resume_ms, last_played_at=item.last_played_at, leaves=item.leaves,
        played_leaves=item.played_leaves,
    )  # fmt: skip
