"""Shared plumbing of the emulated PMS: errors, sessions, token and visibility rules."""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from .fixture import AccountSpec, ServerSpec
from .items import Item, Section
from .library import Library
from .state import StateStore
from .transport import Request

LIBRARY_ID = "com.plexapp.plugins.library"
PLAYBACK_STATES = ("playing", "paused", "buffering", "stopped")
DEFAULT_SESSION_TIMEOUT = 90.0
ALL_TITLES = {
    "movie": "All Movies",
    "show": "All Shows",
    "season": "All Seasons",
    "episode": "All Episodes",
}
DEFAULT_MIN_RESUME_OFFSET = 60_000

RE_KEY_PATH = re.compile(r"^/library/metadata/(\d+)$")


class HTTPError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Session:
    session_key: int
    account: AccountSpec
    client_id: str
    item: Item
    state: str
    time: int
    duration: int
    updated: float
    product: str
    platform: str
    device: str
    scrobbled: bool = False
    session_id: str = field(default_factory=lambda: secrets.token_hex(12))


def now_s() -> int:
    return int(time.time())


def int_param(value: str | None, *, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise HTTPError(400) from None


class ServerBase:
    """State every endpoint mixin relies on; FakeServer fills it in."""

    spec: ServerSpec
    name: str
    friendly_name: str
    machine_identifier: str
    version: str
    accounts: dict[str, AccountSpec]
    owner: AccountSpec
    played_threshold: float
    session_timeout: float
    min_resume_offset: int
    library: Library
    _lock: threading.RLock
    _state: StateStore
    _tokens: dict[str, AccountSpec]
    _transient: dict[str, AccountSpec]
    _expired: set[str]
    _revoked: set[str]
    _sessions: dict[tuple[int, str], Session]

    def _has_access(self, acct: AccountSpec) -> bool:
        return acct.name == self.owner.name or acct.name in self.spec.users

    def _kind(self, acct: AccountSpec) -> str:
        if acct.name == self.owner.name:
            return "owner"
        return "managed" if acct.managed else "shared"

    def _pms_account_id(self, acct: AccountSpec) -> int:
        return 1 if acct.name == self.owner.name else acct.id

    def _visible_sections(self, acct: AccountSpec) -> list[Section]:
        if acct.name == self.owner.name:
            return list(self.library.sections.values())
        allowed = self.spec.users.get(acct.name)
        return [s for s in self.library.sections.values() if allowed is None or s.id in allowed]

    def _visible(self, acct: AccountSpec, item: Item) -> bool:
        if acct.name == self.owner.name:
            return True
        allowed = self.spec.users.get(acct.name)
        return allowed is None or item.section.id in allowed

    def _auth(self, req: Request) -> AccountSpec:
        tok = req.token
        if not tok:
            raise HTTPError(401)
        with self._lock:
            if tok in self._expired:
                raise HTTPError(498)
            if tok in self._revoked:
                raise HTTPError(401)
            acct = self._tokens.get(tok) or self._transient.get(tok)
        if acct is None:
            raise HTTPError(401)
        return acct

    def _lookup(self, acct: AccountSpec, rating_key: str | None) -> Item:
        if rating_key is None or not rating_key.isdigit():
            raise HTTPError(400)
        item = self.library.items.get(rating_key)
        if item is None or not self._visible(acct, item):
            raise HTTPError(404)
        return item
