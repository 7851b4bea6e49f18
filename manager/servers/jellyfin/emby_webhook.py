"""Emby's own webhooks (Emby Premiere, server 4.7 and later) as `PlaybackEvent`s. Pure,
table-tested.

Facts from Emby's public documentation and forum threads on webhooks: Emby 4.8 POSTs
`multipart/form-data` with the JSON in a `data` field; 4.9 can send `application/json`
(the "Request content type" setting); both are accepted. The JSON names the event
(`Event`), the item (`Item.Id`, numeric on Emby; `Item.RunTimeTicks`), the user
(`User.Id`), the server (`Server.Id`), the player (`Session.Client`,
`Session.DeviceName`, `Session.DeviceId`) and, for playback, `PlaybackInfo`
(`PositionTicks`, `PlayedToCompletion`).

`item.markplayed` → scrobble, `item.markunplayed` → unscrobble; `playback.start` and
`playback.unpause` → timeline playing, `playback.pause` → paused, `playback.stop` →
stopped (played when Emby says it was played to completion). Anything else (library,
user, system events, the settings page's test) is ignored. An event of our own session
(`Session.Client` "Plex Cluster", dialect.CLIENT) is our replayed write: dropped.
"""

from __future__ import annotations

from manager.event import WEBHOOK_PROXY_NAME, EventError, PlaybackEvent
from manager.servers.jellyfin.dialect import CLIENT
from manager.servers.jellyfin.parse import canonical_id
from manager.servers.webhooks import (
    Ignored,
    WebhookBody,
    WebhookError,
    WebhookSource,
    flag,
    json_object,
    ms_of_ticks,
    number,
    section,
    text,
)

DATA_FIELD = "data"
# event → (kind, timeline state)
EVENTS: dict[str, tuple[str, str | None]] = {
    "item.markplayed": ("scrobble", None),
    "item.markunplayed": ("unscrobble", None),
    "playback.start": ("timeline", "playing"),
    "playback.unpause": ("timeline", "playing"),
    "playback.pause": ("timeline", "paused"),
    "playback.stop": ("timeline", "stopped"),
}


def parse(body: WebhookBody, source: WebhookSource, now: float) -> list[PlaybackEvent] | Ignored:
    """The events an Emby webhook stands for; WebhookError naming what is wrong."""
    if body.form is not None:
        raw: str | bytes | None = body.form.get(DATA_FIELD)
        if raw is None:
            raise WebhookError(f"no {DATA_FIELD!r} field in the multipart body")
    else:
        raw = body.raw
    data = json_object(raw, DATA_FIELD if body.form is not None else "body")
    name = text(data, "Event", required=True)
    assert name is not None
    if name not in EVENTS:
        return Ignored(name)
    session = section(data, "Session")
    if text(session, "Client") == CLIENT:
        return Ignored(f"{name}: our own replay")
    kind, state = EVENTS[name]
    item = section(data, "Item")
    playback = section(data, "PlaybackInfo")
    position = ms_of_ticks(number(playback, "PositionTicks")) if state else None
    if name == "playback.stop" and flag(playback, "PlayedToCompletion"):
        kind, state, position = "scrobble", None, None
    try:
        event = PlaybackEvent(
            kind=kind,
            rating_key=canonical_id(text(item, "Id", required=True, where="Item")),
            token=None,
            upstream_url=source.url,
            state=state,
            time_ms=position,
            duration_ms=ms_of_ticks(number(item, "RunTimeTicks")) or None,
            client_id=text(session, "DeviceId"),
            product=text(session, "Client"),
            device=text(session, "DeviceName"),
            machine_identifier=source.server_id,
            proxy_name=WEBHOOK_PROXY_NAME,
            account_id=canonical_id(text(section(data, "User"), "Id", required=True, where="User")),
            seen_at=now,
        ).validated()
    except EventError as exc:
        raise WebhookError(f"{name}: {exc}") from None
    return [event]
