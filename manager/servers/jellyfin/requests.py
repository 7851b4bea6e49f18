"""Recognise a Jellyfin or Emby client's playback-state request and build its event.

Shared by the proxy addon (and any other reader of such requests), pure functions over
plain values. The mapping is the design's contract (docs/proxy.md, "Jellyfin and Emby"):

- `POST /Sessions/Playing` (and the query form `POST /PlayingItems/{id}`) → timeline
  playing; `…/Progress` → timeline playing or paused (`IsPaused`); `…/Stopped` (and
  `DELETE /PlayingItems/{id}`) → timeline stopped; positions in ticks (10 000 = 1 ms).
- `POST`/`DELETE /UserPlayedItems/{id}` and `/Users/{uid}/PlayedItems/{id}` → scrobble /
  unscrobble.
- `POST /UserItems/{id}/UserData` and `/Users/{uid}/Items/{id}/UserData`: `Played` true →
  scrobble; a resume point → progress; `Played` false without one → unscrobble.

Routes and JSON keys are case-insensitive on both servers; Emby serves everything under
`/emby/` too (and old clients use `/mediabrowser/`). As for Plex, a request that says two
different things (two credentials, the item in the path and another in the body, a key
twice with different values, a position that is not a whole non-negative number) is
`Invalid`: it passes to the server untouched and nothing is reported. Never a guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from manager.event import MAX_MS, REPLAY_HEADER, EventError, PlaybackEvent
from manager.servers.jellyfin.request_auth import client_fields
from manager.servers.request_values import Invalid as Invalid
from manager.servers.request_values import Skip as Skip
from manager.servers.request_values import Values, pairs

TICKS_PER_MS = 10_000
MAX_TICKS = MAX_MS * TICKS_PER_MS
# Bodies the proxy reads at most: playback reports carry the play queue, a few KiB.
MAX_BODY = 256 * 1024
# What the first bytes of a path must start with (lower-cased) to be worth a closer look.
PATH_PREFIXES = (
    "/sessions/playing",
    "/userplayeditems/",
    "/useritems/",
    "/users/",
    "/playingitems/",
    "/emby/",
    "/mediabrowser/",
)
_BASES = ("emby", "mediabrowser")
_GUID = re.compile(r"[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EMBY_ID = re.compile(r"[0-9]{1,19}")
_EMPTY_GUID = "0" * 32
# Whole ticks, as a JSON number or (both servers read numbers from strings) a string.
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class Route:
    """What a path and method ask for, before the body and headers are read.

    action: "start", "progress" or "stopped" (playback reports), "played", "unplayed"
    or "userdata"; `body` says whether the values come from a JSON body (else the query).
    """

    action: str
    item_id: str | None = None
    account_id: str | None = None
    body: bool = False


def _segments(path: str) -> list[str] | None:
    bare = path.split("?", 1)[0]
    parts = bare.strip("/").split("/")
    if "%" in bare:  # the servers decode each segment; an encoded "/" stays inside one
        parts = [unquote(p) for p in parts]
    if parts and parts[0].lower() in _BASES:
        parts = parts[1:]
    return parts or None


def _routes(method: str, seg: list[str]) -> Route | None:
    low = [s.lower() for s in seg]
    n = len(low)
    uid = seg[1] if n > 2 and low[0] == "users" else None
    if uid is not None:  # the legacy forms name the user in the path: drop /Users/{uid}
        low, seg, n = low[2:], seg[2:], n - 2
    if method == "POST" and uid is None and low[:2] == ["sessions", "playing"]:
        if n == 2:
            return Route("start", body=True)
        if n == 3 and low[2] in ("progress", "stopped"):
            return Route(low[2], body=True)
        return None
    if n == 2 and low[0] == ("playeditems" if uid else "userplayeditems"):
        if method in ("POST", "DELETE"):
            return Route("played" if method == "POST" else "unplayed", seg[1], uid)
        return None
    if n == 3 and low[0] == ("items" if uid else "useritems") and low[2] == "userdata":
        return Route("userdata", seg[1], uid, body=True) if method == "POST" else None
    if low[:1] == ["playingitems"] and n in (2, 3):
        if n == 2 and method in ("POST", "DELETE"):
            return Route("start" if method == "POST" else "stopped", seg[1], uid)
        if n == 3 and low[2] == "progress" and method == "POST":
            return Route("progress", seg[1], uid)
    return None


def route(method: str, path: str) -> Route | None:
    """The playback route of a request, or None. `path` may carry the query. Cheap enough
    for every request that passed the prefix test."""
    seg = _segments(path)
    if seg is None:
        return None
    return _routes(method.upper(), seg)


def is_replay(headers: Values) -> bool:
    """The manager marks its own writes; reporting them again would ping-pong forever."""
    name = REPLAY_HEADER.lower()
    return any(k.lower() == name for k, _ in pairs(headers))


def _id(what: str, raw: Any) -> str:
    """A server id (item or user) in one spelling: Jellyfin GUIDs lower-case without
    dashes (the servers take either), Emby item ids as the digits they are."""
    if not isinstance(raw, str):
        raise Invalid(f"invalid {what}: not a string")
    low = raw.strip().lower()
    if _GUID.fullmatch(low):
        low = low.replace("-", "")
        if low == _EMPTY_GUID:
            raise Skip(f"empty {what}")
        return low
    if _EMBY_ID.fullmatch(low):
        return low
    raise Invalid(f"invalid {what}: neither a GUID nor a numeric id")


def _one(what: str, values: Iterable[Any]) -> Any:
    distinct: list[Any] = []
    for value in values:
        if not any(value == d and type(value) is type(d) for d in distinct):
            distinct.append(value)
    if len(distinct) > 1:
        raise Invalid(f"ambiguous: {what!r} given more than once with different values")
    return distinct[0] if distinct else None


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, so a repeated key is seen."""


def _body(raw: bytes | None) -> dict[str, list[Any]]:
    """The top-level keys of a JSON object, lower-cased, with every value each had: the
    servers read keys case-insensitively, so `ItemId` and `itemId` are the same key."""
    if not raw:
        return {}
    if len(raw) > MAX_BODY:
        raise Skip("body too large to read")
    try:
        value = json.loads(raw, object_pairs_hook=_Pairs)
    except RecursionError:
        raise Invalid("body unreadable: nested too deeply") from None
    except ValueError:  # also bytes that are not text
        raise Invalid("body unreadable: not JSON") from None
    if not isinstance(value, _Pairs):
        raise Invalid("body is not a JSON object")
    found: dict[str, list[Any]] = {}
    for key, item in value:
        found.setdefault(key.lower(), []).append(item)
    return found


def _ticks(what: str, raw: Any) -> int | None:
    """Ms from ticks given as a whole number (or its digits in a string)."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise Invalid(f"invalid {what!r}: a boolean")
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        raw = int(raw)
    if not isinstance(raw, int):
        raise Invalid(f"invalid {what!r}: not a whole non-negative number of ticks")
    if raw < 0 or raw > MAX_TICKS:
        raise Invalid(f"invalid {what!r}: out of range")
    return raw // TICKS_PER_MS


def _flag(what: str, raw: Any) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise Invalid(f"invalid {what!r}: not true or false")


class _Values:
    """One value per name from the body (JSON) or the query, ambiguity refused."""

    def __init__(self, body: dict[str, list[Any]], query: Values) -> None:
        self.body = body
        self.query: dict[str, list[str]] = {}
        for k, v in pairs(query):
            self.query.setdefault(k.lower(), []).append(v)

    def body_value(self, name: str) -> Any:
        return _one(name, self.body.get(name.lower(), ()))

    def query_value(self, name: str) -> str | None:
        return _one(name, self.query.get(name.lower(), ()))


def _state(action: str, paused: bool | None) -> str:
    if action == "stopped":
        return "stopped"
    return "paused" if action == "progress" and paused else "playing"


def parse(
    route: Route,
    headers: Values,
    query: Values,
    upstream_url: str,
    body: bytes | None = None,
) -> PlaybackEvent:
    """The event a playback request would make, or raise Skip saying why it is not
    reportable (Invalid when ambiguous or malformed). Never raises anything else.

    Used on the way in, before the server has answered: the proxy stamps the upstream
    status and the time when the answer comes back.
    """
    vals = _Values(_body(body) if route.body else {}, query)
    item = _id("item id", route.item_id) if route.item_id is not None else None
    if route.body:
        in_body = vals.body_value("ItemId")
        if in_body is not None and in_body != "":
            from_body = _id("item id", in_body)
            if item is not None and from_body != item:
                raise Invalid("ambiguous: the path and the body name different items")
            item = from_body
    if item is None:
        raise Skip("no item id")

    account = _id("user id", route.account_id) if route.account_id is not None else None
    in_query = vals.query_value("userId")
    if in_query:
        from_query = _id("user id", in_query)
        if account is not None and from_query != account:
            raise Invalid("ambiguous: the path and the query name different users")
        account = from_query

    kind, state, time_ms = _meaning(route, vals)
    fields = client_fields(headers, query)
    if not fields.token:
        raise Skip("no credential (the manager could not tell whose state this is)")
    event = PlaybackEvent(
        kind=kind,
        rating_key=item,
        token=fields.token,
        upstream_url=upstream_url,
        state=state,
        time_ms=time_ms,
        client_id=fields.device_id,
        product=fields.client,
        device=fields.device,
        account_id=account,
    )
    try:
        return event.validated()  # the manager's own schema: never spool what it refuses
    except EventError as exc:
        raise Invalid(f"invalid: {exc}") from None


def _meaning(route: Route, vals: _Values) -> tuple[str, str | None, int | None]:
    """(kind, state, time_ms) of the event, per the mapping in the module doc."""
    action = route.action
    if action in ("played", "unplayed"):
        return ("scrobble" if action == "played" else "unscrobble"), None, None
    if action == "userdata":
        played = _flag("Played", vals.body_value("Played"))
        time_ms = _ticks("PlaybackPositionTicks", vals.body_value("PlaybackPositionTicks"))
        if played:
            return "scrobble", None, None
        if time_ms:
            return "progress", "stopped", time_ms
        if played is False:
            return "unscrobble", None, None
        if time_ms == 0:  # the resume point cleared, played state untouched
            return "progress", "stopped", 0
        raise Skip("user data without played state or position (a favourite, a rating)")
    if route.body:
        time_ms = _ticks("PositionTicks", vals.body_value("PositionTicks"))
        paused = _flag("IsPaused", vals.body_value("IsPaused"))
    else:
        time_ms = _ticks("positionTicks", vals.query_value("positionTicks"))
        paused = _flag("isPaused", vals.query_value("isPaused"))
    return "timeline", _state(action, paused), time_ms
