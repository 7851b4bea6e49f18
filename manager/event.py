"""The event a proxy hands to the manager: defined once, imported by both sides.

Version 1 on the wire is a flat JSON object; unknown keys are ignored on read so a newer
proxy can talk to an older manager. A proxy's event carries the client's token; a
webhook's (servers/*/webhook.py) carries none, only the server's own id of the user
(`account_id`): one of the two is required. Every event read from the wire, and every event a
proxy builds from a client's request, goes through one schema (`_Wire`) before anything
uses it: types are strict (`true` is not 1, `"5"` is not 5), numbers are finite and in
range, text is valid Unicode without control characters and of bounded length. So an
event that passed the door cannot crash the code behind it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

EVENT_VERSION = 1
Kind = Literal["scrobble", "unscrobble", "timeline", "progress"]
State = Literal["playing", "paused", "buffering", "stopped"]
KINDS: frozenset[str] = frozenset({"scrobble", "unscrobble", "timeline", "progress"})
STATES: frozenset[str] = frozenset({"playing", "paused", "buffering", "stopped"})

# The header (and, for the original product's replays, query flag) the manager puts on
# every request it sends, so that no proxy reports it again.
REPLAY_HEADER = "X-Plex-Cluster-Replay"
LEGACY_REPLAY_QUERY = "plex-cluster"
# The `proxy_name` of events that came in as a server's webhook rather than from a proxy.
WEBHOOK_PROXY_NAME = "webhook"

# Library items have short opaque keys; plugin items carry URLs or paths as their "key".
RATING_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Plex tokens are short base64/hex-like strings (newer plex.tv tokens are JWTs). Nothing
# else is accepted: the manager sends the token as a header, so it must be plain ASCII.
TOKEN_PATTERN = r"^[A-Za-z0-9._~+/=-]{1,2048}$"
# Positions and durations in ms: 2**31 - 1 (24.8 days) is longer than any media item.
MAX_MS = 2**31 - 1
# seen_at decides which change is newest: one far in the future would win every later
# comparison, so it may be ahead of the manager's clock by this much (clock skew) at most.
MAX_CLOCK_SKEW_S = 3600.0
MIN_SEEN_AT = 946_684_800.0  # 2000-01-01: a proxy whose clock says 1970 is broken


class EventError(ValueError):
    """A payload that is not a valid version-1 event."""


class TooManyEvents(EventError):
    """A JSON list of more events than one request may carry."""


def _url(value: str) -> str:
    parts = urlsplit(value)  # ValueError (e.g. "http://[x") becomes a field error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    _ = parts.port  # ValueError when out of range
    return value


def _not_in_future(value: float) -> float:
    if value > time.time() + MAX_CLOCK_SKEW_S:
        raise ValueError("is in the future")
    return value


def _text(max_length: int) -> Any:
    # Valid Unicode (strict str refuses lone surrogates) without control characters.
    return Annotated[str, Field(max_length=max_length, pattern=r"^[^\x00-\x1f\x7f]*$")]


_Ms = Annotated[int, Field(ge=0, le=MAX_MS)]


class _Wire(BaseModel):
    """The one schema every event passes: pydantic in strict mode, see module doc."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False, frozen=True)

    v: Annotated[int, Field(ge=EVENT_VERSION, le=EVENT_VERSION)]
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    kind: Kind
    rating_key: Annotated[str, Field(pattern=RATING_KEY_PATTERN)]
    token: Annotated[str, Field(pattern=TOKEN_PATTERN)] | None = None
    upstream_url: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=r"^\S+$"), AfterValidator(_url)
    ]
    key: _text(1024) | None = None
    state: State | None = None
    time_ms: _Ms | None = None
    duration_ms: _Ms | None = None
    client_id: _text(256) | None = None
    product: _text(256) | None = None
    device: _text(256) | None = None
    machine_identifier: _text(128) | None = None
    proxy_name: _text(128) | None = None
    # The server's own id of the user a request named (Jellyfin/Emby `/Users/{id}/…`,
    # `?userId=`): the server's 2xx answer says the credential may act for that user.
    account_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")] | None = None
    seen_at: Annotated[float, Field(ge=MIN_SEEN_AT), AfterValidator(_not_in_future)] = Field(
        default_factory=time.time
    )
    upstream_status: Annotated[int, Field(ge=100, le=599)] = 200

    @model_validator(mode="after")
    def _someone(self) -> _Wire:
        # Without either, nothing could tell whose change it was.
        if self.token is None and self.account_id is None:
            raise ValueError("token or account_id required")
        return self


def _reason(exc: ValidationError) -> str:
    """The fields at fault and what is wrong, never the value (it may be a token)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for err in errors[:3]:
        # The field's name only (a union adds its branch); phrased so that the log's
        # redaction does not take "'token': String…" for a token and cut the message.
        if not err["loc"]:  # a rule across fields, e.g. "token or account_id required"
            parts.append(f"event is invalid ({err['msg']})")
            continue
        parts.append(f"field {str(err['loc'][0])!r} is invalid ({err['msg']})")
    if len(errors) > 3:
        parts.append(f"and {len(errors) - 3} more")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PlaybackEvent:
    kind: str
    rating_key: str
    token: str | None  # None: a webhook's event, which names its user by account_id
    upstream_url: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    key: str | None = None
    state: str | None = None
    time_ms: int | None = None
    duration_ms: int | None = None
    client_id: str | None = None
    product: str | None = None
    device: str | None = None
    machine_identifier: str | None = None
    proxy_name: str | None = None
    account_id: str | None = None
    seen_at: float = field(default_factory=time.time)
    upstream_status: int = 200
    v: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def validated(self) -> PlaybackEvent:
        """This event if it passes the schema (EventError otherwise): for events built
        from a client's request rather than read from the wire."""
        return self.from_dict(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> PlaybackEvent:
        if not isinstance(data, dict):
            raise EventError("event must be a JSON object")
        try:
            wire = _Wire.model_validate(data)
        except ValidationError as exc:
            raise EventError(_reason(exc)) from None
        return cls(**wire.model_dump())

    @classmethod
    def from_json(cls, raw: str | bytes) -> PlaybackEvent:
        return cls.from_dict(loads(raw))


def loads(raw: str | bytes) -> Any:
    """json.loads for client input: too deep a nesting is bad input, not a crash."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise EventError("not JSON we accept: nested too deeply") from None
    except ValueError as exc:  # also bytes that are not UTF-8
        raise EventError(f"not JSON: {exc}") from None


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return match.end() if match else pos


def read_batch(body: bytes, max_items: int) -> list[Any]:
    """The items of a body holding one JSON value (a list of one) or a JSON list.

    A list is read one item at a time with the standard decoder, so a list that is too
    long is refused at item `max_items + 1` (TooManyEvents) instead of first being built
    in memory whole. The items are not checked yet: see `PlaybackEvent.from_dict`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise EventError("body is not UTF-8") from None
    pos = _skip_space(text, 0)
    if not text.startswith("[", pos):
        return [loads(text)]
    decoder = json.JSONDecoder()
    items: list[Any] = []
    pos = _skip_space(text, pos + 1)
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            if len(items) == max_items:
                raise TooManyEvents(f"too many events in one request (at most {max_items})")
            try:
                item, pos = decoder.raw_decode(text, pos)
            except RecursionError:
                raise EventError("not JSON we accept: nested too deeply") from None
            except ValueError as exc:
                raise EventError(f"not JSON: {exc}") from None
            items.append(item)
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                raise EventError(f"not JSON: expected ',' or ']' at char {pos}")
    if _skip_space(text, pos) != len(text):
        raise EventError(f"not JSON: extra data at char {pos}")
    return items
