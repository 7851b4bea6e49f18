"""One emulated Plex Media Server: library reads, playback-state writes, tokens, sessions."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from typing import Any

from .fixture import AccountSpec, ClusterSpec, MovieSpec, ServerSpec, ShowSpec
from .items import Item
from .library import Library
from .pms_base import (
    DEFAULT_MIN_RESUME_OFFSET,
    DEFAULT_SESSION_TIMEOUT,
    HTTPError,
    ServerBase,
    Session,
)
from .pms_info import InfoMixin
from .pms_reads import ReadsMixin
from .pms_webhooks import WebhooksMixin
from .pms_writes import WritesMixin
from .state import StateStore
from .transport import Host, Hosted, Request, Response
from .webhook_send import WebhookSender

_RE_SECTION = re.compile(r"^/library/sections/(\d+)(?:/(all|allLeaves|collections))?$")
_RE_METADATA = re.compile(r"^/library/metadata/([\d,]+)(?:/(children|allLeaves))?$")


class FakeServer(Hosted, InfoMixin, ReadsMixin, WritesMixin, WebhooksMixin, ServerBase):
    """An emulated PMS. Test hooks: requests, go_down/come_up, fail_next, set_delay,
    refuse_when, restart, webhook_to."""

    def __init__(
        self,
        cluster: ClusterSpec,
        spec: ServerSpec,
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.friendly_name = spec.friendly_name
        self.machine_identifier = spec.machine_identifier
        self.version = spec.version
        self.accounts = cluster.accounts
        self.owner = cluster.accounts[spec.owner]
        self.owner_token = self.owner.token
        self.played_threshold = cluster.played_threshold
        self.session_timeout = DEFAULT_SESSION_TIMEOUT
        # PMS ignores resume points of a minute or less (plex-api.rs, tested on a real PMS).
        self.min_resume_offset = DEFAULT_MIN_RESUME_OFFSET
        self.library = Library(cluster, spec)
        self._lock = threading.RLock()
        self._state = StateStore()
        self._tokens: dict[str, AccountSpec] = {self.owner.token: self.owner}
        self.user_tokens: dict[str, str] = {self.owner.name: self.owner.token}
        for uname, tok in spec.user_tokens.items():
            self._tokens[tok] = cluster.accounts[uname]
            self.user_tokens[uname] = tok
        self._transient: dict[str, AccountSpec] = {}
        self._expired: set[str] = set()
        self._revoked: set[str] = set()
        self._sessions: dict[tuple[int, str], Session] = {}
        self._session_keys = itertools.count(1)
        self._load_initial_state(spec)
        self.webhooks = WebhookSender(spec.name)
        if spec.webhook:
            self.webhook_to(spec.webhook.get("url"))
        self.host = Host(spec.name, self._handle, bind, port)

    def stop(self) -> None:
        super().stop()
        self.webhooks.stop()

    # ------------------------------------------------------------------ public API
    def restart(self) -> None:
        """A PMS restart: transient tokens and playback sessions die; state persists."""
        with self._lock:
            self._transient.clear()
            self._sessions.clear()

    def issue_transient_token(self, username: str) -> str:
        acct = self.accounts[username]
        if not self._has_access(acct):
            raise KeyError(f"{username} has no access to {self.name}")
        tok = "transient-" + secrets.token_hex(16)
        with self._lock:
            self._transient[tok] = acct
        return tok

    def expire_token(self, token: str) -> None:
        """From now on the token gets 498 (what PMS answers for an expired JWT token)."""
        with self._lock:
            self._expired.add(token)

    def revoke_token(self, token: str) -> None:
        """From now on the token gets 401 (share removed, token reset)."""
        with self._lock:
            self._revoked.add(token)

    def token_for(self, username: str) -> str:
        return self.user_tokens[username]

    def users(self) -> list[str]:
        return list(self.user_tokens)

    def item(self, rating_key: str) -> Item:
        return self.library.items[str(rating_key)]

    def state(self, username: str, rating_key: str) -> dict[str, Any]:
        """What that user sees: view_count, view_offset, last_viewed_at (0/None when unset).
        Shows and seasons add viewed_leaf_count and leaf_count."""
        acct = self.accounts[username]
        item = self.item(rating_key)
        with self._lock:
            return self._state.summary(acct.id, item)

    def set_state(
        self,
        username: str,
        rating_key: str,
        *,
        view_count: int | None = None,
        view_offset: int | None = None,
        last_viewed_at: int | None = None,
    ) -> None:
        """Write state directly (test set-up), bypassing HTTP and recording."""
        acct = self.accounts[username]
        item = self.item(rating_key)
        leaves = [item] if item.is_leaf else item.leaves
        with self._lock:
            for leaf in leaves:
                st = self._state.mutable(acct.id, leaf.rating_key)
                if view_count is not None:
                    st.view_count = view_count
                if view_offset is not None:
                    st.view_offset = view_offset
                if last_viewed_at is not None:
                    st.last_viewed_at = last_viewed_at

    def find_key(
        self,
        username: str | None = None,
        *,
        title: str | None = None,
        guid: str | None = None,
        catalog: str | None = None,
        type: str | None = None,
    ) -> str:
        """ratingKey of the first item matching title / guid (primary or <Guid>) / catalogue
        key (e.g. "office/s01e02"), among items visible to username (None: all)."""
        acct = self.accounts[username] if username else None
        if catalog is not None:
            item = self.library.by_catalog.get(catalog)
            if item is None or (acct and not self._visible(acct, item)):
                raise KeyError(catalog)
            return item.rating_key
        for item in self.library.items.values():
            if type and item.type != type:
                continue
            if title is not None and item.title != title:
                continue
            if guid is not None and guid != item.guid and guid not in item.guids:
                continue
            if acct and not self._visible(acct, item):
                continue
            return item.rating_key
        raise KeyError(f"no item title={title!r} guid={guid!r} on {self.name}")

    def add_movie(self, section_id: int, movie: MovieSpec, *, match: str | None = None) -> str:
        with self._lock:
            sec = self.library.sections[section_id]
            item = self.library.add_movie(sec, movie, match=match)
            self.library.resort(sec)
            return item.rating_key

    def add_show(
        self,
        section_id: int,
        show: ShowSpec,
        seasons: list[int] | None = None,
        *,
        match: str | None = None,
    ) -> str:
        with self._lock:
            sec = self.library.sections[section_id]
            item = self.library.add_show(sec, show, seasons, match=match)
            self.library.resort(sec)
            return item.rating_key

    def add_item(
        self,
        section_id: int,
        spec: MovieSpec | ShowSpec,
        seasons: list[int] | None = None,
        *,
        match: str | None = None,
    ) -> str:
        """Add a catalogue entry to a section; returns the new ratingKey. match: None (the
        section's agent), "new", "legacy" or "none" (unmatched: local:// guid)."""
        if isinstance(spec, MovieSpec):
            return self.add_movie(section_id, spec, match=match)
        return self.add_show(section_id, spec, seasons, match=match)

    def remove_item(self, rating_key: str) -> None:
        """Delete an item (a show/season with everything under it)."""
        with self._lock:
            self.library.remove(str(rating_key))

    remove = remove_item

    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            self._expire_sessions()
            return [
                {
                    "username": s.account.name,
                    "client_id": s.client_id,
                    "rating_key": s.item.rating_key,
                    "state": s.state,
                    "time": s.time,
                }
                for s in self._sessions.values()
            ]

    # ------------------------------------------------------------------ internals
    def _load_initial_state(self, spec: ServerSpec) -> None:
        for uname, entries in spec.state.items():
            acct = self.accounts[uname]
            for ckey, fields in (entries or {}).items():
                item = self.library.by_catalog.get(ckey)
                if item is None:
                    raise ValueError(f"{spec.name}: state for unknown item {ckey!r}")
                leaves = [item] if item.is_leaf else item.leaves
                for leaf in leaves:
                    st = self._state.mutable(acct.id, leaf.rating_key)
                    st.view_count = int(fields.get("view_count", 0))
                    st.view_offset = int(fields.get("view_offset", 0))
                    lva = fields.get("last_viewed_at")
                    st.last_viewed_at = int(lva) if lva else None

    def _handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except HTTPError as e:
            return Response.error(e.status)

    def _route(self, req: Request) -> Response:
        path = req.path
        if req.method == "OPTIONS":
            # Plex Web's CORS preflight (e.g. before /:/timeline): no token, no effect.
            return Response(200, b"", None, _cors_headers(req))
        if path == "/identity":
            return self._identity(req)
        acct = self._auth(req)
        if path == "/":
            return self._root(req, acct)
        if path == "/library":
            return self._library_root(req)
        if path == "/library/sections":
            return self._sections(req, acct)
        m = _RE_SECTION.match(path)
        if m:
            return self._section(req, acct, int(m.group(1)), m.group(2))
        m = _RE_METADATA.match(path)
        if m:
            return self._metadata(req, acct, m.group(1), m.group(2))
        if path == "/:/scrobble":
            return self._scrobble(req, acct, played=True)
        if path == "/:/unscrobble":
            return self._scrobble(req, acct, played=False)
        if path == "/:/timeline":
            return self._timeline(req, acct)
        if path == "/:/progress":
            return self._progress(req, acct)
        if path == "/status/sessions":
            return self._status_sessions(req, acct)
        if path == "/accounts":
            return self._accounts(req, acct)
        if path == "/security/token":
            return self._security_token(req, acct)
        raise HTTPError(404)


def _cors_headers(req: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": req.headers.get("origin", "*"),
        "Access-Control-Allow-Methods": "POST, GET, OPTIONS, DELETE, PUT, HEAD",
        "Access-Control-Allow-Headers": req.headers.get("access-control-request-headers", "")
        or "x-plex-token, x-plex-client-identifier, accept",
        "Access-Control-Max-Age": "1209600",
    }
