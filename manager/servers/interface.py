"""The seam between the cluster and one kind of media server.

The real-time path and the full sync talk to servers through these two contracts and
nothing else; a kind (Plex, under `servers/plex/`) implements both and registers itself in
`servers/kinds.py`. Shaped against Plex and the Jellyfin/Emby API alike: ids are the
server's own strings, positions milliseconds, external ids normalised
(`manager.servers.identity`), and every call acting for a user takes that user's
`Credential` on that server. Failures raise `manager.servers.errors`.

`MediaServer`: one configured server.
`UserDirectory`: who is who: whose credential a client sent, and each user's credential on
each server. One directory may serve several servers of its kind (plex.tv knows every
Plex server of an owner).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from manager.model import ClusterUser, UserId
from manager.servers.models import (
    Credential,
    Library,
    MediaItem,
    ServerIdentity,
    Session,
    StopRules,
)

if TYPE_CHECKING:  # a runtime import would be circular: a Server holds a MediaServer
    from manager.servers.server import Server

DEFAULT_PAGE_SIZE = 1000


class MediaServer(Protocol):
    name: str
    kind: str
    # Show- and season-level marks: one request marks every episode under it.
    level_marks: bool
    # Requests made so far (full-sync reports count them).
    request_count: int
    # What the server itself does with a stopped playback (None: nothing of its own), so
    # an event says what the source now holds.
    stop_rules: StopRules | None

    async def identify(self) -> ServerIdentity:
        """Who the server is; needs no credential."""
        ...

    async def libraries(self, credential: Credential) -> list[Library]: ...

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
        """Every item of a kind in a library with its ids and the user's state, a page at a
        time, in order. `since` (the server's clock, epoch seconds): only the items the user
        played or left a resume point in after it (an unplayed mark leaves no date, so it
        is never among them). `state_only`: the caller has the items' ids already (a user's
        pass over a catalogue read before) and needs only each item's id, kind and the
        user's state; a server may leave the rest out, to read and parse less."""
        ...

    async def items_by_id(self, credential: Credential, item_ids: list[str]) -> list[MediaItem]:
        """These items with their ids and the user's state, in few requests; the ones that
        do not exist, or that the user cannot see, are left out."""
        ...

    async def item(self, credential: Credential, item_id: str) -> MediaItem:
        """One item with its ids and the user's state; NotFound if there is none."""
        ...

    async def leaves(self, credential: Credential, container_id: str) -> list[MediaItem]:
        """Every episode of a show or season, with the user's state, in one answer."""
        ...

    async def sessions(self, credential: Credential) -> list[Session]:
        """Who is playing what now (the owner's credential sees everyone's)."""
        ...

    async def mark_played(self, credential: Credential, item_id: str) -> None: ...

    async def mark_unplayed(self, credential: Credential, item_id: str) -> None: ...

    async def set_resume(
        self, credential: Credential, item_id: str, position_ms: int, duration_ms: int
    ) -> None:
        """A resume point; `duration_ms` is this server's duration of the item."""
        ...


class UserDirectory(Protocol):
    refreshed_at: float | None

    async def refresh(self) -> None:
        """Reload users and credentials; servers whose id is not known yet join later."""
        ...

    def update_server(self, server: Server) -> None:
        """Add a server or replace its details (its id became known, its owner credential
        changed): what was cached for it is dropped. Call refresh() next."""
        ...

    def all_users(self) -> list[ClusterUser]: ...

    def user(self, user_id: UserId) -> ClusterUser | None: ...

    def users(self, server: str) -> list[ClusterUser]:
        """Everyone who can use that server, owner first."""
        ...

    def name_on(self, user: ClusterUser, server: str) -> str | None:
        """The name that person goes by on that server (None: no access there), for
        people to read (the dashboard's users page)."""
        ...

    def owner_of(self, server: str) -> ClusterUser | None:
        """The user whose state the server's admin credential reads (Plex: its owner), so
        the library read already holds their state; None when that credential is nobody
        (a Jellyfin or Emby API key)."""
        ...

    async def user_for_token(
        self,
        server: str,
        token: str | None,
        *,
        client_id: str | None = None,
        item_id: str | None = None,
        account_id: str | None = None,
    ) -> ClusterUser | None:
        """Whose credential a client sent to that server (None: nobody of the cluster).
        The player's id and the item let a short-lived credential be told by session;
        `account_id`, the server's own id of the user the request named (Jellyfin and Emby
        requests may act for a user other than the credential's), wins when given; a
        webhook's event names its user by `account_id` alone (no token: no token lookup)."""
        ...

    async def credential_for(self, user: ClusterUser, server: str) -> Credential | None:
        """That user's credential on that server; None if they cannot use it."""
        ...

    def invalidate(self, user: ClusterUser, server: str) -> None:
        """The server refused that user's credential: fetch a fresh one next time."""
        ...

    def plays(self, server: str, session: Session, user: ClusterUser) -> bool:
        """Whether a session on that server is this user's."""
        ...
