"""A Jellyfin or Emby server behind the cluster's `MediaServer` interface.

One admin API key acts for every user: a credential is that key plus the id of the user
whose state is read or written (`Credential.user`); without a user id it reads as the
admin, with no user state, and cannot write.

`level_marks` is False: Jellyfin's played-items route on a series or season does mark
every episode under it (Folder.MarkPlayed in its source), but Emby's was not checked, so
the full sync marks a show's episodes one by one on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from manager.servers.errors import BadRequest
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.jellyfin.client import JellyfinClient
from manager.servers.jellyfin.parse import ITEM_TYPES
from manager.servers.models import (
    Credential,
    Library,
    MediaItem,
    ServerIdentity,
    Session,
    StopRules,
)


class JellyfinMediaServer:
    level_marks = False
    # Both apply these to every playback report (PROTOCOL.md §4b; Session/UserDataManager
    # in Jellyfin's source): an event from here says what the server made of it.
    stop_rules = StopRules()

    def __init__(self, client: JellyfinClient) -> None:
        self.client = client
        self.name = client.name
        self.kind = client.dialect.name  # jellyfin | emby

    @classmethod
    def connect(
        cls,
        url: str,
        http: httpx.AsyncClient,
        client_id: str,
        *,
        name: str,
        dialect: str,
        max_concurrency: int = 4,
        interactive_concurrency: int = 4,
        timeout: float | None = 30.0,
    ) -> JellyfinMediaServer:
        return cls(
            JellyfinClient(
                url,
                http,
                client_id,
                dialect=dialect,
                name=name,
                max_concurrency=max_concurrency,
                interactive_concurrency=interactive_concurrency,
                timeout=timeout,
            )
        )

    def __repr__(self) -> str:
        return f"JellyfinMediaServer({self.name!r}, {self.client.base_url!r}, {self.kind!r})"

    @property
    def request_count(self) -> int:
        return self.client.request_count

    async def identify(self) -> ServerIdentity:
        return await self.client.identity()

    async def libraries(self, credential: Credential) -> list[Library]:
        return await self.client.libraries(credential.secret, credential.user)

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
        if since is not None:
            if credential.user is None:
                return  # the admin key is nobody: it has played nothing since then
            # Neither server filters on the user's data by date (Jellyfin's
            # MinDateLastSavedForUser compares the item's own metadata date), but both sort
            # the played and the resumable items by the user's last play: read those, newest
            # first, back to `since` only.
            recent = self.client.iter_recent(
                credential.secret, credential.user, library, ITEM_TYPES[kind], since, page_size
            )
            async for page in recent:
                yield page
            return
        pages = self.client.iter_items(
            credential.secret,
            credential.user,
            library,
            ITEM_TYPES[kind],
            page_size,
            state_only=state_only,
        )
        async for page in pages:
            if page:
                yield page

    async def items_by_id(self, credential: Credential, item_ids: list[str]) -> list[MediaItem]:
        if not item_ids:
            return []
        return await self.client.by_ids(credential.secret, credential.user, item_ids)

    async def item(self, credential: Credential, item_id: str) -> MediaItem:
        return await self.client.item(credential.secret, credential.user, item_id)

    async def leaves(self, credential: Credential, container_id: str) -> list[MediaItem]:
        return await self.client.episodes(credential.secret, credential.user, container_id)

    async def sessions(self, credential: Credential) -> list[Session]:
        return await self.client.sessions(credential.secret)

    def _user(self, credential: Credential, item_id: str) -> str:
        if credential.user is None:
            # The admin key alone is nobody: a write must name whose state it changes.
            raise BadRequest(
                f"{self.name}: a write to {item_id} names no user", status=None, target=self.name
            )
        return credential.user

    async def mark_played(self, credential: Credential, item_id: str) -> None:
        user = self._user(credential, item_id)
        await self.client.mark_played(credential.secret, user, item_id)

    async def mark_unplayed(self, credential: Credential, item_id: str) -> None:
        user = self._user(credential, item_id)
        await self.client.mark_unplayed(credential.secret, user, item_id)

    async def set_resume(
        self, credential: Credential, item_id: str, position_ms: int, duration_ms: int
    ) -> None:
        """`duration_ms` is this server's runtime: a position past it (the source's copy
        may run a little longer) is clamped to it."""
        user = self._user(credential, item_id)
        if duration_ms and duration_ms > 0:
            position_ms = min(position_ms, duration_ms)
        await self.client.set_resume(credential.secret, user, item_id, position_ms)
