"""Async client for one Jellyfin or Emby server's HTTP API, in the cluster's models.

Every call takes the key to act with and, where a user's state is read or written, that
user's id: one admin API key acts for every user of its server. Library pages (the bulk of
a full sync) share one bound per server, `max_concurrency`; everything else (single-item
reads, sessions, writes: real-time replay) has its own, `interactive_concurrency`, so a
replay never queues behind a sync. Both are ceilings: below them the number in flight
follows how the server answers (servers/pacing.py).

Episodes name their series by id only; the series' external ids (what matches an episode
across servers) are read once for all the new series of a page and kept for a while,
never once per episode.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from manager.event import REPLAY_HEADER
from manager.servers import json_body
from manager.servers.errors import BadRequest, MediaServerError, NotFound, Unauthorized
from manager.servers.http import Answer, send
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.jellyfin import parse
from manager.servers.jellyfin.dialect import Dialect, Route
from manager.servers.jellyfin.parse import Account, Device
from manager.servers.models import Library, MediaItem, ServerIdentity, Session
from manager.servers.pacing import Pacer
from manager.servers.paging import pages

# Comma-joined ids per `Ids=` request: 100 × 32 hex digits keeps URLs near 3 KB.
IDS_BATCH = 100
# ProviderIds is not in an item query's answer unless asked for.
LIST_FIELDS = "ProviderIds"
# Single reads also count a show's or season's episodes (and, with UnplayedItemCount in the
# user data, how many were played): too costly for every page of a full sync.
ITEM_FIELDS = "ProviderIds,RecursiveItemCount"
SERIES_TTL = 3600.0  # a series' external ids change only when its metadata is fixed


class JellyfinClient:
    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        client_id: str,
        *,
        dialect: str,
        name: str = "",
        max_concurrency: int = 4,
        interactive_concurrency: int = 4,
        timeout: float | None = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.client_id = client_id
        self.dialect = Dialect(dialect)
        self.name = name or self.base_url
        self.max_concurrency = max(1, max_concurrency)
        self.timeout = timeout
        self.request_count = 0
        self.bulk = Pacer(self.max_concurrency)
        self.interactive = Pacer(max(1, interactive_concurrency))
        # series id → (its external ids, read at monotonic time)
        self._series: dict[str, tuple[tuple[str, ...], float]] = {}
        # A server that answered 404 on the 10.9 routes but not on the legacy ones is older.
        self._legacy_writes = False

    def __repr__(self) -> str:
        return f"JellyfinClient({self.name!r}, {self.base_url!r}, {self.dialect.name!r})"

    async def _request(
        self,
        method: str,
        path: str,
        token: str | None,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        *,
        bulk: bool = False,
    ) -> Answer:
        headers = {REPLAY_HEADER: "1", "Accept": "application/json"}
        headers.update(self.dialect.auth_headers(self.client_id, token))
        pacer = self.bulk if bulk else self.interactive
        self.request_count += 1
        try:
            return await pacer.run(
                lambda: send(
                    self.http,
                    method,
                    self.base_url + path,
                    headers=headers,
                    params=params,
                    json=body,
                    timeout=self.timeout,
                    target=self.name,
                    where=f"{self.name} {method} {path}",
                )
            )
        except BadRequest as exc:
            # 403: the key is good but may not do this (not an admin's): an auth problem.
            if exc.status == 403:
                raise Unauthorized(str(exc), status=403, target=self.name) from None
            raise

    async def _get(
        self,
        path: str,
        token: str | None,
        params: Mapping[str, str] | None = None,
        *,
        bulk: bool = False,
    ) -> Any:
        response = await self._request("GET", path, token, params, bulk=bulk)
        try:
            return json_body.loads(response.content) if response.content.strip() else None
        except ValueError:
            raise MediaServerError(
                f"{self.name} GET {path}: unreadable answer", target=self.name
            ) from None

    # --- reads -------------------------------------------------------------------------

    async def identity(self) -> ServerIdentity:
        data = await self._get("/System/Info/Public", None)
        try:
            return parse.identity(data)
        except parse.ParseError as exc:
            raise MediaServerError(f"{self.name}: {exc}", target=self.name) from None

    async def libraries(self, token: str, user: str | None) -> list[Library]:
        """The libraries that user sees (their views), or all of them for the admin."""
        if user is None:
            return parse.libraries(await self._get("/Library/VirtualFolders", token))
        routes = self.dialect.views(user)
        for n, (path, query) in enumerate(routes):
            try:
                return parse.libraries(await self._get(path, token, query))
            except NotFound:
                if n == len(routes) - 1:
                    raise
        return []

    async def _query(
        self,
        token: str,
        user: str | None,
        params: Mapping[str, str],
        *,
        bulk: bool = False,
    ) -> tuple[list[Mapping[str, Any]], int | None]:
        path, base = self.dialect.items(user)
        data = await self._get(path, token, {**base, **params}, bulk=bulk)
        try:
            return parse.entries(data)
        except parse.ParseError as exc:
            raise MediaServerError(f"{self.name} GET {path}: {exc}", target=self.name) from None

    async def _to_items(
        self, token: str, nodes: list[Mapping[str, Any]], library: Library | None
    ) -> list[MediaItem]:
        show_ids = await self._series_ids(token, {s for n in nodes if (s := parse.series_of(n))})
        return parse.items(nodes, show_ids, library)

    async def _series_ids(self, token: str, wanted: set[str]) -> dict[str, tuple[str, ...]]:
        """External ids of these series: from the cache, the rest in one request per batch."""
        now = time.monotonic()
        known = {s: e[0] for s in wanted if (e := self._series.get(s)) and now - e[1] < SERIES_TTL}
        missing = sorted(wanted - known.keys())
        for n in range(0, len(missing), IDS_BATCH):
            batch = ",".join(missing[n : n + IDS_BATCH])
            nodes, _ = await self._query(token, None, {"Ids": batch, "Fields": LIST_FIELDS})
            for node in nodes:
                series = parse.canonical_id(node.get("Id"))
                ids = parse.external_ids(node)
                self._series[series] = (ids, now)
                known[series] = ids
        return known

    def _remember_series(self, found: Iterable[MediaItem]) -> None:
        """A listing of shows tells their external ids for free."""
        now = time.monotonic()
        for entry in found:
            if entry.kind == "show":
                self._series[entry.id] = (entry.external_ids, now)

    def iter_items(
        self,
        token: str,
        user: str | None,
        library: Library,
        item_type: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        state_only: bool = False,
    ) -> AsyncIterator[list[MediaItem]]:
        """Every item of a type (Movie, Series, Season, Episode) in a library, with that
        user's state, a page at a time, in order; no request per item. `state_only`:
        without external ids (neither the items' nor their series')."""
        params = {
            "ParentId": library.id,
            "Recursive": "true",
            "IncludeItemTypes": item_type,
            "SortBy": "SortName",  # a stable order, so that pages read at once fit together
            "SortOrder": "Ascending",
            "EnableImages": "false",
        }
        if not state_only:
            params["Fields"] = LIST_FIELDS

        async def fetch(start: int, size: int) -> tuple[list[MediaItem], int | None]:
            page = {**params, "StartIndex": str(start), "Limit": str(size)}
            nodes, total = await self._query(token, user, page, bulk=True)
            if state_only:
                return parse.items(nodes, {}, library), total
            found = await self._to_items(token, nodes, library)
            # Only a listing with ProviderIds tells a show's ids: a state-only one would
            # leave them empty in the cache for SERIES_TTL.
            self._remember_series(found)
            return found, total

        return pages(fetch, page_size, self.max_concurrency)

    async def iter_recent(
        self,
        token: str,
        user: str,
        library: Library,
        item_type: str,
        since: int,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[list[MediaItem]]:
        """The items of a type the user played, or left a resume point in, after `since`
        (epoch s): the played and the resumable ones, newest first (`SortBy=DatePlayed`),
        read until a page reaches back past `since`. Both servers keep the date of the
        user's last play with their data and sort by it; neither filters on it."""
        seen: set[str] = set()
        for wanted in ("IsPlayed", "IsResumable"):
            start = 0
            while True:
                params = {
                    "ParentId": library.id,
                    "Recursive": "true",
                    "IncludeItemTypes": item_type,
                    "Fields": LIST_FIELDS,
                    "Filters": wanted,
                    "SortBy": "DatePlayed",
                    "SortOrder": "Descending",
                    "EnableImages": "false",
                    "StartIndex": str(start),
                    "Limit": str(page_size),
                }
                nodes, _ = await self._query(token, user, params, bulk=True)
                found = await self._to_items(token, nodes, library)
                self._remember_series(found)
                newer = [
                    i for i in found if i.last_played_at is not None and i.last_played_at > since
                ]
                fresh = [i for i in newer if i.id not in seen]
                seen.update(i.id for i in fresh)
                if fresh:
                    yield fresh
                if len(newer) < len(found) or len(found) < page_size:
                    break  # this page reached back past `since`, or was the last
                start += page_size

    async def by_ids(self, token: str, user: str | None, ids: Iterable[str]) -> list[MediaItem]:
        """These items with that user's state, batched; unknown ones are left out."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        out: list[MediaItem] = []
        for n in range(0, len(wanted), IDS_BATCH):
            batch = ",".join(wanted[n : n + IDS_BATCH])
            params = {"Ids": batch, "Fields": ITEM_FIELDS, "EnableImages": "false"}
            try:
                nodes, _ = await self._query(token, user, params)
            except NotFound:
                continue
            except BadRequest as exc:
                if exc.status != 400:
                    raise
                continue  # an id Jellyfin cannot parse as its own (not a GUID): no such item
            out.extend(await self._to_items(token, nodes, None))
        return out

    async def item(self, token: str, user: str | None, item_id: str) -> MediaItem:
        wanted = parse.canonical_id(item_id)
        for entry in await self.by_ids(token, user, [wanted]):
            if entry.id == wanted:
                return entry
        raise NotFound(f"{self.name}: no item {item_id}", status=404, target=self.name)

    async def episodes(self, token: str, user: str | None, container_id: str) -> list[MediaItem]:
        """Every episode under a series or a season (both are their episodes' ancestors)."""
        params = {
            "ParentId": container_id,
            "Recursive": "true",
            "IncludeItemTypes": "Episode",
            "Fields": LIST_FIELDS,
            "EnableImages": "false",
        }
        nodes, _ = await self._query(token, user, params)
        return await self._to_items(token, nodes, None)

    async def sessions(self, token: str) -> list[Session]:
        """What is playing now (the admin key sees every user's sessions)."""
        return parse.sessions(await self._get("/Sessions", token))

    async def devices(self, token: str) -> list[Device]:
        """Every connected client and its user, idle ones too (the admin key sees all)."""
        return parse.devices(await self._get("/Sessions", token))

    async def users(self, token: str) -> list[Account]:
        return parse.accounts(await self._get("/Users", token))

    async def me(self, token: str) -> Account | None:
        """The user a token belongs to (Jellyfin only); None for a key that is nobody's
        (an API key: Jellyfin answers 400) or a token the server does not know."""
        try:
            return parse.account(await self._get("/Users/Me", token))
        except (Unauthorized, BadRequest, NotFound):
            return None

    # --- writes (always for a named user; the admin key acts on their behalf) ------------

    async def _write(self, method: str, token: str, routes: list[Route], body: Any = None) -> None:
        """The first route the server knows; the next only on 404 (a 10.8 Jellyfin lacks
        the newer routes), remembered so later writes go straight to the one that works."""
        if self._legacy_writes and len(routes) > 1:
            routes = routes[1:]
        for n, (path, query) in enumerate(routes):
            try:
                await self._request(method, path, token, query, body)
                if n > 0:
                    self._legacy_writes = True
                return
            except NotFound:
                if n == len(routes) - 1:
                    raise

    async def mark_played(self, token: str, user: str, item_id: str) -> None:
        # yyyyMMddHHmmss in UTC: the legacy date form, which both servers read as UTC.
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        await self._write("POST", token, self.dialect.played(user, item_id, stamp))

    async def mark_unplayed(self, token: str, user: str, item_id: str) -> None:
        await self._write("DELETE", token, self.dialect.played(user, item_id, None))

    async def set_resume(self, token: str, user: str, item_id: str, position_ms: int) -> None:
        """A resume point written as the user's data (a playback report made with an admin
        key would belong to no user). The date makes it the user's latest change."""
        body = {
            "PlaybackPositionTicks": max(0, int(position_ms)) * parse.TICKS_PER_MS,
            "Played": False,
            "LastPlayedDate": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        await self._write("POST", token, self.dialect.user_data(user, item_id), body)
