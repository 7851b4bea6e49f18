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
# Jellyfin and Emby: `api_key`/`ApiKey` query parameters; their token headers and the
# `Token="…"` of their authorization header contain "token" (below).
_NAMES = ("X-Plex-Token", "accessToken", "authToken", "authenticationToken", "api_key", "ApiKey")


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
_NAME_SEP = re.compile(
    rf"(?:{_NAME}(?:{_ANSI}|[\"'\\]|{_PCT}(?:22|27|20|5C))*\s*(?P<op>=|:|{_PCT}3[DA])"
    rf"|(?P<bearer>Bearer|Basic)(?={_ANSI}*[ \t]))(?:{_ANSI}|[ \t])*",
    re.IGNORECASE,
)
# A value in a URL or form ends at & (also encoded: %26, %2526), a space, a quote…
_ENDS = "(?:26|22|27|20|23|2C|3B|3C|3E|5B|5D|5C|0A|0D|09)"
_URL_VALUE = re.compile(rf"(?:[^&\s\"',;<>\[\]\\\x1b…%]|%(?!(?:25)*{_ENDS}))++…?", re.I)
_COMMA_VALUE = re.compile(rf",[ \t]*(?P<value>{_URL_VALUE.pattern})", re.IGNORECASE)
_LIST_ITEM = re.compile(r"\n[ \t]*-[ \t]+(?P<value>[^\n]*)")  # YAML: "\n- value"
_ITEM_EDGES = re.compile(rf"^((?:{_ANSI}|[\s\"',\[\]\\])*)(.*?)((?:{_ANSI}|[\s\"',\[\]\\])*)$")
_ARRAY_ITEM = re.compile(r'"(?:[^"\\\n]|\\.)*"|[^\s,"\[\]]+')
# Cheap test first: most lines mention no token at all, in any encoding.
_HINT = re.compile(r"token|bearer|basic|api_?key|%", re.IGNORECASE)
# A password in a URL's user info (`http://user:password@host`): a server behind a reverse
# proxy with HTTP basic auth can be configured so, and its URL shows in errors and status.
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)(?P<password>[^\s/@]+)@", re.I)


def _redacted(value: str) -> str:
    core = value.removesuffix("…")
    if core != value and len(core) <= _SHOWN:
        return value  # already redacted
    return redact(core)  # a token mitmdump cut short ("…") is redacted all the same


def _redacted_item(item: str) -> str:
    """A whole value as printed, quotes and colour codes kept around its redacted core."""
    edges = _ITEM_EDGES.match(item)
    if edges is None or not edges.group(2):
        return item
    return edges.group(1) + _redacted(edges.group(2)) + edges.group(3)


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _indent(text: str, pos: int) -> int:
    """How far the line holding `pos` is indented."""
    start = text.rfind("\n", 0, pos) + 1
    return len(text[start:pos]) - len(text[start:pos].lstrip(" \t"))


def _folded(text: str, pos: int, indent: int) -> int:
    """End of the lines after `pos` (a line end) indented deeper than `indent`: YAML
    folds a long value onto such lines. They belong to the value and are left out."""
    while pos < len(text):
        nxt = _line_end(text, pos + 1)
        line = text[pos + 1 : nxt]
        if not line.strip() or len(line) - len(line.lstrip(" \t")) <= indent:
            break
        pos = nxt
    return pos


def _quoted_end(text: str, start: int, quote: str) -> int:
    """Index of the quote closing a string opened just before `start` (its line's end if
    none): JSON and YAML double quotes escape with a backslash, YAML '' is a quote."""
    end, i = _line_end(text, start), start
    while i < end:
        if quote == '"' and text[i] == "\\":
            i += 2
        elif text.startswith(quote, i):
            if quote == "'" and text.startswith("''", i):
                i += 2
                continue
            return i
        else:
            i += 1
    return end


def _bracket_end(text: str, pos: int) -> int:
    """Index of the `]` closing the list opened at `pos` (nested lists, strings skipped)."""
    depth, i = 0, pos
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _quoted_end(text, i + 1, '"')
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(text)


def _value(text: str, pos: int, colon: bool, out: list[str]) -> int:
    """Append the redacted value that starts at `pos`; return where the text goes on.

    After `name=` (a URL or form) the value ends at &, a space or a quote; after
    `name:` (a header, YAML, JSON) it is all of it: the quoted string, the bracketed
    list, the rest of the line, or the YAML list below, with any lines folded from it.
    """
    indent = _indent(text, pos)
    quote = '\\"' if text.startswith('\\"', pos) else text[pos : pos + 1]
    if quote in ('"', "'", '\\"'):
        start = pos + len(quote)
        end = _quoted_end(text, start, quote)
        out += [quote, _redacted(text[start:end])]
        return _folded(text, end, indent) if colon and end == _line_end(text, end) else end
    if quote == "[":
        end = _bracket_end(text, pos)
        items = _ARRAY_ITEM.sub(lambda m: _redacted_item(m.group()), text[pos + 1 : end])
        out += ["[", items]
        return end
    if colon:
        end = _line_end(text, pos)
        if text[pos:end].strip():
            out.append(_redacted_item(text[pos:end]))
            return _folded(text, end, indent)
        start = end
        while (item := _LIST_ITEM.match(text, end)) is not None:
            out += [text[end : item.start("value")], _redacted_item(item.group("value"))]
            end = _folded(text, item.end(), _indent(text, item.start("value") - 1))
        if end != start:
            return end
        below = _line_end(text, end + 1)  # YAML puts a long value below its key, deeper
        if end < len(text) and _indent(text, below) > indent and text[end:below].strip():
            lead = _indent(text, below) + 1
            out += [text[pos : end + lead], _redacted_item(text[end + lead : below])]
            return _folded(text, below, indent)
        return pos
    value = _URL_VALUE.match(text, pos)
    if value is None:
        return pos
    out.append(_redacted(value.group()))
    pos = value.end()
    while (more := _COMMA_VALUE.match(text, pos)) is not None:  # X-Plex-Token=tokA,tokB
        out += [text[pos : more.start("value")], _redacted(more.group("value"))]
        pos = more.end()
    return pos


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
    """First four characters and an ellipsis: enough to tell tokens apart, not to use one.
    A secret of fewer than eight shows half of itself at most (a password of four
    characters was shown whole, with an ellipsis after it)."""
    if not secret:
        return ""
    return secret[: min(_SHOWN, len(secret) // 2)] + "…"


def redact_text(text: str) -> str:
    """Redact every token written as `name=value`, `name: value` and the forms above, and
    the password of a URL's user info."""
    if "://" in text:
        text = _USERINFO.sub(lambda m: m["head"] + _redacted(m["password"]) + "@", text)
    if not _HINT.search(text):
        return text
    out: list[str] = []
    pos = 0
    while (match := _NAME_SEP.search(text, pos)) is not None:
        out.append(text[pos : match.end()])
        op = match.group("op") or ""
        colon = op == ":" or op[-2:].upper() == "3A"
        pos = _value(text, match.end(), colon, out)
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
