"""Recognise a client's playback-state request and pull out what the manager needs.

Shared by the proxy addon and the manager's reader of the original product's payload, so
both apply the same rules. Pure functions over plain values, testable without a proxy.
Clients send every `X-Plex-*` value either as a header or in the query string (Plex Web
puts all of them in the query), and some POST `/:/timeline`, so each value is looked up in
headers, query and form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

from manager.event import KINDS, LEGACY_REPLAY_QUERY, REPLAY_HEADER, STATES, PlaybackEvent

LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
METADATA_PREFIX = "/library/metadata/"
# Library items have short opaque keys; plugin items carry URLs or paths as their "key".
_RATING_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PATH_KINDS = {f"/:/{kind}": kind for kind in KINDS}


def playback_kind(path: str) -> str | None:
    """Kind for a request path (query allowed), or None. Called for every request: cheap."""
    if not path.startswith(("/:/", "/%3A/", "/%3a/")):
        return None
    bare = path.split("?", 1)[0]
    if "%" in bare:
        bare = unquote(bare)
    return _PATH_KINDS.get(bare.rstrip("/"))


class Skip(Exception):
    """The request is a playback request we deliberately do not report (reason in args)."""


def _lower_keys(values: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in values.items()} if values else {}


def _ms(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def is_replay(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """The manager marks its own writes; reporting them again would ping-pong forever."""
    if headers.get(REPLAY_HEADER) is not None:
        return True
    return _lower_keys(query).get(LEGACY_REPLAY_QUERY) == "1"


def _rating_key_from(value: str | None) -> str | None:
    if not value:
        return None
    if value.startswith(METADATA_PREFIX):
        value = value[len(METADATA_PREFIX) :]
    return value if _RATING_KEY.match(value) else None


def parse(
    kind: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    upstream_url: str,
    form: Mapping[str, str] | None = None,
) -> PlaybackEvent:
    """The event a playback request would make, or raise Skip saying why it is not reportable.

    Used on the way in, before Plex has answered: the proxy stamps the upstream status and
    the time when the answer comes back.
    """
    params = _lower_keys(form)
    params.update(_lower_keys(query))

    def plex(name: str) -> str | None:
        value = headers.get(name)
        if value:
            return value
        return params.get(name.lower()) or None

    identifier = params.get("identifier")
    if identifier and identifier != LIBRARY_IDENTIFIER:
        raise Skip(f"not a library item (identifier {identifier})")

    raw_key = params.get("key") or None
    if kind == "timeline":
        if raw_key and not raw_key.startswith(METADATA_PREFIX):
            raise Skip("not a library item (key is not /library/metadata/...)")
        rating_key = _rating_key_from(params.get("ratingkey")) or _rating_key_from(raw_key)
    else:
        rating_key = _rating_key_from(raw_key)
    if not rating_key:
        raise Skip("missing or non-library rating key")

    state = params.get("state") or None
    if kind in ("scrobble", "unscrobble"):
        state = None
    elif state is not None and state not in STATES:
        raise Skip(f"unknown state {state!r}")

    token = plex("X-Plex-Token")
    if not token:
        raise Skip("no token: the manager could not tell whose state this is")

    return PlaybackEvent(
        kind=kind,
        rating_key=rating_key,
        token=token,
        upstream_url=upstream_url,
        key=raw_key,
        state=state,
        time_ms=_ms(params.get("time")) if kind in ("timeline", "progress") else None,
        duration_ms=_ms(params.get("duration")) if kind in ("timeline", "progress") else None,
        client_id=plex("X-Plex-Client-Identifier"),
        product=plex("X-Plex-Product"),
        device=plex("X-Plex-Device-Name") or plex("X-Plex-Device"),
    )
