"""Plex tokens are passwords: every log line and error message goes through here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SHOWN = 4
# Query-string and header forms a token travels in.
_TOKEN_IN_TEXT = re.compile(
    r"(?P<name>X-Plex-Token|token|accessToken|authToken|authenticationToken|api_key|"
    r"cluster_manager_token|Authorization:\s*Bearer)(?P<sep>\s*[=:]\s*\"?|\s+)(?P<value>[^&\s\"',;<>]+)",
    re.IGNORECASE,
)
SENSITIVE_KEYS = frozenset(
    {
        "token",
        "x-plex-token",
        "accesstoken",
        "access_token",
        "authtoken",
        "auth_token",
        "authorization",
        "owner_token",
        "admin_token",
        "cluster_manager_token",
        "password",
    }
)


def redact(secret: str | None) -> str:
    """First four characters and an ellipsis: enough to tell tokens apart, not to use one."""
    if not secret:
        return ""
    return secret[:_SHOWN] + "…"


def redact_text(text: str) -> str:
    """Redact every token that appears as `name=value` or `name: value` in free text."""

    def _sub(match: re.Match[str]) -> str:
        value = match.group("value")
        if value.endswith("…"):
            return match.group(0)
        return f"{match.group('name')}{match.group('sep')}{redact(value)}"

    return _TOKEN_IN_TEXT.sub(_sub, text)


def redact_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of a mapping with sensitive keys redacted and strings scrubbed."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key.lower().replace("-", "_") in SENSITIVE_KEYS or key.lower() in SENSITIVE_KEYS:
            out[key] = redact(str(value)) if value else value
        elif isinstance(value, str):
            out[key] = redact_text(value)
        elif isinstance(value, Mapping):
            out[key] = redact_mapping(value)
        else:
            out[key] = value
    return out
