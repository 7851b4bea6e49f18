"""PMS library reads: root, sections, listings with filters and paging, metadata."""

from __future__ import annotations

from typing import Any

from .fixture import AccountSpec
from .library import NUM_TYPE, TYPE_NUM, Item, Section
from .pms_base import ALL_TITLES, LIBRARY_ID, HTTPError, ServerBase, int_param, now_s
from .render import container, element, item_json, item_xml, json_attrs
from .transport import Request, Response


def _section_tags(sec: Section) -> dict[str, Any]:
    """The attributes PMS puts on every container of one section's items, in its order."""
    return {
        "librarySectionID": sec.id,
        "librarySectionTitle": sec.title,
        "librarySectionUUID": sec.uuid,
        "mediaTagPrefix": "/system/bundle/media/flags/",
        "mediaTagVersion": 1700000000,
    }


class ReadsMixin(ServerBase):
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
        dirs = [
            ("activities", "activities"),
            ("butler", "butler"),
            ("library", "library"),
            ("playlists", "playlists"),
            ("status", "status"),
            ("system", "system"),
        ]
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
            "updatedAt": now_s(),
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
        attrs = {
            "size": len(rows),
            "allowSync": 0,
            "art": "/:/resources/library-art.png",
            "content": "",
            "identifier": LIBRARY_ID,
            "mediaTagPrefix": "/system/bundle/media/flags/",
            "mediaTagVersion": 1700000000,
            "title1": "Plex Library",
            "title2": "",
        }
        return container(
            req.wants_json,
            attrs,
            items_xml=[element("Directory", r) for r in rows],
            items_json=rows,
            json_key="Directory",
        )

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
            **_section_tags(sec),
            "thumb": f"/:/resources/{sec.type}.png",
            "title1": sec.title,
        }
        if sub is None:
            rows = [
                {"key": "all", "title": "All"},
                {"key": "unwatched", "title": "Unplayed"},
                {"key": "allLeaves", "title": "All Episodes"},
            ]
            return container(
                req.wants_json,
                {"size": len(rows), **base},
                items_xml=[element("Directory", r) for r in rows],
                items_json=rows,
                json_key="Directory",
            )
        if sub == "collections":
            return self._page(req, acct, [], {**base, "title2": "Collections"}, include_guids=False)
        if sub == "allLeaves":
            if sec.type != "show":
                raise HTTPError(400)
            items = sec.by_type["episode"]
            return self._page(
                req,
                acct,
                items,
                {**base, "title2": "All Episodes", "viewGroup": "episode"},
                include_guids=req.query.get("includeGuids") == "1",
            )
        return self._section_all(req, acct, sec, base)

    def _section_all(
        self, req: Request, acct: AccountSpec, sec: Section, base: dict[str, Any]
    ) -> Response:
        q = req.query
        tnum = int_param(q.get("type"), default=TYPE_NUM[sec.default_type()])
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
                {**base, "title2": ALL_TITLES[libtype], "viewGroup": libtype, "viewMode": 65592},
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
        s = int_param(start)
        n = int_param(size)
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
            return self._page(
                req, acct, children, attrs, include_guids=req.query.get("includeGuids") == "1"
            )
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
            **_section_tags(sec),
        }
        # A metadata read always carries the <Guid> children, asked for or not.
        return self._page(req, acct, found, attrs, include_guids=True)

    def _container_for_parent(self, parent: Item, sub: str) -> dict[str, Any]:
        sec = parent.section
        attrs: dict[str, Any] = {
            "allowSync": 1,
            "identifier": LIBRARY_ID,
            "key": parent.rating_key,
            **_section_tags(sec),
            "title1": sec.title,
            "title2": parent.title,
        }
        if parent.type == "show":
            attrs.update(
                {
                    "parentIndex": 1,
                    "parentTitle": parent.title,
                    "parentYear": parent.attrs.get("year"),
                    "viewGroup": "season" if sub == "children" else "episode",
                }
            )
        elif parent.type == "season":
            show = parent.parent
            assert show is not None
            attrs.update(
                {
                    "grandparentRatingKey": show.rating_key,
                    "grandparentTitle": show.title,
                    "parentIndex": parent.attrs["index"],
                    "viewGroup": "episode",
                }
            )
        return attrs


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
    "integer": [("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than")],
    "tag": [("=", "is"), ("!=", "is not")],
}


def _meta(sec: Section) -> tuple[str, dict[str, Any]]:
    """The <Meta> block plexapi reads (includeMeta=1) to validate search filters."""
    types: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    base_fields = [
        ("title", "Title", "string"),
        ("unwatched", "Unplayed", "boolean"),
        ("inProgress", "In Progress", "boolean"),
        ("year", "Year", "integer"),
    ]
    if sec.type == "movie":
        types.append(("movie", "Movies", base_fields))
    else:
        types.append(
            (
                "show",
                "TV Shows",
                [
                    ("show.title", "Show Title", "string"),
                    ("show.unwatchedLeaves", "Unplayed", "boolean"),
                    ("show.inProgress", "In Progress", "boolean"),
                    ("show.year", "Year", "integer"),
                ],
            )
        )
        types.append(
            (
                "season",
                "Seasons",
                [
                    ("season.title", "Season Title", "string"),
                    ("season.unwatched", "Unplayed", "boolean"),
                ],
            )
        )
        types.append(("episode", "Episodes", [(f"episode.{k}", t, ft) for k, t, ft in base_fields]))
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
        xml_ft.append(
            element("FieldType", {"type": ftype}, "".join(element("Operator", o) for o in oattrs))
        )
        js_ft.append({"type": ftype, "Operator": oattrs})
    xml = element("Meta", {}, "".join(xml_types) + "".join(xml_ft))
    return xml, {"Type": js_types, "FieldType": js_ft}
