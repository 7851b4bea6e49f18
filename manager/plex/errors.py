"""Errors from Plex servers and plex.tv, one class per way a caller reacts.

Messages pass through redaction: an error may end up in a log line or an HTTP answer.
"""

from __future__ import annotations

from manager.redaction import redact_text


class PlexError(Exception):
    """Base: `status` is the HTTP status (None when no answer came), `target` the host."""

    def __init__(self, message: str, *, status: int | None = None, target: str = "") -> None:
        self.status = status
        self.target = target
        super().__init__(redact_text(message))


class Unauthorized(PlexError):
    """401, or 498 (expired JWT): the token is not (or no longer) good here."""


class NotFound(PlexError):
    """404: unknown rating key, section or user."""


class BadRequest(PlexError):
    """Any other 4xx: the request itself is wrong; retrying will not help."""


class RateLimited(BadRequest):
    """429 after our own retries ran out (plex.tv rate-limits token fetching)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        target: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, target=target)
        self.retry_after = retry_after


class ServerError(PlexError):
    """5xx: worth retrying later."""


class Unreachable(PlexError):
    """No HTTP answer: connection refused, reset or timed out. Worth retrying later."""


def error_for_status(status: int, message: str, *, target: str = "") -> PlexError:
    if status in (401, 498):
        return Unauthorized(message, status=status, target=target)
    if status == 404:
        return NotFound(message, status=status, target=target)
    if status == 429:
        return RateLimited(message, status=status, target=target)
    if 400 <= status < 500:
        return BadRequest(message, status=status, target=target)
    return ServerError(message, status=status, target=target)
