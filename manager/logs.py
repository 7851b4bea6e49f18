"""structlog set-up shared by the manager and the proxy addon.

One event per line: key=value for people, JSON with `--log-format json`. A final processor
redacts tokens, so a careless `log.info(..., url=url_with_token)` still cannot leak one.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import structlog

from manager.redaction import redact_mapping

LOG_FORMATS = ("text", "json")


def _redact_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return redact_mapping(event_dict)


def configure_logging(
    fmt: str = "text", level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.processors.KeyValueRenderer(
            key_order=["timestamp", "level", "event"], drop_missing=True
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    # Initial values keep the proxy lazy: binding now would freeze the configuration in
    # force at import time, before `configure_logging` has run.
    return structlog.get_logger(component=name)


class Throttle:
    """At most one line per `interval` seconds per key, for lines that any client can
    trigger once per request (a bad request, a wrong token): without it a client could
    flood the log. The line that is let through says how many were held back since."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # key -> (last line's time, held back)

    def __call__(self, key: str) -> int | None:
        """None: stay quiet. Otherwise log now; the number held back since the last line."""
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            self._seen[key] = (seen[0], seen[1] + 1)
            return None
        self._seen[key] = (now, 0)
        return seen[1] if seen is not None else 0
