"""What every kind's webhook parser shares: its input, its answers, its errors.

A parser (`servers/<kind>/webhook.py`) is a pure function from the body a server posted
to the `PlaybackEvent`s it stands for, or to the reason it stands for none. The door
(`app/webhooks.py`) has already told which configured server sent it (by its key), read
the body under a size cap and split a multipart body into its text fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from manager.event import EventError, PlaybackEvent

TICKS_PER_MS = 10_000  # Jellyfin and Emby count time in 100 ns ticks


class WebhookError(EventError):
    """The body is not the webhook it claims to be; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class WebhookSource:
    """The configured server a webhook's key belongs to."""

    name: str
    kind: str
    url: str
    server_id: str | None  # its own id (Plex machineIdentifier, Jellyfin/Emby Id), if known


@dataclass(frozen=True, slots=True)
class WebhookBody:
    raw: bytes
    # The text fields of a multipart/form-data body (files dropped); None for any other.
    form: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed webhook that changes nothing we sync (another event, our own echo)."""

    reason: str


# (body, the server its key names, when it arrived) → events, or why none.
Parser = Callable[[WebhookBody, WebhookSource, float], "list[PlaybackEvent] | Ignored"]


def json_object(text: str | bytes, what: str) -> dict[str, Any]:
    """A JSON object, or a WebhookError naming `what` was not one."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise WebhookError(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:  # bytes that are not UTF-8 too
        raise WebhookError(f"{what}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise WebhookError(f"{what}: not a JSON object")
    return value


def section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A nested object of the payload ({} when absent), refused when of another type."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookError(f"{name}: not an object")
    return value


def text(
    data: Mapping[str, Any], name: str, *, required: bool = False, where: str = ""
) -> str | None:
    """A field as text (numbers too: ids come either way); "" counts as absent. `where`:
    the object it is in, for the error message."""
    label = f"{where}.{name}" if where else name
    value = data.get(name)
    if isinstance(value, (bool, dict, list)):
        raise WebhookError(f"{label}: not text")
    result = None if value is None else str(value).strip() or None
    if required and result is None:
        raise WebhookError(f"{label}: missing")
    return result


def number(data: Mapping[str, Any], name: str) -> int | None:
    """A whole non-negative number, given as a number or as its digits ("" is absent)."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise WebhookError(f"{name}: not a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise WebhookError(f"{name}: not a whole number of at least 0")
    return value


def flag(data: Mapping[str, Any], name: str) -> bool | None:
    """A boolean, given as JSON true/false or as Handlebars prints one ("True")."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise WebhookError(f"{name}: not true or false")


def ms_of_ticks(ticks: int | None) -> int | None:
    return None if ticks is None else ticks // TICKS_PER_MS
