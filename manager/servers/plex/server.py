"""A Plex Media Server behind the cluster's `MediaServer` interface.

Plex acts as a user with that user's own token on the server, so a credential here is just
the token. Show- and season-level scrobbles mark every episode under them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from manager.servers.errors import NotFound
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.models import Credential, Library, MediaItem, ServerIdentity, Session
from manager.servers.plex.client import PlexServerClient
from manager.servers.plex.models import TYPE_CODES

KIND = "plex"


class PlexMediaServer:
    kind = KIND
    level_marks = True
    stop_rules = None  # Plex's played threshold is a setting: the config's stands for it

    def __init__(self, client: PlexServerClient) -> None:
        self.client = client
        self.name = client.name

    @classmethod
    def connect(
        cls,
        url: str,
        http: httpx.AsyncClient,
        client_id: str,
        *,
        name: str,
        max_concurrency: int = 4,
        interactive_concurrency: int = 4,
        timeout: float | None = 30.0,
    ) -> PlexMediaServer:
        return cls(
            PlexServerClient(
                url,
                http,
                client_id,
                name=name,
                max_concurrency=max_concurrency,
                interactive_concurrency=interactive_concurrency,
                timeout=timeout,
            )
        )

    def __repr__(self) -> str:
        return f"PlexMediaServer({self.name!r}, {self.client.base_url!r})"

    @property
    def request_count(self) -> int:
        return self.client.request_count

    async def identify(self) -> ServerIdentity:
        return await self.client.identity()

    async def libraries(self, credential: Credential) -> list[Library]:
        return await self.client.sections(credential.secret)

    def items(
        self,
        credential: Credential,
        library: Library,
        kind: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        since: int | None = None,
        *,
        state_only: bool = False,
    ) -> AsyncIterator[list[MediaItem]]:
        # Plex's filter syntax for dates: `field>>=value` is "after".
        after = {"lastViewedAt>>": str(since)} if since is not None else None
        return self.client.iter_items(
            credential.secret,
            library,
            TYPE_CODES[kind],
            page_size,
            state_only=state_only,
            extra_params=after,
        )

    async def items_by_id(self, credential: Credential, item_ids: list[str]) -> list[MediaItem]:
        if not item_ids:
            return []
        try:
            return await self.client.metadata(credential.secret, item_ids)
        except NotFound:
            return []

    async def item(self, credential: Credential, item_id: str) -> MediaItem:
        return await self.client.item(credential.secret, item_id)

    async def leaves(self, credential: Credential, container_id: str) -> list[MediaItem]:
        return await self.client.all_leaves(credential.secret, container_id)

    async def sessions(self, credential: Credential) -> list[Session]:
        return await self.client.sessions(credential.secret)

    async def mark_played(self, credential: Credential, item_id: str) -> None:
        await self.client.scrobble(credential.secret, item_id)

    async def mark_unplayed(self, credential: Credential, item_id: str) -> None:
        await self.client.unscrobble(credential.secret, item_id)

    async def set_resume(
        self, credential: Credential, item_id: str, position_ms: int, duration_ms: int
    ) -> None:
        await self.client.set_resume(credential.secret, item_id, position_ms, duration_ms)
