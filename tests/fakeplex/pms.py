"""One emulated Plex Media Server: library reads, playback-state writes, tokens, sessions."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from .fixture import AccountSpec, ClusterSpec, MovieSpec, ServerSpec, ShowSpec
from .library import NUM_TYPE, TYPE_NUM, Item, Library, Section
from .render import container, element, item_json, item_xml, json_attrs
from .state import StateStore
from .transport import Host, RecordedRequest, Request, Response

LIBRARY_ID = "com.plexapp.plugins.library"
PLAYBACK_STATES = ("playing", "paused", "buffering", "stopped")
DEFAULT_SESSION_TIMEOUT = 90.0
_ALL_TITLES = {"movie": "All Movies", "show": "All Shows", "season": "All Seasons",
               "episode": "All Episodes"}
DEFAULT_MIN_RESUME_OFFSET = 60_000

_RE_SECTION = re.compile(r"^/library/sections/(\d+)(?:/(all|allLeaves|collections))?$")
_RE_METADATA = re.compile(r"^/library/metadata/([\d,]+)(?:/(children|allLeaves))?$")
_RE_KEY_PATH = re.compile(r"^/library/metadata/(\d+)$")


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


def _now() -> int:
    return int(time.time())


def _int(value: str | None, *, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise HTTPError(400) from None


class FakeServer:
    """An emulated PMS. Test hooks: requests, go_down/come_up, fail_next, set_delay, restart."""

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
        self.host = Host(spec.name, self._handle, bind, port)

    # ------------------------------------------------------------------ public API
    def start(self) -> FakeServer:
        self.host.start()
        return self

    @property
    def url(self) -> str:
        return self.host.url

    @property
    def port(self) -> int:
        return self.host.port

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.host.requests

    def clear_requests(self) -> None:
        self.host.clear_requests()

    def go_down(self) -> None:
        self.host.go_down()

    def come_up(self) -> None:
        self.host.come_up()

    def fail_next(self, n: int | None, status: int = 500) -> None:
        self.host.fail_next(n, status)

    def set_delay(self, seconds: float) -> None:
        self.host.set_delay(seconds)

    def stop(self) -> None:
        self.host.stop()

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

    def add_movie(self, section_id: int, movie: MovieSpec) -> str:
        with self._lock:
            sec = self.library.sections[section_id]
            item = self.library.add_movie(sec, movie)
            self.library.resort(sec)
            return item.rating_key

    def add_show(self, section_id: int, show: ShowSpec, seasons: list[int] | None = None) -> str:
        with self._lock:
            sec = self.library.sections[section_id]
            item = self.library.add_show(sec, show, seasons)
            self.library.resort(sec)
            return item.rating_key

    def add_item(
        self, section_id: int, spec: MovieSpec | ShowSpec, seasons: list[int] | None = None
    ) -> str:
        """Add a catalogue entry to a section; returns the new ratingKey."""
        if isinstance(spec, MovieSpec):
            return self.add_movie(section_id, spec)
        return self.add_show(section_id, spec, seasons)

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

    # ------------------------------------------------------------------ reads
    def _identity(self, req: Request) -> Response:
        return container(
            req.wants_json,
            {
                "size": 0,
                "apiVersion": "1.1.1",
                "claimed": 1,
                "machineIdentifier": self.machine_identifier,
                "version": self.version,
            },
        )

    def _root(self, req: Request, acct: AccountSpec) -> Response:
        dirs = [("activities", "activities"), ("butler", "butler"), ("library", "library"),
                ("playlists", "playlists"), ("status", "status"), ("system", "system")]
        attrs = {
            "size": len(dirs),
            "allowCameraUpload": 0,
            "allowChannelAccess": 1,
            "allowMediaDeletion": 1,
            "allowSharing": 1,
            "allowSync": 1,
            "backgroundProcessing": 1,
            "certificate": 1,
            "companionProxy": 1,
            "countryCode": "usa",
            "diagnostics": "logs,databases,streaminglogs",
            "eventStream": 1,
            "friendlyName": self.friendly_name,
            "hubSearch": 1,
            "machineIdentifier": self.machine_identifier,
            "multiuser": 1,
            "myPlex": 1,
            "myPlexMappingState": "mapped",
            "myPlexSigninState": "ok",
            "myPlexSubscription": 1,
            "myPlexUsername": self.owner.email,
            "ownerFeatures": "webhooks,sync",
            "platform": "Linux",
            "platformVersion": "6.1",
            "pluginHost": 1,
            "readOnlyLibraries": 0,
            "requestParametersInCookie": 1,
            "streamingBrainVersion": 2,
            "sync": 1,
            "transcoderActiveVideoSessions": 0,
            "transcoderAudio": 1,
            "transcoderVideo": 1,
            "updatedAt": _now(),
            "updater": 1,
            "version": self.version,
            "voiceSearch": 1,
        }
        rows = [{"count": 1, "key": k, "title": t} for k, t in dirs]
        return container(
            req.wants_json,
            attrs,
            items_xml=[element("Directory", r) for r in rows],
            items_json=rows,
            json_key="Directory",
        )

    def _library_root(self, req: Request) -> Response:
        rows = [
            {"key": "sections", "title": "Library Sections"},
            {"key": "recentlyAdded", "title": "Recently Added Content"},
            {"key": "onDeck", "title": "On Deck Content"},
        ]
        attrs = {"size": len(rows), "allowSync": 0, "art": "/:/resources/library-art.png",
                 "content": "", "identifier": LIBRARY_ID,
                 "mediaTagPrefix": "/system/bundle/media/flags/",
                 "mediaTagVersion": 1700000000, "title1": "Plex Library", "title2": ""}
        return container(req.wants_json, attrs,
                         items_xml=[element("Directory", r) for r in rows],
                         items_json=rows, json_key="Directory")

    def _sections(self, req: Request, acct: AccountSpec) -> Response:
        secs = self._visible_sections(acct)
        xml = [element("Directory", s.attrs(), element("Location", s.location())) for s in secs]
        js = [{**json_attrs(s.attrs()), "Location": [s.location()]} for s in secs]
        attrs = {"size": len(secs), "allowSync": 0, "title1": "Plex Library"}
        return container(req.wants_json, attrs, items_xml=xml, items_json=js, json_key="Directory")

    def _section(self, req: Request, acct: AccountSpec, sid: int, sub: str | None) -> Response:
        sec = self.library.sections.get(sid)
        if sec is None or sec not in self._visible_sections(acct):
            raise HTTPError(404)
        base = {
            "allowSync": 1,
            "art": f"/:/resources/{sec.type}-fanart.jpg",
            "identifier": LIBRARY_ID,
            "librarySectionID": sec.id,
            "librarySectionTitle": sec.title,
            "librarySectionUUID": sec.uuid,
            "mediaTagPrefix": "/system/bundle/media/flags/",
            "mediaTagVersion": 1700000000,
            "thumb": f"/:/resources/{sec.type}.png",
            "title1": sec.title,
        }
        if sub is None:
            rows = [{"key": "all", "title": "All"}, {"key": "unwatched", "title": "Unplayed"},
                    {"key": "allLeaves", "title": "All Episodes"}]
            return container(req.wants_json, {"size": len(rows), **base},
                             items_xml=[element("Directory", r) for r in rows],
                             items_json=rows, json_key="Directory")
        if sub == "collections":
            return self._page(req, acct, [], {**base, "title2": "Collections"}, include_guids=False)
        if sub == "allLeaves":
            if sec.type != "show":
                raise HTTPError(400)
            items = sec.by_type["episode"]
            return self._page(req, acct, items, {**base, "title2": "All Episodes",
                                                 "viewGroup": "episode"},
                              include_guids=req.query.get("includeGuids") == "1")
        return self._section_all(req, acct, sec, base)

    def _section_all(
        self, req: Request, acct: AccountSpec, sec: Section, base: dict[str, Any]
    ) -> Response:
        q = req.query
        tnum = _int(q.get("type"), default=TYPE_NUM[sec.default_type()])
        if tnum not in NUM_TYPE:
            raise HTTPError(400)
        libtype = NUM_TYPE[tnum]
        candidates = sec.by_type.get(libtype, [])
        filters = _filters(q)
        aid = acct.id
        with self._lock:
            if filters:
                candidates = [it for it in candidates if self._match(aid, it, filters)]
            sort = q.get("sort")
            if sort:
                candidates = self._sorted(aid, candidates, sort)
            extra = None
            if q.get("includeMeta") == "1":
                extra = _meta(sec)
            return self._page(
                req,
                acct,
                candidates,
                {**base, "title2": _ALL_TITLES[libtype], "viewGroup": libtype,
                 "viewMode": 65592},
                include_guids=q.get("includeGuids") == "1",
                meta=extra,
            )

    def _match(self, aid: int, item: Item, filters: dict[str, str]) -> bool:
        for field, value in filters.items():
            truth = value not in ("0", "false", "")
            if field in ("unwatched", "unwatchedLeaves"):
                if self._state.unwatched(aid, item) != truth:
                    return False
            elif field == "inProgress":
                if self._state.in_progress(aid, item) != truth:
                    return False
            elif field == "title":
                if value.lower() not in item.title.lower():
                    return False
            elif field == "year":
                if str(item.attrs.get("year")) not in value.split(","):
                    return False
            elif field == "guid":
                if item.guid not in value.split(","):
                    return False
            elif field == "id" and item.rating_key not in value.split(","):
                return False
        return True

    def _sorted(self, aid: int, items: list[Item], sort: str) -> list[Item]:
        field, _, direction = sort.split(",")[0].partition(":")
        reverse = direction == "desc"
        states = self._state.of(aid)

        def key(it: Item) -> Any:
            if field == "addedAt":
                return it.attrs.get("addedAt", 0)
            if field == "lastViewedAt":
                st = states.get(it.rating_key)
                return (st.last_viewed_at or 0) if st else 0
            if field == "year":
                return it.attrs.get("year") or 0
            if field in ("id", "ratingKey"):
                return int(it.rating_key)
            return it.sort_key

        return sorted(items, key=key, reverse=reverse)

    def _paging(self, req: Request) -> tuple[int | None, int | None]:
        start = req.plex("X-Plex-Container-Start")
        size = req.plex("X-Plex-Container-Size")
        s = _int(start)
        n = _int(size)
        if (s is not None and s < 0) or (n is not None and n < 0):
            raise HTTPError(400)
        return s, n

    def _page(
        self,
        req: Request,
        acct: AccountSpec,
        items: list[Item],
        attrs: dict[str, Any],
        *,
        include_guids: bool,
        meta: tuple[str, dict[str, Any]] | None = None,
    ) -> Response:
        start, size = self._paging(req)
        total = len(items)
        paged = start is not None or size is not None
        lo = start or 0
        hi = total if size is None else min(total, lo + size)
        chosen = items[lo:hi] if lo < total else []
        headers: dict[str, str] = {}
        head: dict[str, Any] = {"size": len(chosen)}
        if paged:
            head["totalSize"] = total
            head["offset"] = lo
            headers["X-Plex-Container-Start"] = str(lo)
            headers["X-Plex-Container-Total-Size"] = str(total)
        all_attrs = {**head, **attrs}
        aid = acct.id
        with self._lock:
            if req.wants_json:
                js = [item_json(it, self._state.dyn_attrs(aid, it), include_guids) for it in chosen]
                if meta is not None:
                    all_attrs["Meta"] = meta[1]
                return container(True, all_attrs, items_json=js, extra_headers=headers)
            xml = [item_xml(it, self._state.dyn_attrs(aid, it), include_guids) for it in chosen]
        if meta is not None:
            xml.insert(0, meta[0])
        return container(False, all_attrs, items_xml=xml, extra_headers=headers)

    def _metadata(self, req: Request, acct: AccountSpec, keys: str, sub: str | None) -> Response:
        rks = [k for k in keys.split(",") if k]
        if sub is not None:
            if len(rks) != 1:
                raise HTTPError(400)
            parent = self._lookup(acct, rks[0])
            if sub == "children":
                children = parent.children
            else:
                children = parent.leaves if not parent.is_leaf else []
            attrs = self._container_for_parent(parent, sub)
            return self._page(req, acct, children, attrs,
                              include_guids=req.query.get("includeGuids") == "1")
        found = []
        for rk in rks:
            item = self.library.items.get(rk)
            if item is not None and self._visible(acct, item):
                found.append(item)
        if not found:
            raise HTTPError(404)
        sec = found[0].section
        attrs = {
            "allowSync": 1,
            "identifier": LIBRARY_ID,
            "librarySectionID": sec.id,
            "librarySectionTitle": sec.title,
            "librarySectionUUID": sec.uuid,
            "mediaTagPrefix": "/system/bundle/media/flags/",
            "mediaTagVersion": 1700000000,
        }
        # A metadata read always carries the <Guid> children, asked for or not.
        return self._page(req, acct, found, attrs, include_guids=True)

    def _container_for_parent(self, parent: Item, sub: str) -> dict[str, Any]:
        sec = parent.section
        attrs: dict[str, Any] = {
            "allowSync": 1,
            "identifier": LIBRARY_ID,
            "key": parent.rating_key,
            "librarySectionID": sec.id,
            "librarySectionTitle": sec.title,
            "librarySectionUUID": sec.uuid,
            "mediaTagPrefix": "/system/bundle/media/flags/",
            "mediaTagVersion": 1700000000,
            "title1": sec.title,
            "title2": parent.title,
        }
        if parent.type == "show":
            attrs.update({"parentIndex": 1, "parentTitle": parent.title,
                          "parentYear": parent.attrs.get("year"),
                          "viewGroup": "season" if sub == "children" else "episode"})
        elif parent.type == "season":
            show = parent.parent
            assert show is not None
            attrs.update({"grandparentRatingKey": show.rating_key,
                          "grandparentTitle": show.title,
                          "parentIndex": parent.attrs["index"], "viewGroup": "episode"})
        return attrs

    # ------------------------------------------------------------------ writes
    def _scrobble(self, req: Request, acct: AccountSpec, *, played: bool) -> Response:
        q = req.query
        if q.get("identifier") != LIBRARY_ID or not q.get("key"):
            raise HTTPError(400)
        item = self._lookup(acct, q["key"])
        now = _now()
        with self._lock:
            if item.is_leaf:
                self._mark(acct.id, item, played, now, always=True)
            else:
                for leaf in item.leaves:
                    self._mark(acct.id, leaf, played, now, always=False)
        return Response(200, b"", None)

    def _mark(self, aid: int, leaf: Item, played: bool, now: int, *, always: bool) -> None:
        if not played:
            self._state.drop(aid, leaf.rating_key)
            return
        st = self._state.mutable(aid, leaf.rating_key)
        if always or st.view_count == 0:
            st.view_count += 1
            st.last_viewed_at = now
        st.view_offset = 0

    def _timeline(self, req: Request, acct: AccountSpec) -> Response:
        q = req.query
        rk = q.get("ratingKey")
        if rk is None and q.get("key"):
            m = _RE_KEY_PATH.match(q["key"])
            rk = m.group(1) if m else None
        state = q.get("state")
        t = _int(q.get("time"))
        if rk is None or state not in PLAYBACK_STATES or t is None or t < 0:
            raise HTTPError(400)
        item = self._lookup(acct, rk)
        if not item.is_leaf:
            raise HTTPError(400)
        duration = _int(q.get("duration"))
        if duration is not None and duration <= 0:
            duration = None
        offline = q.get("offline") == "1"
        client_id = req.client_id
        # Without a client identifier, or without duration (unless it is a sync client's
        # offline=1 report), PMS answers 200 but records nothing (WatchState's finding;
        # plex-api.rs's offline timelines without duration are stored).
        if not client_id or (duration is None and not offline):
            return self._timeline_reply(req, acct, item)
        if duration is not None and t > duration:
            raise HTTPError(400)
        now = _now()
        with self._lock:
            self._expire_sessions()
            skey = (acct.id, client_id)
            sess = self._sessions.get(skey)
            if sess is not None and sess.item is not item:
                sess = None
            crossed = duration is not None and t >= self.played_threshold * duration
            st = self._state.mutable(acct.id, item.rating_key)
            if crossed:
                if sess is None or not sess.scrobbled:
                    st.view_count += 1
                st.view_offset = 0
                st.last_viewed_at = now
            elif t > self.min_resume_offset:
                st.view_offset = t
                st.last_viewed_at = now
            if state == "stopped":
                self._sessions.pop(skey, None)
            else:
                if sess is None:
                    sess = Session(
                        session_key=next(self._session_keys),
                        account=acct,
                        client_id=client_id,
                        item=item,
                        state=state,
                        time=t,
                        duration=duration or item.duration or 0,
                        updated=time.monotonic(),
                        product=req.plex("X-Plex-Product") or "Plex Web",
                        platform=req.plex("X-Plex-Platform") or "Chrome",
                        device=req.plex("X-Plex-Device-Name") or "Browser",
                    )
                    self._sessions[skey] = sess
                sess.state = state
                sess.time = t
                sess.updated = time.monotonic()
                sess.scrobbled = sess.scrobbled or crossed
        return self._timeline_reply(req, acct, item)

    def _timeline_reply(self, req: Request, acct: AccountSpec, item: Item) -> Response:
        """PMS answers a timeline report with the caller's resulting state for the item."""
        with self._lock:
            st = self._state.get(acct.id, item.rating_key)
        return container(
            req.wants_json,
            {
                "size": 0,
                "playbackState": "progress",
                "skipCount": 0,
                "viewCount": st.view_count,
                "viewOffset": st.view_offset,
            },
        )

    def _progress(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) == "shared":
            # Invited users get 401 here (WatchState #406); they must use /:/timeline.
            raise HTTPError(401)
        q = req.query
        t = _int(q.get("time"))
        if not q.get("key") or t is None or t < 0:
            raise HTTPError(400)
        item = self._lookup(acct, q["key"])
        if not item.is_leaf:
            raise HTTPError(400)
        with self._lock:
            st = self._state.mutable(acct.id, item.rating_key)
            if item.duration and t >= self.played_threshold * item.duration:
                st.view_count += 1
                st.view_offset = 0
                st.last_viewed_at = _now()
            elif t > self.min_resume_offset:
                st.view_offset = t
                st.last_viewed_at = _now()
        return Response(200, b"", None)

    # ------------------------------------------------------------------ admin-ish
    def _expire_sessions(self) -> None:
        limit = time.monotonic() - self.session_timeout
        for k in [k for k, s in self._sessions.items() if s.updated < limit]:
            del self._sessions[k]

    def _status_sessions(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) != "owner":
            raise HTTPError(401)
        xml: list[str] = []
        js: list[dict[str, Any]] = []
        with self._lock:
            self._expire_sessions()
            for s in self._sessions.values():
                user = {"id": self._pms_account_id(s.account), "thumb": "",
                        "title": s.account.name}
                player = {"address": "127.0.0.1", "device": s.device,
                          "machineIdentifier": s.client_id, "platform": s.platform,
                          "product": s.product, "state": s.state, "title": s.device,
                          "local": 1, "relayed": 0, "secure": 0, "userID": user["id"]}
                session = {"id": secrets.token_hex(12)[:24], "bandwidth": 10000, "location": "lan"}
                dyn = {"sessionKey": s.session_key, "viewOffset": s.time}
                extra = (element("User", user) + element("Player", player)
                         + element("Session", session))
                xml.append(item_xml(s.item, dyn, False, extra))
                d = item_json(s.item, dyn, False)
                d.update({"User": user, "Player": player, "Session": session})
                js.append(d)
        return container(req.wants_json, {"size": len(js)}, items_xml=xml, items_json=js)

    def _accounts(self, req: Request, acct: AccountSpec) -> Response:
        if self._kind(acct) != "owner":
            raise HTTPError(401)
        rows = [{"id": 1, "key": "/accounts/1", "name": self.owner.name,
                 "defaultAudioLanguage": "en", "autoSelectAudio": 1,
                 "defaultSubtitleLanguage": "en", "subtitleMode": 0, "thumb": ""}]
        for uname in self.spec.users:
            a = self.accounts[uname]
            rows.append({"id": a.id, "key": f"/accounts/{a.id}", "name": a.name,
                         "defaultAudioLanguage": "en", "autoSelectAudio": 1,
                         "defaultSubtitleLanguage": "en", "subtitleMode": 0, "thumb": ""})
        return container(req.wants_json,
                         {"size": len(rows), "identifier": "com.plexapp.system.accounts"},
                         items_xml=[element("Account", r) for r in rows],
                         items_json=rows, json_key="Account")

    def _security_token(self, req: Request, acct: AccountSpec) -> Response:
        if req.query.get("type") != "delegation":
            raise HTTPError(400)
        tok = "transient-" + secrets.token_hex(16)
        with self._lock:
            self._transient[tok] = acct
        return container(req.wants_json, {"size": 0, "token": tok})


def _cors_headers(req: Request) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": req.headers.get("origin", "*"),
        "Access-Control-Allow-Methods": "POST, GET, OPTIONS, DELETE, PUT, HEAD",
        "Access-Control-Allow-Headers": req.headers.get("access-control-request-headers", "")
        or "x-plex-token, x-plex-client-identifier, accept",
        "Access-Control-Max-Age": "1209600",
    }


def _filters(q: dict[str, str]) -> dict[str, str]:
    """Filter parameters plexapi's search() sends, with their libtype prefix stripped
    ("episode.unwatched" -> "unwatched")."""
    known = {"unwatched", "unwatchedLeaves", "inProgress", "title", "year", "guid", "id"}
    out = {}
    for k, v in q.items():
        field = k.rsplit(".", 1)[-1]
        if field in known:
            out[field] = v
    return out


_FIELD_TYPES = {
    "boolean": [("=", "is true")],
    "string": [("=", "contains"), ("!=", "does not contain"), ("==", "is"), ("!==", "is not")],
    "integer": [("=", "is"), ("!=", "is not"), (">>=", "is greater than"),
                ("<<=", "is less than")],
    "tag": [("=", "is"), ("!=", "is not")],
}


def _meta(sec: Section) -> tuple[str, dict[str, Any]]:
    """The <Meta> block plexapi reads (includeMeta=1) to validate search filters."""
    types: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    base_fields = [("title", "Title", "string"), ("unwatched", "Unplayed", "boolean"),
                   ("inProgress", "In Progress", "boolean"), ("year", "Year", "integer")]
    if sec.type == "movie":
        types.append(("movie", "Movies", base_fields))
    else:
        types.append(("show", "TV Shows", [("show.title", "Show Title", "string"),
                                           ("show.unwatchedLeaves", "Unplayed", "boolean"),
                                           ("show.inProgress", "In Progress", "boolean"),
                                           ("show.year", "Year", "integer")]))
        types.append(("season", "Seasons", [("season.title", "Season Title", "string"),
                                             ("season.unwatched", "Unplayed", "boolean")]))
        types.append(("episode", "Episodes",
                      [(f"episode.{k}", t, ft) for k, t, ft in base_fields]))
    xml_types = []
    js_types = []
    for tname, title, fields in types:
        key = f"/library/sections/{sec.id}/all?type={TYPE_NUM[tname]}"
        fattrs = [{"key": k, "title": t, "type": ft} for k, t, ft in fields]
        tattrs = {"key": key, "type": tname, "title": title, "active": 0}
        xml_types.append(element("Type", tattrs, "".join(element("Field", f) for f in fattrs)))
        js_types.append({**tattrs, "Field": fattrs})
    xml_ft = []
    js_ft = []
    for ftype, ops in _FIELD_TYPES.items():
        oattrs = [{"key": k, "title": t} for k, t in ops]
        xml_ft.append(element("FieldType", {"type": ftype},
                              "".join(element("Operator", o) for o in oattrs)))
        js_ft.append({"type": ftype, "Operator": oattrs})
    xml = element("Meta", {}, "".join(xml_types) + "".join(xml_ft))
    return xml, {"Type": js_types, "FieldType": js_ft}
