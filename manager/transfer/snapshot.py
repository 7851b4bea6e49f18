"""An export file read as one more media server: listed like any server, never written.

An import is a full sync between the target server and this one, writing only to the
target: the file's states are evidence beside the target's own and the ledger's, decided
by the sync's rule. So an import never writes what the target holds, never brings an
older state over a newer one, and never unwatches anything on the file's word (a server
lacking a mark is no proof; only the ledger's unwatch is).

The "server" has one movie and one show library; a read with the admin credential (no
user) lists every item of the file without state (the catalogue), a read as a user lists
that user's items with their state. Item ids are the file's order of first appearance.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from manager.model import ClusterUser, UserId
from manager.servers.errors import MediaServerError, NotFound
from manager.servers.interface import DEFAULT_PAGE_SIZE, UserDirectory
from manager.servers.models import (
    EPISODE,
    MOVIE,
    SHOW,
    Credential,
    Library,
    MediaItem,
    ServerIdentity,
    Session,
    StopRules,
)
from manager.transfer.document import Document, ItemState

if TYPE_CHECKING:
    from manager.servers.server import Server

_LIBRARIES = {MOVIE: Library("movies", MOVIE, "Movies"), SHOW: Library("shows", SHOW, "Shows")}


def _media_item(item_id: str, state: ItemState | None, shape: ItemState) -> MediaItem:
    return MediaItem(
        id=item_id,
        kind=shape.kind,
        title=shape.title,
        guid=shape.guid,
        external_ids=shape.external_ids,
        duration_ms=shape.duration_ms,
        show_ids=shape.show_ids,
        show_title=shape.show_title,
        season_number=shape.season,
        episode_number=shape.episode,
        played=bool(state and state.watched),
        play_count=int(bool(state and state.watched)),
        resume_ms=(state.resume_ms or 0) if state else 0,
        last_played_at=int(state.as_of) if state and state.as_of else None,
    )


class SnapshotServer:
    """The `MediaServer` of a file. `owners`: cluster user id → the file's user id."""

    kind = "file"
    level_marks = False
    stop_rules: StopRules | None = None

    def __init__(self, name: str, document: Document, owners: Mapping[UserId, str]) -> None:
        self.name = name
        self.request_count = 0
        self._shapes: dict[tuple[object, ...], str] = {}
        self._items: dict[str, ItemState] = {}
        self._states: dict[str, dict[str, ItemState]] = {}
        for user in document.users:
            mine = self._states.setdefault(user.id, {})
            for state in user.items:
                item_id = self._shapes.setdefault(state.identity, f"f{len(self._shapes) + 1}")
                self._items.setdefault(item_id, state)
                mine[item_id] = state
        self._owners = dict(owners)

    async def identify(self) -> ServerIdentity:
        return ServerIdentity(id=f"file:{self.name}", name=self.name, version="1")

    async def libraries(self, credential: Credential) -> list[Library]:
        return list(_LIBRARIES.values())

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
        wanted = MOVIE if library.kind == MOVIE and kind == MOVIE else None
        if library.kind == SHOW and kind == EPISODE:
            wanted = EPISODE
        if wanted is None:
            return
        if credential.user is None:  # the catalogue: every item, nobody's state
            listed = [(i, None) for i, s in self._items.items() if s.kind == wanted]
        else:
            mine = self._states.get(self._owners.get(UserId(credential.user), ""), {})
            listed = [(i, s) for i, s in mine.items() if s.kind == wanted]
        for start in range(0, len(listed), page_size):
            self.request_count += 1
            yield [_media_item(i, s, self._items[i]) for i, s in listed[start : start + page_size]]

    async def items_by_id(self, credential: Credential, item_ids: list[str]) -> list[MediaItem]:
        return []  # asked only of servers written to, which this never is

    async def item(self, credential: Credential, item_id: str) -> MediaItem:
        raise NotFound(f"{self.name}: {item_id}", target=self.name)

    async def leaves(self, credential: Credential, container_id: str) -> list[MediaItem]:
        return []

    async def sessions(self, credential: Credential) -> list[Session]:
        return []

    async def mark_played(self, credential: Credential, item_id: str) -> None:
        raise MediaServerError(f"{self.name} is a file: never written", target=self.name)

    async def mark_unplayed(self, credential: Credential, item_id: str) -> None:
        raise MediaServerError(f"{self.name} is a file: never written", target=self.name)

    async def set_resume(
        self, credential: Credential, item_id: str, position_ms: int, duration_ms: int
    ) -> None:
        raise MediaServerError(f"{self.name} is a file: never written", target=self.name)


class SnapshotDirectory:
    """The cluster's user directory, plus the file's users on the file's "server"."""

    def __init__(
        self, inner: UserDirectory, name: str, users: Mapping[UserId, ClusterUser]
    ) -> None:
        self.inner = inner
        self.name = name
        self.file_users = dict(users)

    @property
    def refreshed_at(self) -> float | None:
        return self.inner.refreshed_at

    async def refresh(self) -> None:
        await self.inner.refresh()

    def update_server(self, server: Server) -> None:
        self.inner.update_server(server)

    def all_users(self) -> list[ClusterUser]:
        return self.inner.all_users()

    def user(self, user_id: UserId) -> ClusterUser | None:
        return self.inner.user(user_id)

    def users(self, server: str) -> list[ClusterUser]:
        if server == self.name:
            return list(self.file_users.values())
        return self.inner.users(server)

    def owner_of(self, server: str) -> ClusterUser | None:
        return None if server == self.name else self.inner.owner_of(server)

    async def user_for_token(
        self,
        server: str,
        token: str,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        return await self.inner.user_for_token(
            server, token, client_id=client_id, item_id=item_id, account_id=account_id
        )

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        if server == self.name:
            return Credential("", user=user.id) if user.id in self.file_users else None
        return await self.inner.credential_for(user, server)

    def invalidate(self, user: ClusterUser, server: str) -> None:
        if server != self.name:
            self.inner.invalidate(user, server)

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        return server != self.name and self.inner.plays(server, session, user)
