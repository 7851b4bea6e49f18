"""Webhooks of the emulated Jellyfin (the Webhook plugin's Generic destination) and Emby
(native webhooks). Shapes: tests/fakejelly/webhooks/*.json.

What fires them (anyone's change: a user's client or the API key writing for a user; never
the test hooks `set_state`/fixture state, so tests set up quietly):
- Jellyfin: PlaybackStart / PlaybackProgress / PlaybackStop per playback report of a session
  with a user (the API key's reports have none: the plugin sends nothing), and UserDataSaved
  whenever the server saves user data: SaveReason PlaybackStart, PlaybackProgress (progress
  with a position), PlaybackFinished (stop), TogglePlayed (mark played/unplayed, one per
  episode of a series or season), UpdateUserData (user-data writes).
- Emby: playback.start, playback.pause / playback.unpause (a progress report changing
  IsPaused), playback.stop, item.markplayed / item.markunplayed (one per episode); a
  user-data write that flips Played sends the mark event too (our choice: Emby's docs do not
  say).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fakeplex.webhook_send import WebhookSender, multipart
from tests.fakeplex.webhook_shape import fill, load_shape

from .handlebars import NetGuid, render
from .library import JItem
from .render import item_dto
from .sessions import Session
from .userdata import iso

if TYPE_CHECKING:
    from .server import FakeJellyfin

    _Base = FakeJellyfin
else:
    _Base = object

SHAPES = Path(__file__).parent / "webhooks"
REPO = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE = REPO / "config" / "jellyfin-webhook-template.json"
TEST_TEMPLATE = SHAPES / "jellyfin-template.handlebars"
TICKS_PER_SECOND = 10_000_000
JF_BODIES = ("template", "all")
EMBY_BODIES = ("multipart", "json")


def _hms(ticks: int) -> str:
    return str(timedelta(seconds=ticks // TICKS_PER_SECOND)).zfill(8)


def _net_json(value: Any) -> Any:
    """What 'Send All Properties' serialises (Jellyfin's JSON defaults: Guid as 32 hex)."""
    if isinstance(value, NetGuid):
        return value.replace("-", "").lower()
    if isinstance(value, datetime):
        return iso(value.timestamp())
    raise TypeError(type(value))


class HooksMixin(_Base):
    webhooks: WebhookSender

    def webhook_to(
        self,
        url: str | None,
        *,
        body: str | None = None,
        content_type: str | None = None,
        template: str | Path | None = None,
    ) -> None:
        """Send webhooks to url (None: off). Jellyfin: body "template" (default; the
        template file, default config/jellyfin-webhook-template.json, else the emulator's)
        or "all" (Send All Properties); content_type as the Content-Type header configured
        in the plugin (default text/plain, the plugin's). Emby: body "multipart" (4.8,
        default) or "json" (4.9's application/json)."""
        allowed = JF_BODIES if self.dialect == "jellyfin" else EMBY_BODIES
        body = body or allowed[0]
        if body not in allowed:
            raise ValueError(f"{self.dialect} webhook body must be one of {allowed}")
        tpl = None
        if self.dialect == "jellyfin" and body == "template":
            path = Path(template) if template else CONFIG_TEMPLATE
            tpl = (path if path.is_file() else TEST_TEMPLATE).read_text(encoding="utf-8")
        self.webhooks.configure(url, body=body, content_type=content_type, template=tpl)

    # ------------------------------------------------------------------ entry points
    def _hook_playback(
        self,
        phase: str,
        session: Session,
        uid: str,
        item: JItem,
        *,
        position: int | None,
        paused: bool,
        was_paused: bool,
        completed: bool,
        play_session_id: str | None = None,
    ) -> None:
        if not self.webhooks.enabled:
            return
        if self.dialect == "emby":
            event = {"playing": "playback.start", "stopped": "playback.stop"}.get(phase)
            if phase == "progress" and paused != was_paused:
                event = "playback.pause" if paused else "playback.unpause"
            if event:
                info = {
                    "position": position,
                    "completed": completed if phase == "stopped" else None,
                    "play_session_id": play_session_id,
                }
                self._emby(event, session, uid, item, playback=info)
            return
        kind = {"playing": "PlaybackStart", "progress": "PlaybackProgress"}.get(
            phase, "PlaybackStop"
        )
        shape = load_shape(SHAPES / "jellyfin.json")
        data = self._jf_item_data(kind, item)
        data.update(fill(shape["playback"], self._jf_playback_values(session, position, paused)))
        if phase == "stopped":
            data.update(fill(shape["stop"], {"PlayedToCompletion": completed}))
        data.update(fill(shape["session"], self._jf_session_values(session, uid)))
        self._jf_send(kind, data)

    def _hook_user_data(self, reason: str, session: Session | None, uid: str, item: JItem) -> None:
        """Jellyfin: UserDataSaved with that SaveReason. Emby: the mark events
        (reason TogglePlayed, or UpdateUserData when Played flipped)."""
        if not self.webhooks.enabled:
            return
        with self._lock:
            d = self._data.get(uid, item.id)
            played, count, pos, last, fav = (
                d.played,
                d.play_count,
                d.position_ticks,
                d.last_played,
                d.is_favorite,
            )
        if self.dialect == "emby":
            if reason in ("TogglePlayed", "UpdateUserData"):
                event = "item.markplayed" if played else "item.markunplayed"
                self._emby(event, session, uid, item, playback=None)
            return
        data = self._jf_item_data("UserDataSaved", item)
        values = {
            "Likes": False,
            "Rating": 0,
            "PlaybackPositionTicks": pos,
            "PlaybackPosition": _hms(pos),
            "PlayCount": count,
            "Favorite": fav,
            "Played": played,
            "AudioStreamIndex": -1,
            "SubtitleStreamIndex": -1,
            "LastPlayedDate": None if last is None else datetime.fromtimestamp(last, UTC),
            "SaveReason": reason,
            "NotificationUsername": self._username(uid),
            "UserId": NetGuid(uid),
        }
        data.update(fill(load_shape(SHAPES / "jellyfin.json")["userdata"], values))
        self._jf_send("UserDataSaved", data)

    # ------------------------------------------------------------------ Jellyfin
    def _username(self, uid: str) -> str:
        return self.display_names[self._account_of_id[uid]]

    def _jf_item_data(self, kind: str, item: JItem) -> dict[str, Any]:
        shape = load_shape(SHAPES / "jellyfin.json")
        now = datetime.now(UTC)
        ticks = item.runtime_ticks or 0
        base = {
            "ServerId": NetGuid(self.server_id),
            "ServerName": self.friendly_name,
            "ServerVersion": self.version,
            "ServerUrl": self.url,
            "NotificationType": kind,
        }
        data = fill(shape["base"], base)
        year = item.series.year if item.series is not None else item.year
        vals = {
            "Timestamp": now,
            "UtcTimestamp": now,
            "Name": item.name,
            "Overview": "",
            "Tagline": "",
            "ItemId": NetGuid(item.id),
            "ItemType": item.type,
            "RunTimeTicks": ticks,
            "RunTime": _hms(ticks),
            "Year": year,
        }
        data.update(fill(shape["item"], vals))
        if item.type == "Episode" and item.series is not None:
            s, e = item.parent_index or 0, item.index or 0
            ep = {
                "SeriesName": item.series.name,
                "SeriesId": NetGuid(item.series.id),
                "SeasonId": NetGuid(item.season.id) if item.season is not None else None,
                "SeasonNumber": s,
                "SeasonNumber00": f"{s:02d}",
                "SeasonNumber000": f"{s:03d}",
                "EpisodeNumber": e,
                "EpisodeNumber00": f"{e:02d}",
                "EpisodeNumber000": f"{e:03d}",
            }
            data.update(fill(shape["episode"], ep))
        for key, val in item.provider_ids.items():
            data[f"Provider_{key.lower()}"] = val
        return data

    def _jf_playback_values(self, s: Session, position: int | None, paused: bool) -> dict[str, Any]:
        pos = position or 0
        return {
            "PlaybackPositionTicks": pos,
            "PlaybackPosition": _hms(pos),
            "MediaSourceId": None,
            "IsPaused": paused,
            "IsAutomated": False,
            "DeviceId": s.device_id,
            "DeviceName": s.device,
            "ClientName": s.client,
            "PlayMethod": "DirectPlay",
        }

    def _jf_session_values(self, s: Session, uid: str) -> dict[str, Any]:
        return {
            "SessionId": s.id,
            "UserId": NetGuid(uid),
            "NotificationUsername": self._username(uid),
            "Client": s.client,
            "LastActivityDate": datetime.fromtimestamp(s.last_activity, UTC),
            "LastPlaybackCheckIn": datetime.fromtimestamp(s.last_activity, UTC),
            "DeviceName": s.device,
            "DeviceId": s.device_id,
        }

    def _jf_send(self, kind: str, data: dict[str, Any]) -> None:
        opts = self.webhooks.options
        if opts.get("body") == "all":
            text = json.dumps(data, default=_net_json)
        else:
            text = render(opts["template"], data)
        ctype = opts.get("content_type") or "text/plain"
        headers = {"Content-Type": f"{ctype}; charset=utf-8"}
        self.webhooks.submit(kind, text.encode("utf-8"), headers)

    # ------------------------------------------------------------------ Emby
    def _emby(
        self,
        event: str,
        session: Session | None,
        uid: str,
        item: JItem,
        *,
        playback: dict[str, Any] | None,
    ) -> None:
        shape = load_shape(SHAPES / "emby.json")
        name = self._username(uid)
        dto = item_dto(
            item, server_id=self.server_id, fields=frozenset({"providerids"}), user_data=None
        )
        sess = None
        if session is not None:
            sess = fill(
                shape["session"],
                {
                    "remote_end_point": "127.0.0.1",
                    "client": session.client,
                    "device_name": session.device,
                    "device_id": session.device_id,
                    "application_version": session.version,
                    "session_id": session.id,
                },
            )
        info = None
        if playback is not None:
            info = fill(
                shape["playback_info"],
                {
                    "position_ticks": playback["position"],
                    "play_session_id": playback.get("play_session_id"),
                    "played_to_completion": playback["completed"],
                    "media_source_id": None,
                },
            )
        device = session.device if session is not None else ""
        now = datetime.now(UTC)
        values = {
            "title": f"{name} {event.split('.')[1]} {item.name} on {device}".strip(),
            "description": now.strftime("%A, %d %B %Y %H:%M"),
            "date": iso(now.timestamp()),
            "event": event,
            "user_name": name,
            "user_id": uid,
            "item": dto,
            "server_name": self.friendly_name,
            "server_id": self.server_id,
            "server_version": self.version,
            "session": sess,
            "playback_info": info,
        }
        payload = json.dumps(fill(shape["payload"], values)).encode("utf-8")
        headers = {"User-Agent": f"Emby Server/{self.version}"}
        if self.webhooks.options.get("body") == "json":
            headers["Content-Type"] = "application/json"
            self.webhooks.submit(event, payload, headers)
            return
        body, ctype = multipart([("data", payload, "application/json", None)])
        headers["Content-Type"] = ctype
        self.webhooks.submit(event, body, headers)
