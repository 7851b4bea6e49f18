"""Jellyfin's Webhook plugin (jellyfin/jellyfin-plugin-webhook, "Generic" destination) as
`PlaybackEvent`s. Pure, table-tested.

The plugin has no default body for a generic destination: it renders the Handlebars
template the user pastes, `config/jellyfin-webhook-template.json`, which produces the
flat JSON read here. It sends `text/plain` unless the user adds a Content-Type header,
so the body is read as JSON whatever the header says. Variable names are the plugin's
(its DataObjectHelpers): `NotificationType`, `ItemId`, `UserId`, `PlaybackPositionTicks`,
`IsPaused`, `Played`, `SaveReason`, `ClientName`, `DeviceName`, `DeviceId`,
`RunTimeTicks`, `ServerId`, `NotificationUsername`, `UtcTimestamp`. Keys are read
case-insensitively, as the plugin itself treats them.

- `PlaybackStart` → timeline playing; `PlaybackProgress` → playing or paused (`IsPaused`);
  `PlaybackStop` → stopped, at `PlaybackPositionTicks`.
- `UserDataSaved`: `Played` true → scrobble; false with a position → a resume point;
  false without → unscrobble. Saves made by playback itself (`SaveReason`
  PlaybackStart/PlaybackProgress) are the playback events' business, a rating's nobody's.
- A playback event from our own client (`ClientName`/`DeviceName` "Plex Cluster", what
  the manager calls itself: dialect.CLIENT) is our replayed write: dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    text,
)

PLAYBACK = {"playbackstart", "playbackprogress", "playbackstop"}
# Saves that are not a user's change of played state or resume point.
SKIPPED_SAVES = {"playbackstart", "playbackprogress", "updateuserrating"}


class _AnyCase(dict[str, Any]):
    """The payload's keys, looked up case-insensitively (by their names in the plugin)."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def parse(body: WebhookBody, source: WebhookSource, now: float) -> list[PlaybackEvent] | Ignored:
    """The events a Jellyfin plugin webhook stands for; WebhookError naming what is wrong."""
    raw = json_object(body.raw, "body")
    data: Mapping[str, Any] = _AnyCase((str(k).lower(), v) for k, v in raw.items())
    notification = text(data, "NotificationType", required=True)
    assert notification is not None
    what = notification.lower()
    client = text(data, "ClientName") or text(data, "DeviceName")
    if what in PLAYBACK and client == CLIENT:
        return Ignored(f"{notification}: our own replay")
    if what == "userdatasaved":
        reason = text(data, "SaveReason") or ""
        if reason.lower() in SKIPPED_SAVES:
            return Ignored(f"{notification} ({reason})")
        position = ms_of_ticks(number(data, "PlaybackPositionTicks"))
        if flag(data, "Played"):
            kind, state, position = "scrobble", None, None
        elif position:
            kind, state = "progress", "stopped"
        else:
            kind, state, position = "unscrobble", None, None
    elif what in PLAYBACK:
        position = ms_of_ticks(number(data, "PlaybackPositionTicks"))
        kind = "timeline"
        if what == "playbackstop":
            state = "stopped"
        elif what == "playbackprogress" and flag(data, "IsPaused"):
            state = "paused"
        else:
            state = "playing"
    else:
        return Ignored(notification)
    item = canonical_id(text(data, "ItemId", required=True))
    user = canonical_id(text(data, "UserId", required=True))
    try:
        event = PlaybackEvent(
            kind=kind,
            rating_key=item,
            token=None,
            upstream_url=source.url,
            state=state,
            time_ms=position,
            duration_ms=ms_of_ticks(number(data, "RunTimeTicks")) or None,
            client_id=text(data, "DeviceId"),
            product=client,
            device=text(data, "DeviceName"),
            machine_identifier=source.server_id,
            proxy_name=WEBHOOK_PROXY_NAME,
            account_id=user,
            seen_at=now,
        ).validated()
    except EventError as exc:
        raise WebhookError(f"{notification}: {exc}") from None
    return [event]
