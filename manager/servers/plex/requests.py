"""Recognise a client's playback-state request and pull out what the manager needs.

Shared by the proxy addon and the manager's reader of the original product's payload, so
both apply the same rules. Pure functions over plain values, testable without a proxy.
Clients send every `X-Plex-*` value either as a header or in the query string (Plex Web
puts all of them in the query), and some POST `/:/timeline`, so each value is looked up in
headers, query and form.

The event must say what Plex acted on, and we cannot know which of two values Plex takes
when a request carries both (`key=1000&KEY=1e3`, two `X-Plex-Token` headers, a token in
the header and another in the query, `time=inf`). Such a request is `Invalid`: it passes
to Plex untouched, and nothing is reported. Never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote

from manager.event import (
    KINDS,
    LEGACY_REPLAY_QUERY,
    MAX_MS,
    RATING_KEY_PATTERN,
    REPLAY_HEADER,
    STATES,
    EventError,
    PlaybackEvent,
)
from manager.servers.request_values import Invalid, Skip, Values, pairs

LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
METADATA_PREFIX = "/library/metadata/"
_RATING_KEY = re.compile(RATING_KEY_PATTERN)
_PATH_KINDS = {f"/:/{kind}": kind for kind in KINDS}
# A position as clients send it: whole ms, sometimes with a fraction ("7200000.0"). Not
# float(): that also takes "inf", "nan", "1e3", "1_000" and " 5 ", which Plex does not.
_POSITION = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,6})?")


def playback_kind(path: str) -> str | None:
    """Kind for a request path (query allowed), or None. Called for every request: cheap."""
    if not path.startswith(("/:/", "/%3A/", "/%3a/")):
        return None
    bare = path.split("?", 1)[0]
    if "%" in bare:
        bare = unquote(bare)
    return _PATH_KINDS.get(bare.rstrip("/"))


def _by_name(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)  # names are case-insensitive
    return out


def _clip(value: str) -> str:
    """A client's value quoted in a reason: short, so a log line stays one short line."""
    return repr(value[:40] + ("…" if len(value) > 40 else ""))


class _Request:
    """Every value the request gives for a name: parameters (query and form) and headers."""

    def __init__(self, headers: Values, query: Values, form: Values | None) -> None:
        self.params = _by_name(pairs(form) + pairs(query))
        self.headers = _by_name(pairs(headers))

    @staticmethod
    def _one(name: str, values: Iterable[str]) -> str | None:
        distinct = set(values)
        if len(distinct) > 1:
            raise Invalid(f"ambiguous: {name!r} given more than once with different values")
        return distinct.pop() if distinct else None

    def param(self, name: str) -> str | None:
        return self._one(name, self.params.get(name.lower(), ()))

    def plex(self, name: str) -> str | None:
        """An X-Plex-* value: header or parameter, as long as every copy agrees."""
        lower = name.lower()
        return self._one(name, [*self.headers.get(lower, ()), *self.params.get(lower, ())])


def _ms(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not _POSITION.fullmatch(raw):
        raise Invalid(f"invalid {name!r}: not a plain number of milliseconds")
    value = int(raw.split(".", 1)[0])
    if value > MAX_MS:
        raise Invalid(f"invalid {name!r}: more than {MAX_MS} ms")
    return value


def is_replay(headers: Values, query: Values) -> bool:
    """The manager marks its own writes; reporting them again would ping-pong forever."""
    replay_header = REPLAY_HEADER.lower()
    if any(name.lower() == replay_header for name, _ in pairs(headers)):
        return True
    return any(k.lower() == LEGACY_REPLAY_QUERY and v == "1" for k, v in pairs(query))


def _rating_key_from(value: str | None) -> str | None:
    if not value:
        return None
    if value.startswith(METADATA_PREFIX):
        value = value[len(METADATA_PREFIX) :]
    return value if _RATING_KEY.match(value) else None


def parse(
    kind: str,
    headers: Values,
    query: Values,
    upstream_url: str,
    form: Values | None = None,
) -> PlaybackEvent:
    """The event a playback request would make, or raise Skip saying why it is not reportable
    (Invalid when the request is ambiguous or malformed). Never raises anything else.

    Used on the way in, before Plex has answered: the proxy stamps the upstream status and
    the time when the answer comes back.
    """
    req = _Request(headers, query, form)
    identifier = req.param("identifier")
    if identifier and identifier != LIBRARY_IDENTIFIER:
        raise Skip(f"not a library item (identifier {_clip(identifier)})")

    raw_key = req.param("key") or None
    if kind == "timeline":
        if raw_key and not raw_key.startswith(METADATA_PREFIX):
            raise Skip("not a library item (key is not /library/metadata/...)")
        by_rating_key = _rating_key_from(req.param("ratingKey"))
        by_key = _rating_key_from(raw_key)
        if by_rating_key and by_key and by_rating_key != by_key:
            raise Invalid("ambiguous: 'ratingKey' and 'key' name different items")
        rating_key = by_rating_key or by_key
    else:
        rating_key = _rating_key_from(raw_key)
    if not rating_key:
        raise Skip("missing or non-library rating key")

    state: str | None = None
    time_ms = duration_ms = None
    if kind in ("timeline", "progress"):
        state = req.param("state") or None
        if state is not None and state not in STATES:
            raise Skip(f"unknown state {_clip(state)}")
        time_ms = _ms("time", req.param("time"))
        duration_ms = _ms("duration", req.param("duration"))

    token = req.plex("X-Plex-Token")
    if not token:
        raise Skip("no token (the manager could not tell whose state this is)")

    event = PlaybackEvent(
        kind=kind,
        rating_key=rating_key,
        token=token,
        upstream_url=upstream_url,
        key=raw_key,
        state=state,
        time_ms=time_ms,
        duration_ms=duration_ms,
        client_id=req.plex("X-Plex-Client-Identifier"),
        product=req.plex("X-Plex-Product"),
        device=req.plex("X-Plex-Device-Name") or req.plex("X-Plex-Device"),
    )
    try:
        return event.validated()  # the manager's own schema: never spool what it refuses
    except EventError as exc:
        raise Invalid(f"invalid: {exc}") from None
