"""structlog set-up shared by the manager and the proxy addon.

One event per line: key=value for people, JSON with `--log-format json`. A final processor
redacts tokens, so a careless `log.info(..., url=url_with_token)` still cannot leak one.
"""

from __future__ import annotations

import logging
import sys
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
