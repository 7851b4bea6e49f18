"""Who is calling: the MediaBrowser authorization header and the other credential sources.

Both servers read a token from `Authorization: MediaBrowser …, Token="…"` (also the `Emby`
scheme), `X-Emby-Authorization` (same format), `X-Emby-Token`, `X-MediaBrowser-Token`, or the
`api_key` / `ApiKey` query parameter (query names are matched case-insensitively).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PAIR = re.compile(r'([A-Za-z]+)\s*=\s*"([^"]*)"')


def parse_mediabrowser(value: str | None) -> dict[str, str]:
    """`MediaBrowser Client="x", Device="y", …` -> {"client": "x", "device": "y", …}; keys
    lower-cased because the servers match them case-insensitively. {} for another scheme."""
    if not value:
        return {}
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() not in ("mediabrowser", "emby"):
        return {}
    return {k.lower(): v for k, v in _PAIR.findall(rest)}


@dataclass(frozen=True)
class ClientInfo:
    """What the request says about the calling app (absent values are empty strings)."""

    token: str | None
    client: str = ""
    device: str = ""
    device_id: str = ""
    version: str = ""


def client_info(headers: dict[str, str], query: dict[str, str]) -> ClientInfo:
    """headers: lower-cased names; query: lower-cased names (both servers ignore case)."""
    fields = parse_mediabrowser(headers.get("authorization"))
    if not fields:
        fields = parse_mediabrowser(headers.get("x-emby-authorization"))
    token = (
        fields.get("token")
        or headers.get("x-emby-token")
        or headers.get("x-mediabrowser-token")
        or query.get("api_key")
        or query.get("apikey")
    )
    return ClientInfo(
        token=token or None,
        client=fields.get("client", headers.get("x-emby-client", "")),
        device=fields.get("device", headers.get("x-emby-device-name", "")),
        device_id=fields.get("deviceid", headers.get("x-emby-device-id", "")),
        version=fields.get("version", headers.get("x-emby-client-version", "")),
    )


@dataclass(frozen=True)
class Caller:
    """An authenticated request: a user's access token, or the admin API key (user_id None)."""

    token: str
    user_id: str | None
    is_admin: bool
    info: ClientInfo

    @property
    def is_api_key(self) -> bool:
        return self.user_id is None
