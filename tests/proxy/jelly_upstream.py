"""A small upstream answering like Jellyfin or Emby for the proxy tests.

Not an emulator (tests/fakejelly is): it records what it received and answers as the
servers do to the requests the proxy cares about, so the tests can see which of them the
addon reports. Everything else (media files with Range, the websocket) is MediaUpstream's.

GET  /System/Info/Public                       JSON naming the product (dialect)
POST /Sessions/Playing[/Progress|/Stopped]     204; 401 without the known token
POST /PlayingItems/{id}[/Progress], DELETE     204
POST|DELETE /UserPlayedItems/{id}, /Users/{u}/PlayedItems/{id}      200 user data JSON
POST /UserItems/{id}/UserData, /Users/{u}/Items/{id}/UserData       200 user data JSON
any of the above with item id "missing"        404
"""

from __future__ import annotations

import http.server
import json
import re
import ssl
from typing import Any

from tests.proxy.harness import MediaUpstream

TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
SERVER_ID = "5e1f0c0ffee0000000000000000000aa"
_PLAYBACK = re.compile(
    r"^/(?:emby/)?(?:sessions/playing(?:/progress|/stopped)?|(?:users/[^/]+/)?playingitems/.*)$",
    re.IGNORECASE,
)
_USERDATA = re.compile(
    r"^/(?:emby/)?(?:userplayeditems/|useritems/|users/[^/]+/(?:playeditems|items)/)",
    re.IGNORECASE,
)


class JellyUpstream(MediaUpstream):
    """`dialect`: "jellyfin" or "emby" (what /System/Info/Public says)."""

    def __init__(self, dialect: str = "jellyfin", tls: ssl.SSLContext | None = None) -> None:
        self.dialect = dialect
        self.info_asked = 0
        super().__init__(tls)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        outer = self
        media = super()._handler()

        class Handler(media):  # type: ignore[misc, valid-type]
            def _json(self, status: int, value: Any) -> None:
                body = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _empty(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _authorised(self) -> bool:
                text = " ".join(f"{k}: {v}" for k, v in self.headers.items()) + self.path
                return TOKEN in text

            def _state_request(self) -> bool:
                """Answer a playback or user-data request; False when it is neither."""
                path = self.path.split("?", 1)[0]
                playback = _PLAYBACK.match(path)
                userdata = _USERDATA.match(path)
                if not playback and not userdata:
                    return False
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.path, dict(self.headers)))
                if not self._authorised():
                    self._empty(401)
                elif "missing" in path.lower() or b'"missing"' in body:
                    self._empty(404)
                elif playback:
                    self._empty(204)
                else:
                    self._json(200, {"Played": self.command == "POST", "PlayCount": 1})
                return True

            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] == "/identity":  # Plex's, not theirs
                    return self._empty(404)
                if self.path.split("?", 1)[0].lower() == "/system/info/public":
                    outer.info_asked += 1
                    product = "Jellyfin Server" if outer.dialect == "jellyfin" else "Emby Server"
                    info = {"ProductName": product, "Id": SERVER_ID, "Version": "10.10.7"}
                    return self._json(200, info)
                super().do_GET()

            def do_POST(self) -> None:
                if not self._state_request():
                    super().do_POST()

            def do_DELETE(self) -> None:
                if not self._state_request():
                    self._empty(404)

        return Handler
