"""What every kind's request parser shares: the values of a request as given, and the two
ways a playback request is left unreported.

Shared by the proxy addon and the manager (each kind's `requests.py`), so a request is
judged by the same rules on both sides. Pure, testable without a proxy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Values as given: a mapping, (name, value) pairs, or mitmproxy's multidicts (headers,
# query, form) which keep repeated names.
Values = Mapping[str, str] | Iterable[tuple[str, str]]


class Skip(Exception):
    """The request is a playback request we deliberately do not report (reason in args)."""


class Invalid(Skip):
    """The client's request is ambiguous or malformed: not reported, worth a warning."""


def pairs(values: Values | None) -> list[tuple[str, str]]:
    """Every (name, value) of a request part, repeats kept: a repeat may be ambiguous."""
    if values is None:
        return []
    if hasattr(values, "get_all") and hasattr(values, "fields"):  # mitmproxy: every repeat
        return [(str(k), str(v)) for k, v in values.items(multi=True)]  # type: ignore[call-arg]
    if isinstance(values, Mapping):
        return [(str(k), str(v)) for k, v in values.items()]
    return [(str(k), str(v)) for k, v in values]
