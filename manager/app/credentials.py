"""The one comparison of a secret a caller sent (the manager token, a webhook key, a form's
CSRF token) with the one expected: constant time, so the time taken tells nothing."""

from __future__ import annotations

import hmac


def matches(expected: bytes, given: str | None) -> bool:
    """Whether `given` is `expected`; a missing or empty value never is. Any text is
    compared as sent (surrogateescape: bytes that are not UTF-8 still compare)."""
    if not given:
        return False
    return hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape"))
