"""Plex Pass webhooks of the emulated PMS (shape: tests/fakeplex/webhooks/plex.json).

What fires them, as the Plex support article describes: playback only — media.play when a
client's session starts, media.pause / media.resume when it changes state, media.stop when it
stops, media.scrobble when it passes the played threshold (90 %). Marking played or unplayed
by hand (/:/scrobble, /:/unscrobble) and /:/progress fire nothing, as on a real PMS. Test
set-up (`set_state`, fixture state) fires nothing either.
"""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

from .fixture import AccountSpec
from .items import Item
from .pms_base import ServerBase
from .render import item_json
from .webhook_send import WebhookSender, multipart
from .webhook_shape import fill, load_shape

SHAPE = Path(__file__).parent / "webhooks" / "plex.json"
PLEX_TV_AVATAR = "https://plex.tv/users/{uuid}/avatar"


@cache
def thumb_jpeg() -> bytes:
    """A valid 8x8 mid-grey baseline JPEG, built here so no binary file is needed: one DC
    code (difference 0) and one AC code (end of block), each one bit long."""

    def seg(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    dqt = seg(0xFFDB, b"\x00" + b"\x01" * 64)
    sof = seg(0xFFC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01" + b"\x01\x11\x00")
    counts_one = b"\x01" + b"\x00" * 15  # one code of length 1
    dht = seg(0xFFC4, b"\x00" + counts_one + b"\x00" + b"\x10" + counts_one + b"\x00")
    sos = seg(0xFFDA, b"\x01" + b"\x01\x00" + b"\x00\x3f\x00")
    # bits: DC category 0 -> "0", AC end of block -> "0", padded with ones.
    return b"\xff\xd8" + dqt + sof + dht + sos + b"\x3f" + b"\xff\xd9"


class WebhooksMixin(ServerBase):
    webhooks: WebhookSender

    def webhook_to(self, url: str | None) -> None:
        """POST Plex webhooks to url from now on (None: off). A PMS sends the webhooks of
        its owner's account; events of every user of the server go there."""
        self.webhooks.configure(url)

    def _hook(
        self,
        event: str,
        acct: AccountSpec,
        item: Item,
        *,
        position: int | None,
        client_id: str,
        player_title: str,
    ) -> None:
        """Queue one webhook; callers hold no lock (the payload reads the state itself)."""
        if not self.webhooks.enabled:
            return
        with self._lock:
            dyn = self._state.dyn_attrs(acct.id, item)
        meta = item_json(item, dyn, True)
        meta["librarySectionType"] = item.section.type
        if position is not None:
            meta["viewOffset"] = position
        values: dict[str, Any] = {
            "event": event,
            # The webhook is the owner's: "user" says the event is the owner's own.
            "user": acct.name == self.owner.name,
            "owner": True,
            "account_id": self._pms_account_id(acct),
            "account_thumb": PLEX_TV_AVATAR.format(uuid=acct.uuid),
            "account_title": acct.name,
            "server_title": self.friendly_name,
            "server_uuid": self.machine_identifier,
            "player_local": True,
            "player_public_address": "127.0.0.1",
            "player_title": player_title,
            "player_uuid": client_id,
            "metadata": meta,
        }
        payload = fill(load_shape(SHAPE)["payload"], values)
        parts: list[tuple[str, bytes, str, str | None]] = [
            ("payload", json.dumps(payload).encode(), "application/json", None)
        ]
        if event == "media.play":  # "An appropriate poster is attached."
            parts.append(("thumb", thumb_jpeg(), "image/jpeg", "image.jpg"))
        body, ctype = multipart(parts)
        headers = {"Content-Type": ctype, "User-Agent": f"PlexMediaServer/{self.version}"}
        self.webhooks.submit(event, body, headers)


def timeline_events(
    prev_state: str | None, state: str, *, new_session: bool, scrobbled_now: bool
) -> list[str]:
    """The webhook events one recorded timeline report causes, in the order PMS sends them.
    A stop PMS records is reported even without an earlier session (e.g. a sync's replay)."""
    events: list[str] = []
    if state == "stopped":
        if scrobbled_now:
            events.append("media.scrobble")
        events.append("media.stop")
        return events
    if new_session:
        events.append("media.play")
        if state == "paused":
            events.append("media.pause")
    elif state == "paused" and prev_state != "paused":
        events.append("media.pause")
    elif state != "paused" and prev_state == "paused":
        events.append("media.resume")
    if scrobbled_now:
        events.append("media.scrobble")
    return events
