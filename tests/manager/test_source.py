"""Which configured server an event comes from."""

from __future__ import annotations

import httpx

from manager.config import parse_config
from manager.event import PlaybackEvent
from manager.realtime.interpret import source_of
from manager.servers import kinds
from manager.servers.index import LibraryIndex
from manager.servers.models import Credential
from manager.servers.server import Server


def test_source_by_machine_id_then_url_then_alias() -> None:
    cfg = parse_config(
        {
            "token": "t",
            "servers": [
                {"name": "home", "url": "http://192.0.2.10:32400", "token": "a",
                 "aliases": ["plex-home.example:32401", "plex-home.example"]},
                {"name": "remote", "url": "https://192.0.2.20:32400", "token": "b"},
            ],
        },
        "cfg.yml",
        {},
    )  # fmt: skip
    http = httpx.AsyncClient()  # never used: nothing here talks to a server
    servers = []
    for s in cfg.servers:
        api = kinds.media_server(s, http, "test-client")
        servers.append(Server(s, api, LibraryIndex(api, Credential(s.token))))
    servers[1].server_id = "remote-machine-id"

    def source(url: str, machine: str | None = None) -> str | None:
        event = PlaybackEvent(
            kind="scrobble", rating_key="1", token="t", upstream_url=url,
            machine_identifier=machine,
        )  # fmt: skip
        found = source_of(event, servers)
        return found.name if found else None

    assert source("http://10.9.9.9:1", "remote-machine-id") == "remote"
    assert source("http://192.0.2.10:32400") == "home"
    assert source("https://192.0.2.20:32400/") == "remote"
    assert source("https://plex-home.example:32401") == "home"  # legacy payload's Host
    assert source("https://plex-home.example:443") == "home"  # alias without a port
    assert source("https://elsewhere.example:32401") is None
