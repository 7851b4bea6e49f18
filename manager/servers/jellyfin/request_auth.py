"""Who a Jellyfin or Emby client's request says it is: its credential and its device.

Both servers take the credential from several places (PROTOCOL §4): the `Token` of an
`Authorization: MediaBrowser …` (or `Emby …`) header or of `X-Emby-Authorization`, the
`X-Emby-Token` and `X-MediaBrowser-Token` headers, and the `api_key` / `ApiKey` query
parameters. We cannot know which one the server acts on when a request carries two
different ones, so such a request is `Invalid` (nothing reported), never a guess. The
same holds for the device fields (DeviceId, Client, Device), which say which client a
session is.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from manager.servers.request_values import Invalid, Values, pairs

_AUTH_HEADERS = ("authorization", "x-emby-authorization")
_AUTH_SCHEMES = ("mediabrowser", "emby")
_TOKEN_HEADERS = ("x-emby-token", "x-mediabrowser-token")
_TOKEN_PARAMS = ("api_key", "apikey")
# Emby clients may also name the device in headers of their own.
_DEVICE_HEADERS = {
    "x-emby-device-id": "deviceid",
    "x-emby-client": "client",
    "x-emby-device-name": "device",
}


def _split_params(text: str) -> list[str]:
    """`a="x, y", b=z` → ['a="x, y"', ' b=z']: commas inside quotes do not split."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def authorization_params(value: str) -> list[tuple[str, str]]:
    """The key="value" pairs of a MediaBrowser/Emby authorization header (keys lower-cased,
    values unquoted and URL-decoded as the servers do); [] for any other scheme."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() not in _AUTH_SCHEMES:
        return []
    out: list[tuple[str, str]] = []
    for part in _split_params(rest):
        key, sep, raw = part.partition("=")
        if not sep:
            continue
        val = raw.strip()
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1]
        out.append((key.strip().lower(), unquote(val) if "%" in val else val))
    return out


@dataclass(frozen=True, slots=True)
class ClientFields:
    token: str | None
    device_id: str | None
    client: str | None
    device: str | None


def _one(name: str, values: list[str]) -> str | None:
    distinct = {v for v in values if v != ""}
    if len(distinct) > 1:
        raise Invalid(f"ambiguous: {name} given more than once with different values")
    return distinct.pop() if distinct else None


def client_fields(headers: Values, query: Values) -> ClientFields:
    """The credential and device of a request; Invalid when two places disagree."""
    found: dict[str, list[str]] = {"token": [], "deviceid": [], "client": [], "device": []}
    for name, value in pairs(headers):
        low = name.lower()
        if low in _AUTH_HEADERS:
            for key, val in authorization_params(value):
                if key in found:
                    found[key].append(val)
        elif low in _TOKEN_HEADERS:
            found["token"].append(value.strip())
        elif low in _DEVICE_HEADERS:
            found[_DEVICE_HEADERS[low]].append(value.strip())
    for name, value in pairs(query):
        if name.lower() in _TOKEN_PARAMS:
            found["token"].append(value)
    return ClientFields(
        token=_one("the credential", found["token"]),
        device_id=_one("DeviceId", found["deviceid"]),
        client=_one("Client", found["client"]),
        device=_one("Device", found["device"]),
    )
