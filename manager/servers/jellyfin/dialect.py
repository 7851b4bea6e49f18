"""What differs between Jellyfin and Emby on the wire: how we authenticate and which routes
act for a user. Everything else (JSON shapes, paging, ids of users) is shared.

Jellyfin 10.9 moved the per-user routes to `?userId=` forms (`/UserPlayedItems/{id}`,
`/UserItems/{id}/UserData`, `/Items?userId=`) and keeps the older `/Users/{userId}/…` ones
for compatibility; a 10.8 server knows only the older ones, so a write whose new route
answers 404 is tried once on the old one. Emby has only the older routes.
"""

from __future__ import annotations

from dataclasses import dataclass

JELLYFIN, EMBY = "jellyfin", "emby"
DIALECTS = (JELLYFIN, EMBY)

CLIENT = "Plex Cluster"
VERSION = "1.0"

Route = tuple[str, dict[str, str]]  # path, query


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # jellyfin | emby

    def __post_init__(self) -> None:
        if self.name not in DIALECTS:
            raise ValueError(f"unknown dialect {self.name!r} (known: {', '.join(DIALECTS)})")

    @property
    def is_emby(self) -> bool:
        return self.name == EMBY

    @property
    def has_users_me(self) -> bool:
        """Whether the server tells a token's owner (`GET /Users/Me`): Jellyfin does; Emby's
        API (its SDK's user service) has no such route, so Emby tokens are told by session."""
        return self.name == JELLYFIN

    def auth_headers(self, client_id: str, token: str | None) -> dict[str, str]:
        """Jellyfin reads the MediaBrowser authorization header (its X-Emby-Token is
        legacy, off by default from 12.0); Emby reads X-Emby-Token, and the device from
        X-Emby-Authorization."""
        device = (
            f'Client="{CLIENT}", Device="{CLIENT}", DeviceId="{client_id}", Version="{VERSION}"'
        )
        if self.is_emby:
            headers = {"X-Emby-Authorization": f"Emby {device}"}
            if token:
                headers["X-Emby-Token"] = token
            return headers
        value = f"MediaBrowser {device}"
        if token:
            value += f', Token="{token}"'
        return {"Authorization": value}

    def items(self, user: str | None) -> Route:
        """The item query, with that user's state when a user is named."""
        if user is None:
            return "/Items", {}
        if self.is_emby:
            return f"/Users/{user}/Items", {}
        return "/Items", {"userId": user}

    def views(self, user: str) -> list[Route]:
        """The libraries a user sees, routes to try in order."""
        legacy = (f"/Users/{user}/Views", {})
        if self.is_emby:
            return [legacy]
        return [("/UserViews", {"userId": user}), legacy]

    def played(self, user: str, item_id: str, date_played: str | None) -> list[Route]:
        """Mark played (POST, with the date) or unplayed (DELETE, date None): routes to try
        in order, the next only when the one before answered 404."""
        legacy_query = {} if date_played is None else {self._date_param: date_played}
        legacy = (f"/Users/{user}/PlayedItems/{item_id}", legacy_query)
        if self.is_emby:
            return [legacy]
        query = {"userId": user}
        if date_played is not None:
            query["datePlayed"] = date_played
        return [(f"/UserPlayedItems/{item_id}", query), legacy]

    def user_data(self, user: str, item_id: str) -> list[Route]:
        """Write a user's data of an item (resume point), routes to try in order."""
        legacy = (f"/Users/{user}/Items/{item_id}/UserData", {})
        if self.is_emby:
            return [legacy]
        return [(f"/UserItems/{item_id}/UserData", {"userId": user}), legacy]

    @property
    def _date_param(self) -> str:
        return "DatePlayed" if self.is_emby else "datePlayed"
