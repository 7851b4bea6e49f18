"""Write endpoints: playback reports, played/unplayed marks, user-data writes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.fakeplex.transport import Response

from .base import Ctx, JError, json_response, no_content, normalise_guid
from .library import JItem
from .userdata import parse_date

if TYPE_CHECKING:
    from .server import FakeJellyfin

    _Base = FakeJellyfin
else:
    _Base = object


def _int(v: Any, name: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise JError(400, f"{name} must be an integer")
    try:
        return int(v)
    except ValueError as exc:
        raise JError(400, f"{name} must be an integer") from exc


def _bool(v: Any, name: str) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    raise JError(400, f"{name} must be true or false")


def _date(v: Any, name: str) -> float | None:
    if v is None or v == "":
        return None
    try:
        return parse_date(str(v))
    except ValueError as exc:
        raise JError(400, f"The value '{v}' is not valid for {name}.") from exc


# Jellyfin's UserDataSaveReason for the save each playback report makes.
_SAVE_REASONS = {
    "playing": "PlaybackStart",
    "progress": "PlaybackProgress",
    "stopped": "PlaybackFinished",
}


class WritesMixin(_Base):
    # ------------------------------------------------------------------ playback reports
    def _report(self, ctx: Ctx, phase: str) -> Response:
        body = ctx.body()
        raw_item = body.get("itemid")
        position = _int(body.get("positionticks"), "PositionTicks")
        paused = bool(_bool(body.get("ispaused"), "IsPaused"))
        item_id: str | None = None
        if raw_item not in (None, ""):
            item_id = str(raw_item)
            if self.dialect == "jellyfin":
                # The body binds ItemId as a GUID: anything else fails model binding.
                item_id = normalise_guid(item_id)
                if item_id is None:
                    raise JError(400, f"invalid ItemId {raw_item!r}")
        session = self._touch_session(ctx.me)
        uid = ctx.me.user_id
        was_paused = session.is_paused
        # The stop clears the session's PlaySessionId; Emby's playback.stop still reports it.
        play_session_id = body.get("playsessionid") or session.play_session_id
        with self._lock:
            if phase == "stopped":
                session.item_id = None
                session.position_ticks = None
                session.is_paused = False
                session.play_session_id = None
            else:
                session.item_id = item_id
                session.position_ticks = position
                session.is_paused = paused
                session.play_session_id = body.get("playsessionid")
            item = self.library.items.get(item_id or "")
            # An unknown item or the API key (nobody) still gets 204; no user data changes.
            if item is None or uid is None or not item.is_leaf or not self.visible(uid, item):
                return no_content()
            data = self.mutable_data(uid, item.id)
            completed = False
            saved = True
            if phase == "playing":
                self._data.on_start(data, self.dialect)
            elif phase == "progress":
                saved = position is not None
                if saved:
                    self._data.update_play_state(data, item, position)
            else:
                completed = self._data.on_stop(data, item, position)
        # Webhooks go out after the lock: the senders read the state they report.
        self._hook_playback(
            phase,
            session,
            uid,
            item,
            position=position,
            paused=paused,
            was_paused=was_paused,
            completed=completed,
            play_session_id=play_session_id,
        )
        if saved:
            self._hook_user_data(_SAVE_REASONS[phase], session, uid, item)
        return no_content()

    def playing(self, ctx: Ctx) -> Response:
        return self._report(ctx, "playing")

    def progress(self, ctx: Ctx) -> Response:
        return self._report(ctx, "progress")

    def stopped(self, ctx: Ctx) -> Response:
        return self._report(ctx, "stopped")

    def playing_ping(self, ctx: Ctx) -> Response:
        self._touch_session(ctx.me)
        return no_content()

    # ------------------------------------------------------------------ played marks
    def _mark(self, ctx: Ctx, uid: str, raw_item: str, played: bool) -> Response:
        item = self.find_item(raw_item, uid)
        when = _date(ctx.q("datePlayed"), "datePlayed") if played else None
        with self._lock:
            for leaf in item.leaves:
                data = self.mutable_data(uid, leaf.id)
                if played:
                    self._data.mark_played(data, when)
                else:
                    self._data.mark_unplayed(data)
        # One webhook per episode when a series or season is marked, as both servers do.
        session = self._touch_session(ctx.me)
        for leaf in item.leaves:
            self._hook_user_data("TogglePlayed", session, uid, leaf)
        return json_response(self.user_data_dto(uid, item))

    def mark_played(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.q("userId"))
        return self._mark(ctx, uid, ctx.groups[0], True)

    def mark_unplayed(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.q("userId"))
        return self._mark(ctx, uid, ctx.groups[0], False)

    def legacy_mark_played(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.groups[0])
        return self._mark(ctx, uid, ctx.groups[1], True)

    def legacy_mark_unplayed(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.groups[0])
        return self._mark(ctx, uid, ctx.groups[1], False)

    # ------------------------------------------------------------------ user data
    def _write_user_data(self, ctx: Ctx, uid: str, item: JItem) -> None:
        body = ctx.body()
        position = _int(body.get("playbackpositionticks"), "PlaybackPositionTicks")
        count = _int(body.get("playcount"), "PlayCount")
        played = _bool(body.get("played"), "Played")
        favorite = _bool(body.get("isfavorite"), "IsFavorite")
        last = _date(body.get("lastplayeddate"), "LastPlayedDate")
        with self._lock:
            data = self.mutable_data(uid, item.id)
            was_played = data.played
            # Only the members sent are changed, as both servers do.
            if position is not None:
                data.position_ticks = position
            if count is not None:
                data.play_count = count
            if played is not None:
                data.played = played
            if favorite is not None:
                data.is_favorite = favorite
            if last is not None:
                data.last_played = last
            flipped = data.played != was_played
        if self.dialect == "jellyfin" or flipped:
            self._hook_user_data("UpdateUserData", self._touch_session(ctx.me), uid, item)

    def get_user_data(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.q("userId"))
        return json_response(self.user_data_dto(uid, self.find_item(ctx.groups[0], uid)))

    def post_user_data(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.q("userId"))
        item = self.find_item(ctx.groups[0], uid)
        self._write_user_data(ctx, uid, item)
        return json_response(self.user_data_dto(uid, item))

    def legacy_get_user_data(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.groups[0])
        return json_response(self.user_data_dto(uid, self.find_item(ctx.groups[1], uid)))

    def legacy_post_user_data(self, ctx: Ctx) -> Response:
        uid = self.required_user(ctx, ctx.groups[0])
        item = self.find_item(ctx.groups[1], uid)
        self._write_user_data(ctx, uid, item)
        if self.dialect == "emby":
            return no_content()  # Emby's spec declares no response body for this one
        return json_response(self.user_data_dto(uid, item))
