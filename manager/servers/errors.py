"""Errors from media servers and their account services, one class per way a caller reacts.

Every kind of server raises these, so the real-time path and the full sync never need to
know which kind answered. Messages pass through redaction: an error may end up in a log
line or an HTTP answer.
"""

from __future__ import annotations

from manager.redaction import redact_text


class MediaServerError(Exception):
    """Base: `status` is the HTTP status (None when no answer came), `target` who answered
    (a server's name, or the account service such as "plex.tv")."""

    def __init__(self, message: str, *, status: int | None = None, target: str = "") -> None:
        self.status = status
        self.target = target
        super().__init__(redact_text(message))


class Unauthorized(MediaServerError):
    """401, or 498 (expired JWT): the credential is not (or no longer) good here."""


class NotFound(MediaServerError):
    """404: unknown item, library or user."""


class BadRequest(MediaServerError):
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


class ServerFault(MediaServerError):
    """5xx: worth retrying later."""


class Unreachable(MediaServerError):
    """No HTTP answer: connection refused, reset or timed out. Worth retrying later."""


def error_for_status(status: int, message: str, *, target: str = "") -> MediaServerError:
    if status in (401, 498):
        return Unauthorized(message, status=status, target=target)
    if status == 404:
        return NotFound(message, status=status, target=target)
    if status == 429:
        return RateLimited(message, status=status, target=target)
    if 400 <= status < 500:
        return BadRequest(message, status=status, target=target)
    return ServerFault(message, status=status, target=target)
