"""Redact Plex tokens in mitmdump's own output (flow lines and its log).

mitmdump prints each flow's URL (default verbosity; Plex Web sends the token in the query)
and at -v every request header (X-Plex-Token: ...). Neither has a hook for rewriting, so the
streams they print to are wrapped. Colour codes may sit between a header name and its value
on a terminal, and long URLs are cut with "…" in the middle of a token: both handled.
"""

from __future__ import annotations

from typing import Any, TextIO

from mitmproxy import ctx

from manager.redaction import redact_text


def redact_line(text: str) -> str:
    """The same rules as the manager's logs (manager/redaction.py), colour codes included."""
    return redact_text(text)


class RedactingStream:
    """A text stream that scrubs each write before passing it on."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact_line(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# (object, attribute) pairs wrapped by install(), so uninstall() can put them back.
_Installed = list[tuple[Any, str, TextIO]]


def install(master: Any) -> _Installed:
    """Wrap the dumper's and the terminal log's output streams of a running mitmproxy."""
    done: _Installed = []
    targets = []
    dumper = master.addons.get("dumper")
    if dumper is not None and hasattr(dumper, "outfp"):
        targets.append((dumper, "outfp"))
    termlog = master.addons.get("termlog")
    handler = getattr(termlog, "logger", None)
    if handler is not None and hasattr(handler, "file"):
        targets.append((handler, "file"))
    for obj, attr in targets:
        current = getattr(obj, attr)
        if isinstance(current, RedactingStream):
            continue
        setattr(obj, attr, RedactingStream(current))
        done.append((obj, attr, current))
    return done


def uninstall(installed: _Installed) -> None:
    for obj, attr, original in installed:
        setattr(obj, attr, original)
    installed.clear()


class Redaction:
    """Wraps mitmdump's output streams while mitmproxy runs."""

    def __init__(self) -> None:
        self._installed: _Installed = []

    def running(self) -> None:
        self._installed = install(ctx.master)

    def done(self) -> None:
        uninstall(self._installed)
