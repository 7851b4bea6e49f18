"""Loggers that pick up the configuration current at each call.

manager.logs.get_logger binds at once, which freezes the structlog configuration of that
moment; a module-level logger made before configure_logging() would then skip the
redaction processor. The addon configures logging only when mitmproxy calls configure(),
long after its modules were imported, so it looks its loggers up per call.
"""

from __future__ import annotations

from typing import Any

from manager.logs import get_logger


class LazyLogger:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Any:
        return getattr(get_logger(self.name), method)
