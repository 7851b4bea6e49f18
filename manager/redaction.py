"""Plex tokens are passwords: every log line and error message goes through here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SHOWN = 4


# How a client can write a token so that it still reaches Plex, and how mitmdump and our
# logs then print it: `name=value` in a query or form, `name: value` in headers and in
# YAML renderings of the query, `"name": "value"` in JSON, with terminal colour codes in
# between; with any character of the name, or the `=`, percent-encoded (a token inside
# a URL given as a parameter, like the photo transcoder's `url=`), even twice.
_ANSI = r"(?:\x1b\[[0-9;]*m)"
_PCT = r"%(?:25)*"  # a percent sign, itself percent-encoded any number of times
_NAMES = (
    "X-Plex-Token",
    "accessToken",
    "authToken",
    "authenticationToken",
    "api_key",
    "Bearer",
)


def _encoded(name: str) -> str:
    """A pattern for `name` with any of its characters percent-encoded (IGNORECASE)."""
    out = []
    for ch in name:
        codes = {f"{ord(ch.upper()):02X}", f"{ord(ch.lower()):02X}"}
        out.append("(?:" + "|".join([re.escape(ch), *(_PCT + c for c in sorted(codes))]) + ")")
    return "".join(out)


# `token` anywhere, also inside a longer name (cluster_manager_token, access_token, and
# after a colour code or an escape such as %3F): redacting a value too many is harmless,
# one too few is a leak.
_NAME = "(?:" + "|".join(_encoded(n) for n in (*_NAMES, "token")) + ")"
# Encoded characters that end a value: & " ' space # , ; < > [ ] \ and line breaks.
_ENDS = "(?:26|22|27|20|23|2C|3B|3C|3E|5B|5D|5C|0A|0D|09)"
_VALUE_CHAR = rf"(?:[^&\s\"',;<>\[\]\\\x1b…%]|%(?!(?:25)*{_ENDS}))"
_QUOTE = rf"(?:{_ANSI}|[\s\"'\\]|{_PCT}(?:22|27|20|5C))"
_TOKEN_IN_TEXT = re.compile(
    rf"(?P<name>{_NAME})"
    rf"(?P<sep>{_QUOTE}*(?:=|:|{_PCT}3D|{_PCT}3A)(?:{_QUOTE}|\[|-(?=[ \t]))*|{_ANSI}*\s+)"
    rf"(?P<value>{_VALUE_CHAR}++)(?P<cut>…)?",
    re.IGNORECASE,
)
# Another value of the same name right after the first: "tokA, tokB" (two headers made
# one), a YAML list ("\n- tokB") or a JSON array; not a next "key": value pair.
_ANOTHER = re.compile(
    rf"(?:{_QUOTE}|\])*(?:,|\n[ \t]*-[ \t])(?:{_QUOTE}|\[)*"
    rf"(?P<value>{_VALUE_CHAR}++)(?P<cut>…)?(?!{_ANSI}*[\"']?{_ANSI}*\s*[:=])",
    re.IGNORECASE,
)
# Cheap test first: most lines mention no token at all, in any encoding.
_HINT = re.compile(r"token|bearer|api_key|%", re.IGNORECASE)


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


def _value(match: re.Match[str]) -> str:
    value = match.group("value")
    if match.group("cut") and len(value) <= _SHOWN:
        return value + "…"  # already redacted
    return redact(value)  # a token mitmdump cut short ("…") is redacted all the same


def redact_text(text: str) -> str:
    """Redact every token written as `name=value`, `name: value` and the forms above."""
    if not _HINT.search(text):
        return text
    out: list[str] = []
    pos = 0
    while (match := _TOKEN_IN_TEXT.search(text, pos)) is not None:
        out += [text[pos : match.start("value")], _value(match)]
        pos = match.end()
        while (more := _ANOTHER.match(text, pos)) is not None:
            out += [text[pos : more.start("value")], _value(more)]
            pos = more.end()
    out.append(text[pos:])
    return "".join(out)


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
