"""A media server's JSON answer, decoded.

Library pages are the bulk of a full sync (hundreds of pages of a thousand items), and
orjson decodes them in about half the time of the standard library (a 0.37 MB Plex page:
1.0 ms against 1.9 ms). It is as strict: invalid UTF-8, NaN and trailing data are refused
with a ValueError (orjson.JSONDecodeError is one), which each kind turns into its own
"unreadable answer". A UTF-8 byte-order mark, which the standard library skips, is skipped.
"""

from __future__ import annotations

from typing import Any

import orjson

_BOM = b"\xef\xbb\xbf"


def loads(content: bytes) -> Any:
    """The JSON value of `content`; ValueError if it is not JSON."""
    return orjson.loads(content[3:] if content.startswith(_BOM) else content)
