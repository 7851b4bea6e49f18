"""The webhook door: a media server's own notifications as events, for servers without a
proxy in front of them.

- `POST /webhooks/plex`, `/webhooks/jellyfin`, `/webhooks/emby`, and WatchState's shape
  `POST /` (receiver.py sends the root path here when it carries a key, not a `token`).
- The key: `?apikey=KEY` (the name in any case) or an `X-Apikey` header. Each configured
  server has its own (config `webhook_key`, else derived: config.derived_webhook_key), so
  the key says which server sent the webhook. It is compared in constant time with every
  server's key. A wrong or missing key is 401 and nothing is read; a key of a server of
  another kind than the path names is 400.
- The body: at most WEBHOOK_MAX_BODY bytes; a `multipart/form-data` body is split into
  its text fields (a file part, such as Plex's thumbnail, is dropped) under limits on
  parts and part size; then the kind's parser (servers/kinds.webhook_parser) makes
  `PlaybackEvent`s of it, or says why it stands for none, or what is wrong (400).

Events get an id made from the server and the payload, so the same webhook posted twice
within DUPLICATE_WINDOW_S is one event in the inbox (its second copy a duplicate).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, replace

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from manager.app.credentials import matches
from manager.app.http import HttpError, read_body
from manager.config import ServerConfig
from manager.event import EventError, PlaybackEvent
from manager.logs import Throttle, get_logger
from manager.servers.kinds import webhook_parser
from manager.servers.webhooks import Ignored, WebhookBody, WebhookSource

log = get_logger("manager.receiver")

WEBHOOK_MAX_BODY = 1024 * 1024  # a Plex thumbnail is a few tens of KiB; the JSON less
MAX_TEXT_PART = 256 * 1024  # one text field (Plex's `payload`, Emby's `data`)
MAX_FORM_FILES = 4
MAX_FORM_FIELDS = 32
DUPLICATE_WINDOW_S = 600
KEY_HEADER = "x-apikey"
KEY_QUERY = "apikey"


@dataclass(frozen=True, slots=True)
class _Key:
    server: str
    kind: str
    url: str
    value: bytes


def given_key(request: Request) -> str | None:
    """The webhook key a request carries (query first, then header), or None."""
    for name, value in request.query_params.multi_items():
        if name.lower() == KEY_QUERY:
            return value
    return request.headers.get(KEY_HEADER)


class WebhookDoor:
    def __init__(
        self,
        servers: Sequence[ServerConfig],
        server_id: Callable[[str], str | None] = lambda _name: None,
    ) -> None:
        """`server_id`: a server's own id as known now (it may become known after start)."""
        self._keys = [
            _Key(s.name, s.kind, s.url, s.webhook_key.encode()) for s in servers if s.webhook_key
        ]
        self._server_id = server_id
        self._throttle = Throttle()  # anyone can send a wrong key on every request

    def _key_of(self, given: str | None) -> _Key | None:
        found = None
        for key in self._keys:  # every key, always: the time taken tells nothing
            if matches(key.value, given):
                found = key
        return found

    async def read(self, request: Request, kind: str | None) -> list[PlaybackEvent] | Ignored:
        """The events of a webhook (`kind` None: the root path, the key's server decides);
        HttpError for a wrong key (401), a mismatched kind or bad body (400), too big (413)."""
        key = self._key_of(given_key(request))
        if key is None:
            if (held := self._throttle("webhook_refused")) is not None:
                log.warning("webhook_refused", reason="bad key", path=request.url.path, held=held)
            raise HttpError(401, "missing or wrong webhook key")
        if kind is not None and kind != key.kind:
            raise HttpError(
                400,
                f"this key is server {key.server!r}'s, a {key.kind} server, not {kind}: "
                f"use /webhooks/{key.kind}",
            )
        raw = await read_body(request, WEBHOOK_MAX_BODY)
        headers = request.headers
        body = WebhookBody(raw, await _form(headers, raw) if _is_form(headers) else None)
        source = WebhookSource(key.server, key.kind, key.url, self._server_id(key.server))
        now = time.time()
        try:
            found = webhook_parser(key.kind)(body, source, now)
        except EventError as exc:
            error = str(exc)[:300]  # it may quote the server's payload: keep the line short
            log.warning("webhook_rejected", server=key.server, error=error)
            raise HttpError(400, error) from None
        if isinstance(found, Ignored):
            log.debug("webhook_ignored", server=key.server, reason=found.reason)
            return found
        stem = _digest(key.server, body, now)
        return [replace(event, id=f"wh-{stem}-{i}") for i, event in enumerate(found)]


def _is_form(headers: Headers) -> bool:
    return headers.get("content-type", "").lower().startswith("multipart/form-data")


async def _form(headers: Headers, raw: bytes) -> dict[str, str]:
    """The text fields of a multipart body (the last of a repeated name); files dropped."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield raw

    parser = MultiPartParser(
        headers,
        chunks(),
        max_files=MAX_FORM_FILES,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=MAX_TEXT_PART,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HttpError(400, f"bad multipart body: {exc.message}") from None
    except ValueError as exc:  # a text field that is not in its charset
        raise HttpError(400, f"bad multipart body: {exc}") from None
    try:
        return {name: value for name, value in form.multi_items() if isinstance(value, str)}
    finally:
        await form.close()


def _digest(server: str, body: WebhookBody, now: float) -> str:
    """The same payload from the same server within one window: the same id. A multipart
    body's boundary differs on every post, so its text fields are hashed, not its bytes."""
    h = hashlib.sha256(server.encode() + b"\0")
    if body.form is not None:
        for name, value in sorted(body.form.items()):
            h.update(name.encode() + b"\0" + value.encode("utf-8", "surrogateescape") + b"\0")
    else:
        h.update(body.raw)
    h.update(str(int(now // DUPLICATE_WINDOW_S)).encode())
    return h.hexdigest()[:32]
