"""The event a proxy hands to the manager: defined once, imported by both sides.

Version 1 on the wire is a flat JSON object; unknown keys are ignored on read so a newer
proxy can talk to an older manager.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

EVENT_VERSION = 1
Kind = Literal["scrobble", "unscrobble", "timeline", "progress"]
KINDS: frozenset[str] = frozenset({"scrobble", "unscrobble", "timeline", "progress"})
STATES: frozenset[str] = frozenset({"playing", "paused", "buffering", "stopped"})

# The header (and, for the original product's replays, query flag) the manager puts on
# every request it sends, so that no proxy reports it again.
REPLAY_HEADER = "X-Plex-Cluster-Replay"
LEGACY_REPLAY_QUERY = "plex-cluster"


class EventError(ValueError):
    """A payload that is not a valid version-1 event."""


@dataclass(frozen=True, slots=True)
class PlaybackEvent:
    kind: str
    rating_key: str
    token: str
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
    seen_at: float = field(default_factory=time.time)
    upstream_status: int = 200
    v: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> PlaybackEvent:
        if not isinstance(data, dict):
            raise EventError("event must be a JSON object")
        if data.get("v") != EVENT_VERSION:
            raise EventError(f"unsupported event version {data.get('v')!r}")
        for name in ("id", "kind", "rating_key", "token", "upstream_url"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise EventError(f"missing or empty field {name!r}")
        if data["kind"] not in KINDS:
            raise EventError(f"unknown kind {data['kind']!r}")
        state = data.get("state")
        if state is not None and state not in STATES:
            raise EventError(f"unknown state {state!r}")
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        for name in ("time_ms", "duration_ms", "upstream_status"):
            if values.get(name) is not None:
                try:
                    values[name] = int(values[name])
                except (TypeError, ValueError):
                    raise EventError(f"field {name!r} is not an integer") from None
        if "seen_at" in values:
            try:
                values["seen_at"] = float(values["seen_at"])
            except (TypeError, ValueError):
                raise EventError("field 'seen_at' is not a number") from None
        return cls(**values)

    @classmethod
    def from_json(cls, raw: str | bytes) -> PlaybackEvent:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise EventError(f"not JSON: {exc}") from None
        return cls.from_dict(data)
