"""Async client for plex.tv: who a token is, the admin's users and their server tokens.

plex.tv rate-limits token fetching (429): every call waits out a shared cool-down after
one, retries with capped exponential backoff (honouring Retry-After), and gives up with
RateLimited. v2 endpoints answer JSON on request; /api/users and shared_servers are XML.
Both shapes are read either way.
"""

from __future__ import annotations

import asyncio
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from manager.logs import get_logger
from manager.servers.errors import MediaServerError, RateLimited, ServerFault, Unreachable
from manager.servers.plex import parse
from manager.servers.plex.models import HomeUser, PlexAccount, PlexTvUser, Resource, SharedServer
from manager.servers.plex.transport import base_headers, send

log = get_logger("manager.servers.plex.plextv")

DEFAULT_BASE_URL = "https://plex.tv"


def _nodes(body: parse.Body, xml_tag: str, json_keys: tuple[str, ...]) -> Iterator[Any]:
    """Entries of a plex.tv answer: XML elements by tag (case-insensitive), JSON by keys."""
    if isinstance(body, ET.Element):
        wanted = xml_tag.lower()
        for el in body.iter():
            if el.tag.lower() == wanted:
                yield el
        return
    for key in json_keys:
        value = body.get(key)
        if isinstance(value, list):
            yield from (v for v in value if isinstance(v, dict))
            return


def _a(node: Any) -> Mapping[str, Any]:
    return node.attrib if isinstance(node, ET.Element) else node


class PlexTvClient:
    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        client_id: str,
        *,
        timeout: float | None = 30.0,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        max_concurrency: int = 4,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.http = http
        self.client_id = client_id
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.request_count = 0
        self.rate_limited_count = 0
        self._cooldown_until = 0.0
        self._limit = asyncio.Semaphore(max(1, max_concurrency))
        self._headers = {**base_headers(client_id), "Accept": "application/json"}

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.backoff_max, retry_after)
        jitter = random.uniform(0.8, 1.2)  # keeps several managers from retrying in step
        return min(self.backoff_max, self.backoff_base * (2**attempt) * jitter)

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        params: dict[str, str] | None = None,
    ) -> parse.Body:
        attempt = 0
        while True:
            wait = self._cooldown_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                async with self._limit:
                    self.request_count += 1
                    response = await send(
                        self.http,
                        method,
                        self.base_url,
                        path,
                        headers=self._headers,
                        token=token,
                        params=params,
                        timeout=self.timeout,
                        target="plex.tv",
                    )
            except (RateLimited, ServerFault, Unreachable) as exc:
                if attempt >= self.max_retries:
                    raise
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = self._delay(attempt, retry_after)
                if isinstance(exc, RateLimited):
                    self.rate_limited_count += 1
                    # Everyone waits: the limit is per account/IP, not per call.
                    self._cooldown_until = max(self._cooldown_until, time.monotonic() + delay)
                log.warning(
                    "plex.tv request failed, retrying",
                    path=path,
                    status=exc.status,
                    error=type(exc).__name__,
                    retry_in=round(delay, 2),
                    attempt=attempt + 1,
                )
                attempt += 1
                if not isinstance(exc, RateLimited):
                    await asyncio.sleep(delay)
                continue
            try:
                return parse.decode(response.content)
            except parse.ParseError as exc:
                raise MediaServerError(
                    f"plex.tv {method} {path}: {exc}", target="plex.tv"
                ) from None

    async def account(self, token: str) -> PlexAccount:
        """Who owns this token; Unauthorized if plex.tv does not know it."""
        body = await self._call("GET", "/api/v2/user", token)
        a = _a(body)
        if isinstance(body, ET.Element) and body.tag.lower() != "user":
            user = body.find("user")
            a = user.attrib if user is not None else a
        return PlexAccount(
            id=parse.as_int(a.get("id")) or 0,
            uuid=parse.as_str(a.get("uuid")) or "",
            username=parse.as_str(a.get("username")) or "",
            title=parse.as_str(a.get("title")) or "",
            email=parse.as_str(a.get("email")) or "",
            home=parse.as_bool(a.get("home", False)),
            restricted=parse.as_bool(a.get("restricted", False)),
        )

    async def users(self, admin_token: str) -> list[PlexTvUser]:
        """The admin's friends and Home members with the servers each can use."""
        body = await self._call("GET", "/api/users/", admin_token)
        out: list[PlexTvUser] = []
        for node in _nodes(body, "User", ("User", "users", "items")):
            a = _a(node)
            if isinstance(node, ET.Element):
                servers = [s.get("machineIdentifier") or "" for s in node.iter("Server")]
            else:
                raw = node.get("Server") or node.get("servers") or []
                servers = [parse.as_str(s.get("machineIdentifier")) or "" for s in raw]
            out.append(
                PlexTvUser(
                    id=parse.as_int(a.get("id")) or 0,
                    title=parse.as_str(a.get("title")) or "",
                    username=parse.as_str(a.get("username")) or "",
                    email=parse.as_str(a.get("email")) or "",
                    home=parse.as_bool(a.get("home", False)),
                    restricted=parse.as_bool(a.get("restricted", False)),
                    machine_identifiers=tuple(s for s in servers if s),
                )
            )
        return out

    async def shared_servers(self, admin_token: str, machine_id: str) -> list[SharedServer]:
        """Every user the server is shared with, and their access token for it."""
        body = await self._call("GET", f"/api/servers/{machine_id}/shared_servers", admin_token)
        out: list[SharedServer] = []
        for node in _nodes(body, "SharedServer", ("SharedServer", "sharedServers", "items")):
            a = _a(node)
            token = parse.as_str(a.get("accessToken"))
            user_id = parse.as_int(a.get("userID") or a.get("userId"))
            if not token or not user_id:
                continue
            out.append(
                SharedServer(
                    user_id=user_id,
                    username=parse.as_str(a.get("username")) or "",
                    email=parse.as_str(a.get("email")) or "",
                    access_token=token,
                    machine_identifier=parse.as_str(a.get("machineIdentifier")) or machine_id,
                )
            )
        return out

    async def home_users(self, admin_token: str) -> list[HomeUser]:
        """Members of the admin's Plex Home, the admin included (admin=True)."""
        body = await self._call("GET", "/api/v2/home/users", admin_token)
        out: list[HomeUser] = []
        for node in _nodes(body, "User", ("users", "User", "items")):
            a = _a(node)
            out.append(
                HomeUser(
                    id=parse.as_int(a.get("id")) or 0,
                    uuid=parse.as_str(a.get("uuid")) or "",
                    title=parse.as_str(a.get("title")) or "",
                    username=parse.as_str(a.get("username")) or "",
                    admin=parse.as_bool(a.get("admin", False)),
                    guest=parse.as_bool(a.get("guest", False)),
                    restricted=parse.as_bool(a.get("restricted", False)),
                    protected=parse.as_bool(a.get("protected", a.get("hasPassword", False))),
                )
            )
        return out

    async def switch_home_user(
        self, admin_token: str, user_id_or_uuid: int | str, pin: str | None = None
    ) -> str:
        """A plex.tv token acting as that Home user.

        A numeric id uses `/api/home/users/{id}/switch` (XML, as python-plexapi does), a
        uuid `/api/v2/home/users/{uuid}/switch` (JSON `authToken`).
        """
        ident = str(user_id_or_uuid)
        params = {"pin": pin} if pin else None
        if ident.isdigit():
            path = f"/api/home/users/{ident}/switch"
        else:
            path = f"/api/v2/home/users/{ident}/switch"
        body = await self._call("POST", path, admin_token, params)
        a = _a(body)
        token = parse.as_str(a.get("authToken") or a.get("authenticationToken"))
        if not token and isinstance(body, ET.Element):
            user = body.find("user")
            if user is not None:
                token = user.get("authToken") or user.get("authenticationToken")
        if not token:
            raise MediaServerError("plex.tv switch answered without a token", target="plex.tv")
        return token

    async def resources(self, token: str) -> list[Resource]:
        """Devices (servers) reachable with this token, each server with its access token."""
        body = await self._call(
            "GET", "/api/v2/resources", token, {"includeHttps": "1", "includeRelay": "1"}
        )
        out: list[Resource] = []
        for node in _nodes(body, "resource", ("items", "resources", "Device")):
            a = _a(node)
            ident = parse.as_str(a.get("clientIdentifier"))
            if not ident:
                continue
            out.append(
                Resource(
                    client_identifier=ident,
                    name=parse.as_str(a.get("name")) or "",
                    provides=parse.as_str(a.get("provides")) or "",
                    owned=parse.as_bool(a.get("owned", False)),
                    access_token=parse.as_str(a.get("accessToken")) or "",
                )
            )
        return out
