"""PMS library listings: a section's items with filters, sorting and paging; metadata,
children and leaves of items."""

from __future__ import annotations

from typing import Any

from .fixture import AccountSpec
from .items import NUM_TYPE, TYPE_NUM, Item, Section
from .pms_base import ALL_TITLES, LIBRARY_ID, HTTPError, ServerBase, int_param
from .pms_search import search_filters, search_meta
from .render import container, element, item_json, item_xml
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
        filters = search_filters(q)
        aid = acct.id
        with self._lock:
            if filters:
                candidates = [it for it in candidates if self._match(aid, it, filters)]
            sort = q.get("sort")
            if sort:
                candidates = self._sorted(aid, candidates, sort)
            extra = None
            if q.get("includeMeta") == "1":
                extra = search_meta(sec)
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
            elif field in ("lastViewedAt>>", "lastViewedAt<<"):
                when = int_param(value)
                if when is None:
                    raise HTTPError(400)
                st = self._state.of(aid).get(item.rating_key)
                seen = st.last_viewed_at if st is not None else None
                if seen is None or (seen <= when if field.endswith(">>") else seen >= when):
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
