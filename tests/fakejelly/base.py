"""Shared plumbing of the Jellyfin/Emby emulator: the per-request context, errors, JSON."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakeplex.transport import Request, Response

from .auth import Caller

_GUID = re.compile(r"^[0-9a-f]{32}$")
_GUID_DASHED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class JError(Exception):
    """Answer the request with this status (and a short text body, as the servers do)."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Ctx:
    """One request as the handlers see it: query and JSON body keys lower-cased (both servers
    bind them case-insensitively), path groups from the route, the caller once authenticated."""

    req: Request
    query: dict[str, str]
    groups: tuple[str, ...] = ()
    caller: Caller | None = None
    _body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def me(self) -> Caller:
        assert self.caller is not None, "route needs authentication"
        return self.caller

    def q(self, name: str) -> str | None:
        v = self.query.get(name.lower())
        return None if v is None or v == "" else v

    def body(self) -> dict[str, Any]:
        if self._body is None:
            raw = self.req.body
            if not raw.strip():
                self._body = {}
            else:
                try:
                    data = json.loads(raw)
                except ValueError as exc:
                    raise JError(400, "malformed JSON body") from exc
                if not isinstance(data, dict):
                    raise JError(400, "JSON body must be an object")
                self._body = {str(k).lower(): v for k, v in data.items()}
        return self._body


def json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status=status, body=body, content_type="application/json; charset=utf-8")


def no_content() -> Response:
    return Response(status=204, body=b"", content_type=None)


def error_response(err: JError) -> Response:
    return Response(
        status=err.status, body=err.message.encode(), content_type="text/plain; charset=utf-8"
    )


def normalise_guid(raw: str) -> str | None:
    """Jellyfin binds GUIDs in either "N" (32 hex) or "D" (dashed) form, any case."""
    s = raw.strip().lower()
    if _GUID.match(s):
        return s
    if _GUID_DASHED.match(s):
        return s.replace("-", "")
    return None


def parse_bool(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise JError(400, f"The value '{raw}' is not valid for {name}.")


def parse_int(raw: str | None, name: str, *, minimum: int = 0) -> int | None:
    if raw is None:
        return None
    try:
        v = int(raw)
    except ValueError as exc:
        raise JError(400, f"The value '{raw}' is not valid for {name}.") from exc
    if v < minimum:
        raise JError(400, f"{name} must be at least {minimum}.")
    return v


def csv(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]
