"""What a hostile Jellyfin or Emby client can send, as Hypothesis strategies: paths near the
playback routes, credentials in every place the servers read them, JSON bodies with
hostile keys and values (the Plex ones are in strategies.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.strategies import any_text, ascii_text, hostile_numbers, json_values

ITEMS = ["a1b2c3d4e5f60718293a4b5c6d7e8f90", "A1B2C3D4-E5F6-0718-293A-4B5C6D7E8F90", "240270"]
USERS = ["6b1f4e2a9c3d4f5e8a7b6c5d4e3f2a1b", "00000000000000000000000000000000"]
TOKENS = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210", "a,b", ""]
_ids = st.sampled_from(ITEMS + USERS) | ascii_text | any_text
_PATHS = [
    "/Sessions/Playing",
    "/Sessions/Playing/Progress",
    "/Sessions/Playing/Stopped",
    "/UserPlayedItems/{i}",
    "/Users/{u}/PlayedItems/{i}",
    "/UserItems/{i}/UserData",
    "/Users/{u}/Items/{i}/UserData",
    "/PlayingItems/{i}",
    "/PlayingItems/{i}/Progress",
    "/Users/{u}/PlayingItems/{i}/Progress",
]
_BODY_KEYS = ["ItemId", "PositionTicks", "IsPaused", "Played", "PlaybackPositionTicks"]
_QUERY_KEYS = ["userId", "api_key", "ApiKey", "positionTicks", "isPaused", "PlaySessionId"]
_HEADER_KEYS = [
    "Authorization",
    "X-Emby-Authorization",
    "X-Emby-Token",
    "X-MediaBrowser-Token",
    "X-Emby-Client",
    "X-Emby-Device-Id",
    "X-Plex-Cluster-Replay",
]


def _cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name.swapcase()])


@st.composite
def paths(draw: st.DrawFn) -> str:
    """A playback route (any case, maybe under /emby/) with hostile ids, or any path."""
    if not draw(st.integers(0, 4)):
        return "/" + draw(ascii_text)
    template = draw(_cased(draw(st.sampled_from(_PATHS))))
    for slot in ("{i}", "{u}"):
        hole = re.compile(re.escape(slot), re.IGNORECASE)
        template = hole.sub(lambda _: draw(_ids).replace("/", "%2F") or "x", template)
    path = template
    prefix = draw(st.sampled_from(["", "", "/emby", "/EMBY", "/mediabrowser"]))
    return prefix + path + draw(st.sampled_from(["", "/", "?", "?a=1"]))


def _auth_header(token: str, extra: str) -> str:
    scheme = "MediaBrowser" if extra != "emby" else "Emby"
    return f'{scheme} Client="c", Device="d", DeviceId="{extra}", Token="{token}"'


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[str, str]]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(_cased(draw(st.sampled_from(_HEADER_KEYS))))
        token = draw(st.sampled_from(TOKENS) | any_text)
        if name.lower().endswith("authorization"):
            value = _auth_header(token, draw(st.sampled_from(["dev", "emby", '"x,y"']) | any_text))
        else:
            value = token
        out.append((name, value))
    return out


@st.composite
def queries(draw: st.DrawFn) -> list[tuple[str, str]]:
    keys = st.sampled_from(_QUERY_KEYS).flatmap(_cased) | ascii_text
    vals = st.sampled_from(TOKENS + USERS + ["1", "-1", "true", "1e9", "NaN"]) | any_text
    return draw(st.lists(st.tuples(keys, vals), max_size=4))


@st.composite
def bodies(draw: st.DrawFn) -> bytes | None:
    """None, bytes, or a JSON object of playback keys (any case, repeated) with hostile
    values, written as a client might (Infinity, NaN, lone surrogates)."""
    how = draw(st.sampled_from(["none", "bytes", "json", "json", "json"]))
    if how == "none":
        return None
    if how == "bytes":
        return draw(st.binary(max_size=60))
    values: st.SearchStrategy[Any] = (
        st.sampled_from([*ITEMS, True, False, "true", "0", "600000000"])
        | hostile_numbers
        | json_values
    )
    keys = st.sampled_from(_BODY_KEYS).flatmap(_cased) | any_text
    pairs = draw(st.lists(st.tuples(keys, values), max_size=6))
    text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v, allow_nan=True)}" for k, v in pairs)
    return (text + "}").encode("utf-8", "surrogatepass")
