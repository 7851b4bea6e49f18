"""Plain-HTTP helpers for the emulator's tests: clients as the owner or a user, and the
parsed XML of a successful answer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from tests.fakeplex import Cluster, FakeServer

CID = {"X-Plex-Client-Identifier": "test-client-1"}


def xml(resp: httpx.Response) -> ET.Element:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/xml")
    return ET.fromstring(resp.content)


def owner(srv: FakeServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"X-Plex-Token": srv.owner_token, **CID})


def as_user(cluster: Cluster, user: str, server: str) -> httpx.Client:
    srv = cluster.servers[server]
    return httpx.Client(
        base_url=srv.url, headers={"X-Plex-Token": cluster.token_for(user, server), **CID}
    )
