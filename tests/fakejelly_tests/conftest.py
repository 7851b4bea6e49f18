"""Fixtures of the Jellyfin/Emby emulator's tests: the mixed cluster and logged-in real clients."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import emby_client
import pytest
from jellyfin_apiclient_python import JellyfinClient

from tests.fakeplex import Cluster, start_cluster


@pytest.fixture
def mixed() -> Iterator[Cluster]:
    with start_cluster("mixed") as cluster:
        yield cluster


@pytest.fixture
def jf_login(mixed: Cluster) -> Iterator[Callable[[str], JellyfinClient]]:
    """A jellyfin-apiclient-python client, connected and logged in on `jelly` as the account."""
    clients: list[JellyfinClient] = []
    # The client logs every request at INFO; keep test output readable.
    logging.getLogger("JELLYFIN").setLevel(logging.WARNING)

    def login(account: str) -> JellyfinClient:
        srv = mixed.jellyfin("jelly")
        client = JellyfinClient()
        client.config.app("plex-cluster-tests", "1.0", f"{account}-box", f"dev-{account}")
        client.config.data["auth.ssl"] = False
        state = client.auth.connect_to_address(srv.url)
        assert state["State"] is not None
        data = client.auth.login(srv.url, srv.display_names[account], srv.passwords[account])
        assert data, f"login as {account} failed"
        client.logged_in = True
        client.start()
        clients.append(client)
        return client

    yield login
    for c in clients:
        c.stop()


@pytest.fixture
def emby_api(mixed: Cluster) -> Callable[[str | None], Any]:
    """An embyclient ApiClient on `emby` with the account's access token (None: the API key),
    sent as the api_key query parameter, the only scheme the generated client applies."""

    def make(account: str | None) -> Any:
        srv = mixed.jellyfin("emby")
        cfg = emby_client.Configuration()
        cfg.host = srv.url + "/emby"
        cfg.api_key["api_key"] = srv.api_key if account is None else srv.user_tokens[account]
        return emby_client.ApiClient(cfg)

    return make
