"""One emulated Jellyfin or Emby server (`dialect`), with the test hooks of the Plex one."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakeplex.fixture import ClusterSpec, ServerSpec, hex_id
from tests.fakeplex.transport import Host, Hosted, Request, Response
from tests.fakeplex.webhook_send import WebhookSender

from .auth import Caller, client_info
from .base import Ctx, JError, error_response, normalise_guid
from .hooks import HooksMixin
from .library import TICKS_PER_MS, Catalogue, JItem
from .reads import ReadsMixin
from .sessions import SessionsMixin
from .userdata import UserData, UserDataStore
from .writes import WritesMixin

DIALECTS = ("jellyfin", "emby")
VERSIONS = {"jellyfin": "10.10.3", "emby": "4.8.10.0"}
PRODUCTS = {"jellyfin": "Jellyfin Server", "emby": "Emby Server"}
_EMBY_PREFIX = re.compile(r"^/emby(?=/|$)", re.IGNORECASE)

Handler = Callable[[Any, Ctx], Response]
# (method, path pattern on the lower-cased path, handler, needs auth, dialects)
Route = tuple[str, re.Pattern[str], str, bool, frozenset[str]]


def _route(method: str, pattern: str, handler: str, auth: bool = True, only: str = "") -> Route:
    dialects = frozenset([only] if only else DIALECTS)
    return (method, re.compile(f"^{pattern}$"), handler, auth, dialects)


_ID = r"([^/]+)"
ROUTES: list[Route] = [
    _route("GET", "/system/info/public", "system_info_public", auth=False),
    _route("GET", "/system/ping", "ping", auth=False),
    _route("POST", "/system/ping", "ping", auth=False),
    _route("GET", "/system/info", "system_info"),
    _route("POST", "/users/authenticatebyname", "authenticate_by_name", auth=False),
    _route("GET", "/users/public", "users_public", auth=False),
    _route("GET", "/users", "users_list"),
    _route("GET", "/users/query", "users_query", only="emby"),
    _route("GET", "/users/me", "users_me", only="jellyfin"),
    _route("GET", f"/users/{_ID}", "user_by_id"),
    _route("GET", f"/users/{_ID}/views", "user_views"),
    _route("GET", "/userviews", "user_views_query", only="jellyfin"),
    _route("GET", "/library/virtualfolders", "virtual_folders"),
    _route("GET", "/library/virtualfolders/query", "virtual_folders_query", only="emby"),
    _route("GET", "/items", "items"),
    _route("GET", f"/users/{_ID}/items", "user_items"),
    _route("GET", f"/items/{_ID}", "item_by_id", only="jellyfin"),
    _route("GET", f"/users/{_ID}/items/{_ID}", "user_item_by_id"),
    _route("GET", f"/shows/{_ID}/episodes", "show_episodes"),
    _route("GET", f"/shows/{_ID}/seasons", "show_seasons"),
    _route("GET", "/sessions", "sessions_list"),
    _route("POST", "/sessions/playing", "playing"),
    _route("POST", "/sessions/playing/progress", "progress"),
    _route("POST", "/sessions/playing/stopped", "stopped"),
    _route("POST", "/sessions/playing/ping", "playing_ping"),
    _route("POST", f"/userplayeditems/{_ID}", "mark_played", only="jellyfin"),
    _route("DELETE", f"/userplayeditems/{_ID}", "mark_unplayed", only="jellyfin"),
    _route("POST", f"/users/{_ID}/playeditems/{_ID}", "legacy_mark_played"),
    _route("DELETE", f"/users/{_ID}/playeditems/{_ID}", "legacy_mark_unplayed"),
    _route("POST", f"/users/{_ID}/playeditems/{_ID}/delete", "legacy_mark_unplayed", only="emby"),
    _route("GET", f"/useritems/{_ID}/userdata", "get_user_data", only="jellyfin"),
    _route("POST", f"/useritems/{_ID}/userdata", "post_user_data", only="jellyfin"),
    _route("GET", f"/users/{_ID}/items/{_ID}/userdata", "legacy_get_user_data", only="jellyfin"),
    _route("POST", f"/users/{_ID}/items/{_ID}/userdata", "legacy_post_user_data"),
]


class FakeJellyfin(Hosted, ReadsMixin, WritesMixin, SessionsMixin, HooksMixin):
    """An emulated Jellyfin (dialect "jellyfin") or Emby (dialect "emby") server."""

    def __init__(
        self,
        cluster: ClusterSpec,
        spec: ServerSpec,
        *,
        dialect: str = "jellyfin",
        bind: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be jellyfin or emby, not {dialect!r}")
        self.dialect = dialect
        self.kind = dialect
        self.spec = spec
        self.name = spec.name
        self.friendly_name = spec.friendly_name
        self.server_id = hex_id(32, cluster.seed, "server-id", spec.name)
        self.version = VERSIONS[dialect]
        self.product_name = PRODUCTS[dialect]
        self.api_key = spec.api_key
        self.owner = spec.owner
        self.library = Catalogue(cluster, spec, dialect)
        self.user_ids: dict[str, str] = {
            acct: hex_id(32, cluster.seed, "user", spec.name, acct) for acct in spec.passwords
        }
        self.display_names: dict[str, str] = dict(spec.display_names)
        self.passwords: dict[str, str] = dict(spec.passwords)
        self.user_tokens: dict[str, str] = dict(spec.user_tokens)
        self._account_of_id = {uid: acct for acct, uid in self.user_ids.items()}
        self._tokens: dict[str, str] = {
            tok: self.user_ids[a] for a, tok in spec.user_tokens.items()
        }
        self._revoked: set[str] = set()
        self._access: dict[str, list[int] | None] = {spec.owner: None, **spec.users}
        self._lock = threading.RLock()
        self._data = UserDataStore()
        self._init_sessions()
        self._load_initial_state(spec)
        self.host = Host(spec.name, self._handle, bind, port)
        self.webhooks = WebhookSender(spec.name)
        if spec.webhook:
            opts = {k: v for k, v in spec.webhook.items() if k != "url"}
            self.webhook_to(spec.webhook["url"], **opts)

    def stop(self) -> None:
        super().stop()
        self.webhooks.stop()

    # ------------------------------------------------------------------ test hooks
    def token_for(self, account: str) -> str:
        return self.user_tokens[account]

    def user_id(self, account: str) -> str:
        return self.user_ids[account]

    def is_admin(self, user_id: str) -> bool:
        return self._account_of_id.get(user_id) == self.owner

    def item_id(self, catalogue_key: str) -> str:
        """The item id of a catalogue key ("matrix", "office", "office/s01e02"); KeyError."""
        return self.library.by_key[catalogue_key].id

    def item(self, item_id: str) -> JItem:
        return self.library.items[item_id]

    def revoke_token(self, token: str) -> None:
        """From now on that token gets 401 (the user signed out or the key was deleted)."""
        with self._lock:
            self._revoked.add(token)

    def restart(self) -> None:
        """A server restart: playback sessions die; tokens and user data persist."""
        with self._lock:
            self._init_sessions()

    def remove_item(self, item_id: str) -> None:
        with self._lock:
            self.library.remove(item_id)

    def state(self, account: str, item_id: str) -> dict[str, Any]:
        """{"played", "play_count", "position_ticks", "last_played_at" (epoch or None)}; a
        series/season reports "played" when every episode is, and counts."""
        uid = self.user_ids[account]
        item = self.item(item_id)
        with self._lock:
            if item.is_leaf:
                d = self._data.get(uid, item.id)
                return {
                    "played": d.played,
                    "play_count": d.play_count,
                    "position_ticks": d.position_ticks,
                    "last_played_at": None if d.last_played is None else int(d.last_played),
                }
            leaves = [self._data.get(uid, leaf.id) for leaf in item.leaves]
            lasts = [d.last_played for d in leaves if d.last_played is not None]
            return {
                "played": bool(leaves) and all(d.played for d in leaves),
                "play_count": sum(d.play_count for d in leaves),
                "position_ticks": 0,
                "last_played_at": int(max(lasts)) if lasts else None,
                "played_leaf_count": sum(1 for d in leaves if d.played),
                "leaf_count": len(leaves),
            }

    def set_state(
        self,
        account: str,
        item_id: str,
        *,
        played: bool | None = None,
        play_count: int | None = None,
        position_ticks: int | None = None,
        last_played_at: float | None = None,
    ) -> None:
        """Write user data directly (test set-up); a series/season applies to every episode."""
        uid = self.user_ids[account]
        item = self.item(item_id)
        with self._lock:
            for leaf in item.leaves:
                d = self._data.mutable(uid, leaf.id)
                if played is not None:
                    d.played = played
                    if played and play_count is None:
                        d.play_count = max(d.play_count, 1)
                if play_count is not None:
                    d.play_count = play_count
                if position_ticks is not None:
                    d.position_ticks = position_ticks
                if last_played_at is not None:
                    d.last_played = float(last_played_at)

    def _load_initial_state(self, spec: ServerSpec) -> None:
        """The fixture's `state:` uses the Plex keys: view_count, view_offset (ms),
        last_viewed_at (epoch); keys missing on this server are skipped."""
        for account, entries in (spec.state or {}).items():
            for key, st in (entries or {}).items():
                item = self.library.by_key.get(key)
                if item is None or account not in self.user_ids:
                    continue
                count = int(st.get("view_count", 0))
                self.set_state(
                    account,
                    item.id,
                    played=count > 0,
                    play_count=count,
                    position_ticks=int(st.get("view_offset", 0)) * TICKS_PER_MS,
                    last_played_at=st.get("last_viewed_at"),
                )

    # ------------------------------------------------------------------ dispatch
    def _handle(self, req: Request) -> Response:
        path = req.path
        if self.dialect == "emby":
            path = _EMBY_PREFIX.sub("", path) or "/"
        lpath = path.lower().rstrip("/") or "/"
        ctx = Ctx(req=req, query={k.lower(): v for k, v in req.query.items()})
        info = client_info(req.headers, ctx.query)
        # The recorded request carries the MediaBrowser credential, not an X-Plex one.
        req.record.token = info.token
        req.record.client_id = info.device_id or None
        allowed = False
        for method, pattern, handler, needs_auth, dialects in ROUTES:
            if self.dialect not in dialects:
                continue
            m = pattern.match(lpath)
            if m is None:
                continue
            allowed = True
            if method != req.method and not (method == "GET" and req.method == "HEAD"):
                continue
            ctx.groups = m.groups()
            try:
                if needs_auth:
                    ctx.caller = self._authenticate(info)
                    self._touch_session(ctx.caller)
                return getattr(self, handler)(ctx)
            except JError as err:
                return error_response(err)
        return error_response(JError(405 if allowed else 404))

    def _authenticate(self, info: Any) -> Caller:
        tok = info.token
        with self._lock:
            if not tok or tok in self._revoked:
                raise JError(401, "")
            if tok == self.api_key:
                return Caller(token=tok, user_id=None, is_admin=True, info=info)
            uid = self._tokens.get(tok)
        if uid is None:
            raise JError(401, "")
        return Caller(token=tok, user_id=uid, is_admin=self.is_admin(uid), info=info)

    # ------------------------------------------------------------------ shared helpers
    def _forbidden(self) -> JError:
        """Jellyfin answers 403 (SecurityException -> Forbidden); Emby 401, as the pre-fork
        code base mapped security exceptions."""
        return JError(403 if self.dialect == "jellyfin" else 401, "Forbidden")

    def parse_user_id(self, raw: str) -> str:
        """A user id from a route or query: malformed -> 400 on Jellyfin (GUID binding),
        404 on Emby; unknown -> 404."""
        uid = normalise_guid(raw)
        if uid is None:
            raise JError(400 if self.dialect == "jellyfin" else 404, f"invalid user id {raw!r}")
        if uid not in self._account_of_id:
            raise JError(404, "User not found")
        return uid

    def act_for(self, ctx: Ctx, raw: str | None) -> str | None:
        """The user a request acts for: the named one (only yourself unless admin), else the
        caller (None for the API key)."""
        me = ctx.me
        if raw is None or raw == "":
            return me.user_id
        uid = self.parse_user_id(raw)
        if uid != me.user_id and not me.is_admin:
            raise self._forbidden()
        return uid

    def required_user(self, ctx: Ctx, raw: str | None) -> str:
        uid = self.act_for(ctx, raw)
        if uid is None:  # the API key is nobody: these endpoints need a user
            raise JError(400, "userId is required")
        return uid

    def visible(self, user_id: str | None, item: JItem) -> bool:
        if user_id is None:
            return True
        access = self._access.get(self._account_of_id[user_id])
        return access is None or item.section_id in access

    def find_item(self, raw: str, user_id: str | None) -> JItem:
        """An item by id as the user may see it; malformed ids 400 on Jellyfin, else 404."""
        if self.dialect == "jellyfin":
            iid = normalise_guid(raw)
            if iid is None:
                raise JError(400, f"invalid item id {raw!r}")
        else:
            iid = raw
            if not iid.isdigit():
                raise JError(404, "Item not found")
        with self._lock:
            item = self.library.items.get(iid)
        if item is None or not self.visible(user_id, item):
            raise JError(404, "Item not found")
        return item

    def user_data_dto(self, user_id: str, item: JItem) -> dict[str, Any]:
        with self._lock:
            return self._data.dto(user_id, item, self.server_id, self.dialect)

    def mutable_data(self, user_id: str, item_id: str) -> UserData:
        return self._data.mutable(user_id, item_id)

    def now(self) -> float:
        return time.time()
