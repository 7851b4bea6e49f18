"""XML text for every emulated answer: escaping values and rendering attribute lists."""

from __future__ import annotations

import re
from typing import Any

_ESC_RE = re.compile(r'[&<>"\n\r\t]')
_ESC_MAP = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\n": "&#10;",
    "\r": "&#13;",
    "\t": "&#9;",
}


def esc(value: object) -> str:
    s = value if isinstance(value, str) else str(value)
    if _ESC_RE.search(s) is None:
        return s
    return _ESC_RE.sub(lambda m: _ESC_MAP[m.group()], s)


def xml_attrs(attrs: dict[str, Any]) -> str:
    return "".join(
        f' {k}="{(1 if v else 0) if isinstance(v, bool) else esc(v)}"'
        for k, v in attrs.items()
        if v is not None
    )
