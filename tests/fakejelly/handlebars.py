"""The slice of Handlebars the Jellyfin Webhook plugin's templates use, with .NET formatting.

The plugin renders its Generic destination's template with Handlebars.Net over a dictionary
of .NET values, so what a template produces depends on how .NET prints them: a Guid with
dashes (plugin issue #204: `{{ItemId}}` gives `6213b704-a0d9-…`), booleans as `True`/`False`
(templates compare `{{#if_equals Played 'True'}}`), numbers plain. Supported: `{{Name}}`
(HTML-encoded), `{{{Name}}}` (raw), `{{! comment}}`, and the blocks `#if_equals A 'b'`
(case-insensitive, the plugin's helper), `#if_exist A` (not null or empty, the plugin's
helper), `#if A`, each with an optional `{{else}}`. Anything else raises, so a template
using more than we emulate fails loudly instead of rendering wrong.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

_TOKEN = re.compile(r"\{\{\{\s*([^}]+?)\s*\}\}\}|\{\{(!--.*?--|![^}]*|[^}]*)\}\}", re.DOTALL)
_BLOCKS = ("if_equals", "if_exist", "if")


class NetGuid(str):
    """A Guid value of the plugin's data object: held as 32 hex digits."""

    @property
    def dashed(self) -> str:
        h = self.replace("-", "").lower()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def net_text(value: Any) -> str:
    """How Handlebars.Net writes a .NET value into the output."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, NetGuid):
        return value.dashed
    if isinstance(value, datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")  # InvariantCulture's general format
    return str(value)


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _tokens(template: str) -> list[tuple[str, str]]:
    """Tokens: text, raw, var, open (block args), else, close (block name)."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TOKEN.finditer(template):
        out.append(("text", template[pos : m.start()]))
        pos = m.end()
        if m.group(1) is not None:
            out.append(("raw", m.group(1).strip()))
            continue
        inner = m.group(2).strip()
        if inner.startswith("!"):
            continue
        if inner.startswith("#"):
            out.append(("open", inner[1:].strip()))
        elif inner.startswith("/"):
            out.append(("close", inner[1:].strip()))
        elif inner == "else":
            out.append(("else", ""))
        else:
            out.append(("var", inner))
    out.append(("text", template[pos:]))
    return out


def _args(spec: str) -> tuple[str, list[str]]:
    parts = re.findall(r"'[^']*'|\"[^\"]*\"|\S+", spec)
    if not parts or parts[0] not in _BLOCKS:
        raise ValueError(f"unsupported Handlebars block {{{{#{spec}}}}}")
    return parts[0], parts[1:]


def _truth(helper: str, args: list[str], data: dict[str, Any]) -> bool:
    def value(arg: str) -> Any:
        if arg[:1] in "'\"":
            return arg[1:-1]
        return data.get(arg)

    if helper == "if_equals":
        return net_text(value(args[0])).lower() == net_text(value(args[1])).lower()
    if helper == "if_exist":
        return net_text(value(args[0])) != ""
    v = value(args[0])
    return bool(v) and v != ""


def render(template: str, data: dict[str, Any]) -> str:
    """Render template over data (names matched case-insensitively, as the plugin's
    dictionary is built with an ordinal-ignore-case comparer)."""
    lowered = {k.lower(): v for k, v in data.items()}
    ci = _CaseInsensitive(lowered)
    out, rest = _render(_tokens(template), 0, ci, None)
    if rest != len(_tokens(template)):
        raise ValueError("unbalanced Handlebars blocks")
    return out


class _CaseInsensitive(dict[str, Any]):
    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


def _render(
    toks: list[tuple[str, str]], i: int, data: dict[str, Any], closing: str | None
) -> tuple[str, int]:
    """Render from toks[i] until the block `closing` ends; returns (text, index after)."""
    out: list[str] = []
    while i < len(toks):
        kind, val = toks[i]
        if kind == "text":
            out.append(val)
        elif kind == "raw":
            out.append(net_text(data.get(val)))
        elif kind == "var":
            out.append(_html(net_text(data.get(val))))
        elif kind == "open":
            helper, args = _args(val)
            then, i = _render(toks, i + 1, data, helper)
            otherwise = ""
            if toks[i - 1][0] == "else":
                otherwise, i = _render(toks, i, data, helper)
            out.append(then if _truth(helper, args, data) else otherwise)
            continue
        elif kind in ("else", "close"):
            if closing is None or (kind == "close" and val != closing):
                raise ValueError(f"unexpected {{{{{kind} {val}}}}}")
            return "".join(out), i + 1
        i += 1
    if closing is not None:
        raise ValueError(f"block {closing} not closed")
    return "".join(out), i
