"""Plex's webhooks (a Plex Pass feature) as `PlaybackEvent`s. Pure, table-tested.

Facts from Plex's support article "Webhooks" (support.plex.tv, article 115002267687):
the server POSTs `multipart/form-data` whose `payload` part is the JSON, plus a small
JPEG `thumb` part on some events (the door drops file parts). The JSON names the event
(`event`), the account (`Account.id`, `Account.title`), the server (`Server.uuid`), the
player (`Player.uuid`, `Player.title`) and the item (`Metadata`: `ratingKey`, `type`,
`duration`, `viewOffset` where known).

Playback events only: `media.play`, `media.pause`, `media.resume`, `media.stop`,
`media.scrobble` (past 90 %). Plex sends no webhook when a user marks an item played or
unplayed by hand; the proxy, or the next sync, covers those. Everything else
(`library.new`, `media.rate`, `admin.database.backup`, `device.new`, …) is ignored.

`Account.id` is the server's own account id: 1 for its owner, the plex.tv id for anyone
else (`PlexUserDirectory.user_for_token(account_id=...)` maps it). A user's webhooks
"travel" with their account: the owner's URL also hears their playback on other
people's servers, so a payload whose `Server.uuid` is not the key's server is ignored.
"""

from __future__ import annotations

from manager.event import WEBHOOK_PROXY_NAME, EventError, PlaybackEvent
from manager.servers.webhooks import (
    Ignored,
    WebhookBody,
    WebhookError,
    WebhookSource,
    json_object,
    number,
    section,
    text,
)

PAYLOAD_FIELD = "payload"
# event → (kind, timeline state); a scrobble has no state.
EVENTS: dict[str, tuple[str, str | None]] = {
    "media.play": ("timeline", "playing"),
    "media.resume": ("timeline", "playing"),
    "media.pause": ("timeline", "paused"),
    "media.stop": ("timeline", "stopped"),
    "media.scrobble": ("scrobble", None),
}


def parse(body: WebhookBody, source: WebhookSource, now: float) -> list[PlaybackEvent] | Ignored:
    """The events a Plex webhook stands for; WebhookError naming what is wrong."""
    if body.form is not None:
        raw: str | bytes | None = body.form.get(PAYLOAD_FIELD)
        if raw is None:
            raise WebhookError(f"no {PAYLOAD_FIELD!r} part in the multipart body")
    else:
        raw = body.raw  # some relays forward the JSON alone
    data = json_object(raw, PAYLOAD_FIELD)
    event = text(data, "event", required=True)
    assert event is not None
    if event not in EVENTS:
        return Ignored(event)
    server_uuid = text(section(data, "Server"), "uuid")
    if source.server_id and server_uuid and server_uuid != source.server_id:
        return Ignored(f"{event} from another server ({server_uuid}), not {source.name}")
    account = text(section(data, "Account"), "id", required=True, where="Account")
    meta = section(data, "Metadata")
    rating_key = text(meta, "ratingKey", required=True, where="Metadata")
    player = section(data, "Player")
    kind, state = EVENTS[event]
    try:
        found = PlaybackEvent(
            kind=kind,
            rating_key=str(rating_key),
            token=None,
            upstream_url=source.url,
            key=text(meta, "key"),
            state=state,
            time_ms=number(meta, "viewOffset") if state else None,
            duration_ms=number(meta, "duration"),
            client_id=text(player, "uuid"),
            device=text(player, "title"),
            machine_identifier=source.server_id,
            proxy_name=WEBHOOK_PROXY_NAME,
            account_id=account,
            seen_at=now,
        ).validated()
    except EventError as exc:
        raise WebhookError(f"{event}: {exc}") from None
    return [found]
