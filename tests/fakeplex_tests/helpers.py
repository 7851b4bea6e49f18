"""Small helpers for the emulator's own tests."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter


class PlexTVRedirect(HTTPAdapter):
    """Sends plexapi's hard-coded https://plex.tv/... calls to the emulated plex.tv.

    A transport adapter on the requests session: plexapi itself runs unchanged."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        for prefix in ("https://plex.tv", "https://clients.plex.tv"):
            if url.startswith(prefix):
                request.url = self._base + url[len(prefix) :]
                break
        return super().send(request, *args, **kwargs)


def plextv_session(base_url: str) -> requests.Session:
    s = requests.Session()
    adapter = PlexTVRedirect(base_url)
    s.mount("https://plex.tv", adapter)
    s.mount("https://clients.plex.tv", adapter)
    return s


def movies_fixture(n: int) -> dict[str, Any]:
    """One server, one owner, one friend, n movies: for paging tests."""
    return {
        "name": "many",
        "accounts": {"owner": {"id": 1}, "friend": {"id": 2}},
        "movies": {f"m{i:04d}": {"title": f"Film {i:04d}", "year": 2000} for i in range(n)},
        "servers": {
            "solo": {
                "owner": "owner",
                "users": ["friend"],
                "sections": [
                    {
                        "id": 1,
                        "title": "Movies",
                        "type": "movie",
                        "items": [f"m{i:04d}" for i in range(n)],
                    },
                ],
            }
        },
    }
