"""The manager's HTTP API: its routes, their token checks, and the two event doors.

- `POST /api/v1/events`: one event object or a JSON list of at most MAX_EVENTS, `Authorization:
  Bearer <token>`. Answers 202 once the events are durably queued (processing is
  asynchronous): `{"accepted": n, "duplicates": n, "rejected": [{"index": i, "error": "…"}],
  "rejected_count": n}` (the first MAX_REJECTIONS_SHOWN rejections); 400 when nothing in the
  body is a valid event, 413 for more events than MAX_EVENTS, 401 without the right token.
- `POST /?token=<token>`: the original product's proxy payload (see legacy.py).
- `POST /webhooks/plex|jellyfin|emby?apikey=<key>` (or `X-Apikey: <key>`): a server's own
  webhook (webhooks.py); `POST /?apikey=<key>` too, WatchState's shape: the root path
  dispatches on the credential it carries, `token` (legacy) or a webhook key. Answers
  200 `{"accepted": n, "duplicates": n}` once stored, or `{"ignored": "<why>"}`.
- `GET /health`: liveness, no token needed.
- `GET /api/v1/status`: servers, users, queue depth, last sync (bearer token).

Client input never gets a 500: a malformed request (framing, JSON, an event field) is
answered 400 with what is wrong, or 413 when it is too big. Routing, answers and body
limits are http.py's; the wire is uvicorn's (listener.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request

from manager.app.credentials import matches
from manager.app.http import Answer, Door, build_app, read_body
from manager.app.listener import Listener
from manager.app.webhooks import WebhookDoor, given_key
from manager.event import EventError, PlaybackEvent, TooManyEvents, loads, read_batch
from manager.logs import Throttle, get_logger
from manager.servers.plex.legacy import from_legacy
from manager.servers.webhooks import Ignored

log = get_logger("manager.receiver")

# Proxies send one event per request; a list is for batches, not for floods. Parsing stops
# at the first item past the cap, so a huge list costs little memory.
MAX_EVENTS = 1000
MAX_REJECTIONS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    duplicates: int


Accept = Callable[[list[PlaybackEvent]], Awaitable[Accepted]]
Status = Callable[[], Awaitable[dict[str, Any]]]


class Receiver:
    def __init__(
        self, token: str, accept: Accept, status: Status, webhooks: WebhookDoor | None = None
    ) -> None:
        self._token = token.encode("utf-8")
        self._accept = accept
        self._status = status
        self._webhooks = webhooks
        self._throttle = Throttle()  # anyone can send a wrong token on every request
        self.app = build_app(
            [
                Door("/health", "GET", self._health),
                Door("/api/v1/status", "GET", self._status_route),
                Door("/api/v1/events", "POST", self._events),
                Door("/", "POST", self._root),
                *(
                    Door(f"/webhooks/{kind}", "POST", partial(self._webhook, kind=kind))
                    for kind in ("plex", "jellyfin", "emby")
                ),
            ]
        )
        self._listener = Listener(self.app)
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self.host, self.port = await self._listener.start(host, port)
        return self.host, self.port

    async def stop(self) -> None:
        await self._listener.stop()

    def authorized(self, request: Request) -> bool:
        """The bearer token check, for routes mounted beside these (metrics.py)."""
        return self._bearer_ok(request)

    def _bearer_ok(self, request: Request) -> bool:
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and matches(self._token, token.strip())

    async def _health(self, _request: Request) -> Answer:
        return 200, {"status": "ok"}

    async def _status_route(self, request: Request) -> Answer:
        if not self._bearer_ok(request):
            return 401, {"error": "missing or wrong bearer token"}
        return 200, await self._status()

    async def _events(self, request: Request) -> Answer:
        if not self._bearer_ok(request):
            if (held := self._throttle("events_refused")) is not None:
                log.warning("events_refused", reason="bad token", held=held)
            return 401, {"error": "missing or wrong bearer token"}
        try:
            items = read_batch(await read_body(request), MAX_EVENTS)
        except EventError as exc:
            status = 413 if isinstance(exc, TooManyEvents) else 400
            log.warning("events_rejected", error=str(exc))
            return status, {"error": str(exc)}
        events: list[PlaybackEvent] = []
        rejected: list[dict[str, Any]] = []
        count = 0
        for index, item in enumerate(items):
            try:
                events.append(PlaybackEvent.from_dict(item))
            except EventError as exc:
                count += 1
                if len(rejected) < MAX_REJECTIONS_SHOWN:
                    rejected.append({"index": index, "error": str(exc)})
        if not events:
            log.warning(
                "events_rejected",
                count=count,
                first=rejected[0]["error"] if rejected else "empty",
            )
            return 400, {
                "error": "no valid event in body",
                "rejected": rejected,
                "rejected_count": count,
            }
        result = await self._accept(events)
        if rejected:
            log.warning("events_rejected", count=count, first=rejected[0]["error"])
        return 202, {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": rejected,
            "rejected_count": count,
        }

    async def _root(self, request: Request) -> Answer:
        """The original's `?token=` door, or WatchState's `?apikey=` one: the credential
        given decides (a token wins: the original's proxies never send a key)."""
        if "token" not in request.query_params and given_key(request) is not None:
            return await self._webhook(request, kind=None)
        return await self._legacy(request)

    async def _webhook(self, request: Request, kind: str | None) -> Answer:
        if self._webhooks is None:
            return 404, {"error": "webhooks are not set up on this receiver"}
        found = await self._webhooks.read(request, kind)
        if isinstance(found, Ignored):
            return 200, {"ignored": found.reason}
        result = await self._accept(found)
        return 200, {"accepted": result.accepted, "duplicates": result.duplicates}

    async def _legacy(self, request: Request) -> Answer:
        if not matches(self._token, request.query_params.get("token")):
            if (held := self._throttle("legacy_refused")) is not None:
                log.warning("legacy_refused", reason="bad token", held=held)
            return 401, {"error": "missing or wrong token"}
        try:
            event = from_legacy(loads(await read_body(request)))
        except EventError as exc:
            error = str(exc)[:300]  # it may quote the client's input: keep the line short
            log.warning("legacy_rejected", error=error)
            return 400, {"error": error}
        if event is None:
            return 200, {"ignored": "replay"}
        result = await self._accept([event])
        return 200, {"accepted": result.accepted, "duplicates": result.duplicates}
