"""Sessions: one per (device, user) that talks to the server, with what it is playing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakeplex.fixture import hex_id
from tests.fakeplex.transport import Response

from .auth import Caller
from .base import Ctx, json_response
from .render import item_dto
from .userdata import iso

if TYPE_CHECKING:
    from .server import FakeJellyfin

    _Base = FakeJellyfin
else:
    _Base = object

EMPTY_GUID = "0" * 32


@dataclass
class Session:
    id: str
    user_id: str | None  # None: a session of the API key, which is nobody
    client: str
    device: str
    device_id: str
    version: str
    last_activity: float
    item_id: str | None = None
    position_ticks: int | None = None
    is_paused: bool = False
    play_session_id: str | None = None


class SessionsMixin(_Base):
    def _init_sessions(self) -> None:
        self._sessions: dict[tuple[str, str | None], Session] = {}

    def _touch_session(self, caller: Caller) -> Session:
        """Both servers log activity for every authenticated request into the session of
        that device and user (created on first sight)."""
        info = caller.info
        key = (info.device_id, caller.user_id)
        with self._lock:
            s = self._sessions.get(key)
            if s is None:
                s = self._sessions[key] = Session(
                    id=hex_id(32, self.server_id, "session", info.device_id, caller.user_id),
                    user_id=caller.user_id,
                    client=info.client,
                    device=info.device,
                    device_id=info.device_id,
                    version=info.version,
                    last_activity=time.time(),
                )
            s.last_activity = time.time()
            return s

    def _session_dto(self, s: Session) -> dict[str, Any]:
        play_state: dict[str, Any] = {
            "CanSeek": s.item_id is not None,
            "IsPaused": s.is_paused,
            "IsMuted": False,
            "RepeatMode": "RepeatNone",
        }
        d: dict[str, Any] = {
            "PlayState": play_state,
            "Id": s.id,
            "Client": s.client,
            "LastActivityDate": iso(s.last_activity),
            "DeviceName": s.device,
            "DeviceId": s.device_id,
            "ApplicationVersion": s.version,
            "IsActive": True,
            "SupportsMediaControl": False,
            "SupportsRemoteControl": False,
            "ServerId": self.server_id,
        }
        if s.user_id is not None:
            d["UserId"] = s.user_id
            d["UserName"] = self.display_names[self._account_of_id[s.user_id]]
        elif self.dialect == "jellyfin":
            d["UserId"] = EMPTY_GUID  # Jellyfin renders "no user" as the empty GUID
        item = self.library.items.get(s.item_id or "")
        if item is not None:
            d["NowPlayingItem"] = item_dto(
                item, server_id=self.server_id, fields=frozenset(), user_data=None
            )
            if s.position_ticks is not None:
                play_state["PositionTicks"] = s.position_ticks
            play_state["PlayMethod"] = "DirectPlay"
            if s.play_session_id:
                d["PlaySessionId"] = s.play_session_id
        return d

    def sessions(self) -> list[dict[str, Any]]:
        """Test hook: every session as GET /Sessions renders it for an admin."""
        with self._lock:
            return [self._session_dto(s) for s in self._sessions.values()]

    def sessions_list(self, ctx: Ctx) -> Response:
        me = ctx.me
        device = ctx.q("DeviceId")
        with self._lock:
            rows = [
                self._session_dto(s)
                for s in self._sessions.values()
                if (me.is_admin or s.user_id == me.user_id)
                and (device is None or s.device_id == device)
            ]
        return json_response(rows)
