"""Async client for one Plex Media Server's HTTP API, in Plex's own terms (tokens, sections,
type codes, rating keys); `PlexMediaServer` puts the cluster's interface on top of it.

Every call takes the token to act as, so one client serves every user of its server.
Library pages (the bulk of a full sync) share one bound per server, `max_concurrency`;
everything else (single-item reads, sessions, writes: real-time replay) has its own bound,
`interactive_concurrency`, so a replay never queues behind a sync's page reads. Both are
ceilings: below them the number in flight follows how the server answers (pacing.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import httpx

from manager.servers.errors import MediaServerError, NotFound
from manager.servers.http import Answer
from manager.servers.interface import DEFAULT_PAGE_SIZE
from manager.servers.models import Library, MediaItem, ServerIdentity, Session
from manager.servers.pacing import Pacer
from manager.servers.paging import pages
from manager.servers.plex import catalogue_page, parse, state_page
from manager.servers.plex.transport import base_headers, send

LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
# Comma-joined rating keys per /library/metadata request: keeps URLs well under 8 KB.
METADATA_BATCH = 100


class PlexServerClient:
    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        client_id: str,
        *,
        name: str = "",
        max_concurrency: int = 4,
        interactive_concurrency: int = 4,
        timeout: float | None = 30.0,
        prefer_json: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.client_id = client_id
        self.name = name or self.base_url
        self.max_concurrency = max(1, max_concurrency)
        self.timeout = timeout
        self.request_count = 0
        # Ceilings: how many requests of each kind the server gets at once adapts below
        # them to how it answers (servers/pacing.py).
        self.bulk = Pacer(self.max_concurrency)
        self.interactive = Pacer(max(1, interactive_concurrency))
        self._headers = base_headers(client_id)
        # JSON is smaller and parses faster than XML; both are understood either way.
        self._headers["Accept"] = "application/json" if prefer_json else "application/xml"

    def __repr__(self) -> str:
        return f"PlexServerClient({self.name!r}, {self.base_url!r})"

    async def _request(
        self,
        method: str,
        path: str,
        token: str | None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        bulk: bool = False,
    ) -> Answer:
        merged = self._headers if not headers else {**self._headers, **headers}
        pacer = self.bulk if bulk else self.interactive
        self.request_count += 1
        return await pacer.run(
            lambda: send(
                self.http,
                method,
                self.base_url,
                path,
                headers=merged,
                token=token,
                params=params,
                timeout=self.timeout,
                target=self.name,
            )
        )

    async def _get_body(
        self,
        path: str,
        token: str | None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        bulk: bool = False,
    ) -> tuple[parse.Body, Answer]:
        response = await self._request("GET", path, token, params, headers, bulk=bulk)
        return self._decoded(response, path), response

    def _decoded(self, response: Answer, path: str) -> parse.Body:
        try:
            return parse.decode(response.content)
        except parse.ParseError as exc:
            raise MediaServerError(f"{self.name} GET {path}: {exc}", target=self.name) from None

    # --- reads -------------------------------------------------------------------------

    async def identity(self, token: str | None = None) -> ServerIdentity:
        """`/identity` needs no token but has no friendlyName; with a token `/` has both."""
        body, _ = await self._get_body("/" if token else "/identity", token)
        try:
            return parse.identity(body)
        except parse.ParseError as exc:
            raise MediaServerError(f"{self.name}: {exc}", target=self.name) from None

    async def sections(self, token: str) -> list[Library]:
        body, _ = await self._get_body("/library/sections", token)
        return parse.sections(body)

    async def count_items(self, token: str, section: Library | str, type_code: int) -> int:
        """Number of items of a type in a section (Container-Size 0: no items sent)."""
        section_id = section.id if isinstance(section, Library) else str(section)
        body, response = await self._get_body(
            f"/library/sections/{section_id}/all",
            token,
            {"type": str(type_code)},
            {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"},
        )
        return parse.total_size(body, response.headers.get("X-Plex-Container-Total-Size")) or 0

    async def _page(
        self,
        token: str,
        path: str,
        params: dict[str, str],
        start: int,
        size: int,
        parse_page: Callable[[parse.Body], list[MediaItem]],
        fast: Callable[[bytes], tuple[list[MediaItem], int | None] | None] | None = None,
    ) -> tuple[list[MediaItem], int | None]:
        """One page of a listing and the listing's total; `fast`, when given, reads the
        page first (None: not a page it reads, and `parse_page` does)."""
        response = await self._request(
            "GET",
            path,
            token,
            params,
            {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)},
            bulk=True,
        )
        header = response.headers.get("X-Plex-Container-Total-Size")
        if fast is not None and (read := fast(response.content)) is not None:
            items, total = read
            return items, parse.listing_total(total, header)
        body = self._decoded(response, path)
        return parse_page(body), parse.total_size(body, header)

    async def iter_items(
        self,
        token: str,
        section: Library | str,
        type_code: int,
        page_size: int = DEFAULT_PAGE_SIZE,
        *,
        include_guids: bool = True,
        state_only: bool = False,
        extra_params: dict[str, str] | None = None,
    ) -> AsyncIterator[list[MediaItem]]:
        """Every item of a type in a section, one page (list) at a time, in order.

        The first page tells the total; the rest are fetched up to `max_concurrency` ahead.
        User state in the items is as seen by `token`. A per-user pass that maps items to
        identities through a LibraryIndex (by rating key) can skip the <Guid>s
        (`include_guids=False`) and filter (`extra_params={"unwatched": "0"}` or
        `{"inProgress": "1"}`) to read only what the user has state for. `state_only`:
        each item with its id, kind and the user's state only (parse.states; a JSON page
        through state_page's typed decoder, a third of the CPU), no <Guid>s.
        """
        sec = section if isinstance(section, Library) else None
        section_id = sec.id if sec else str(section)
        path = f"/library/sections/{section_id}/all"
        params = {"type": str(type_code), **(extra_params or {})}
        if include_guids and not state_only:
            params["includeGuids"] = "1"
        # One interner per listing: its pages share their strings.
        whole = {
            "section_id": sec.id if sec else None,
            "section_title": sec.title if sec else None,
            "intern": parse.Interner(),
        }
        parse_page = parse.states if state_only else partial(parse.items, **whole)
        # A JSON page read into the fields it needs (msgspec), the general path its fallback.
        fast = state_page.read_states if state_only else partial(catalogue_page.read_items, **whole)

        def fetch(start: int, size: int) -> Awaitable[tuple[list[MediaItem], int | None]]:
            return self._page(token, path, params, start, size, parse_page, fast)

        async for page in pages(fetch, page_size, self.max_concurrency):
            yield page

    async def all_items(
        self,
        token: str,
        section: Library | str,
        type_code: int,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> list[MediaItem]:
        """iter_items() collected into one list (same options)."""
        out: list[MediaItem] = []
        async for page in self.iter_items(token, section, type_code, page_size, **options):
            out.extend(page)
        return out

    async def metadata(self, token: str, keys: Iterable[str] | str) -> list[MediaItem]:
        """Items by rating key (with their <Guid>s), batched; raises NotFound if none exist."""
        wanted = [keys] if isinstance(keys, str) else [str(k) for k in keys]
        out: list[MediaItem] = []
        missing: NotFound | None = None
        for n in range(0, len(wanted), METADATA_BATCH):
            batch = ",".join(wanted[n : n + METADATA_BATCH])
            try:
                body, _ = await self._get_body(
                    f"/library/metadata/{batch}", token, {"includeGuids": "1"}
                )
            except NotFound as exc:
                missing = exc
                continue
            out.extend(parse.items(body))
        if not out and missing is not None:
            raise missing
        return out

    async def item(self, token: str, rating_key: str) -> MediaItem:
        found = await self.metadata(token, [rating_key])
        for entry in found:
            if entry.id == str(rating_key):
                return entry
        raise NotFound(f"{self.name}: no item {rating_key}", status=404, target=self.name)

    async def children(self, token: str, rating_key: str) -> list[MediaItem]:
        """Seasons of a show, episodes of a season."""
        body, _ = await self._get_body(
            f"/library/metadata/{rating_key}/children", token, {"includeGuids": "1"}
        )
        return parse.items(body)

    async def all_leaves(self, token: str, rating_key: str) -> list[MediaItem]:
        """Every episode of a show (or season)."""
        body, _ = await self._get_body(
            f"/library/metadata/{rating_key}/allLeaves", token, {"includeGuids": "1"}
        )
        return parse.items(body)

    async def sessions(self, token: str) -> list[Session]:
        """What is playing now (needs the admin token to see every user's sessions)."""
        body, _ = await self._get_body("/status/sessions", token)
        return parse.sessions(body)

    # --- writes (always as the user whose state changes) --------------------------------

    async def _write(self, path: str, token: str, params: dict[str, Any]) -> None:
        await self._request("GET", path, token, {k: str(v) for k, v in params.items()})

    async def scrobble(self, token: str, rating_key: str) -> None:
        """Mark played; on a show or season every episode under it."""
        await self._write(
            "/:/scrobble", token, {"identifier": LIBRARY_IDENTIFIER, "key": rating_key}
        )

    async def unscrobble(self, token: str, rating_key: str) -> None:
        """Mark unplayed; clears the resume point too."""
        await self._write(
            "/:/unscrobble", token, {"identifier": LIBRARY_IDENTIFIER, "key": rating_key}
        )

    async def set_resume(self, token: str, rating_key: str, time_ms: int, duration_ms: int) -> None:
        """Resume point via a stopped timeline report: unlike /:/progress this works for
        shared users; Plex ignores it without the duration and a client identifier.

        `duration_ms` must be this server's duration of the item; a time past it (the
        source's copy may be a little longer) is clamped rather than refused with a 400.
        A time past the played threshold makes the server mark the item played.
        """
        if not duration_ms or duration_ms <= 0:
            raise ValueError("set_resume needs the item's duration (Plex ignores it without)")
        time_ms = max(0, min(int(time_ms), int(duration_ms)))
        await self._write(
            "/:/timeline",
            token,
            {
                "ratingKey": rating_key,
                "key": f"/library/metadata/{rating_key}",
                "identifier": LIBRARY_IDENTIFIER,
                "state": "stopped",
                "time": int(time_ms),
                "duration": int(duration_ms),
            },
        )
