"""Per-user data of one Jellyfin/Emby server and the rules the servers apply to playback.

The rules follow Jellyfin's UserDataManager.UpdatePlayState and SessionManager (public
source); Emby is the code base Jellyfin forked from and behaves the same except where the
dialect says otherwise (Emby leaves Played alone when playback starts).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .library import JItem

TICKS_PER_SECOND = 10_000_000
MIN_RESUME_PCT = 5.0  # server settings MinResumePct / MaxResumePct / MinResumeDurationSeconds
MAX_RESUME_PCT = 90.0
MIN_RESUME_DURATION_SECONDS = 300
_FRACTION = re.compile(r"(\d*)(.*)")


@dataclass(slots=True)
class UserData:
    played: bool = False
    play_count: int = 0
    position_ticks: int = 0
    last_played: float | None = None  # epoch seconds
    is_favorite: bool = False


def iso(ts: float | None) -> str | None:
    """The servers' DateTime form: UTC, seven fractional digits, Z."""
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond * 10:07d}Z"


def parse_date(raw: str) -> float:
    """ISO 8601 as clients send it ("2024-05-01T10:00:00.0000000Z", "+00:00", no zone = UTC)
    or Emby's DatePlayed form yyyyMMddHHmmss. ValueError when neither."""
    s = raw.strip()
    if len(s) == 14 and s.isdigit():
        return datetime.strptime(s, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    if "." in s:  # .NET writes 7 fractional digits; Python reads at most 6
        head, _, tail = s.partition(".")
        m = _FRACTION.match(tail)
        digits, rest = (m.group(1), m.group(2)) if m else ("", tail)
        s = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


class UserDataStore:
    """Not thread-safe on its own: the server holds its lock around every use."""

    def __init__(self) -> None:
        self._by_user: dict[str, dict[str, UserData]] = {}

    def get(self, user_id: str, item_id: str) -> UserData:
        return self._by_user.get(user_id, {}).get(item_id) or UserData()

    def mutable(self, user_id: str, item_id: str) -> UserData:
        user = self._by_user.setdefault(user_id, {})
        data = user.get(item_id)
        if data is None:
            data = user[item_id] = UserData()
        return data

    # ----------------------------------------------------------------- server rules
    def update_play_state(self, data: UserData, item: JItem, position: int | None) -> bool:
        """What the server does with a reported position; True when played to completion."""
        runtime = item.runtime_ticks or 0
        pos = runtime if position is None else position
        completed = False
        if pos > 0 and runtime > 0:
            pct = pos * 100.0 / runtime
            if pct < MIN_RESUME_PCT:
                pos = 0  # the beginning does not count as a resume point
            elif pct > MAX_RESUME_PCT or pos >= runtime - TICKS_PER_SECOND:
                pos = 0
                data.played = completed = True
            elif runtime / TICKS_PER_SECOND < MIN_RESUME_DURATION_SECONDS:
                pos = 0  # short items are never resumed: past 5 % they count as watched
                data.played = completed = True
        elif runtime <= 0:
            data.played = completed = True
            pos = 0
        data.position_ticks = pos
        return completed

    def on_start(self, data: UserData, dialect: str) -> None:
        data.play_count += 1
        data.last_played = time.time()
        if dialect == "jellyfin":
            data.played = False  # Jellyfin: a video being played again is unplayed until done

    def on_stop(self, data: UserData, item: JItem, position: int | None) -> bool:
        """Apply a stop; True when the item counts as played to completion."""
        if position is None:  # the client could not say: the server assumes a full play
            data.play_count += 1
            data.played = True
            data.position_ticks = 0
            return True
        return self.update_play_state(data, item, position)

    def mark_played(self, data: UserData, when: float | None) -> None:
        if when is not None:
            data.play_count += 1
        data.play_count = max(data.play_count, 1)
        data.position_ticks = 0
        data.last_played = when if when is not None else (data.last_played or time.time())
        data.played = True

    @staticmethod
    def mark_unplayed(data: UserData) -> None:
        data.play_count = 0
        data.position_ticks = 0
        data.last_played = None
        data.played = False

    # ----------------------------------------------------------------- rendering
    def dto(self, user_id: str, item: JItem, server_id: str, dialect: str) -> dict[str, Any]:
        """UserItemDataDto as the server renders it (null members left out, as both do)."""
        if item.is_leaf:
            d = self.get(user_id, item.id)
            out: dict[str, Any] = {
                "PlaybackPositionTicks": d.position_ticks,
                "PlayCount": d.play_count,
                "IsFavorite": d.is_favorite,
                "Played": d.played,
                "Key": item.user_data_key,
                "ItemId": item.id,
            }
            if d.last_played is not None:
                out["LastPlayedDate"] = iso(d.last_played)
            if d.position_ticks and item.runtime_ticks:
                out["PlayedPercentage"] = d.position_ticks * 100.0 / item.runtime_ticks
        else:
            leaves = item.leaves
            states = [self.get(user_id, leaf.id) for leaf in leaves]
            played = sum(1 for s in states if s.played)
            lasts = [s.last_played for s in states if s.last_played is not None]
            own = self.get(user_id, item.id)
            out = {
                "UnplayedItemCount": len(leaves) - played,
                "PlaybackPositionTicks": 0,
                "PlayCount": own.play_count,
                "IsFavorite": own.is_favorite,
                "Played": bool(leaves) and played == len(leaves),
                "Key": item.user_data_key,
                "ItemId": item.id,
            }
            if played and leaves:
                out["PlayedPercentage"] = played * 100.0 / len(leaves)
            if lasts:
                out["LastPlayedDate"] = iso(max(lasts))
        if dialect == "emby":
            out["ServerId"] = server_id
        return out
