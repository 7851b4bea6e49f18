"""The dashboard over real sockets: the manager in-process (its own thread and loop) on
the emulated demo cluster, httpx as the browser. Login, cookie flags, CSRF, every page,
and the JSON API still on bearer tokens only."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from manager.app.dashboard.session import COOKIE
from manager.app.service import Service, serve
from tests.fakeplex import start_cluster
from tests.support.configs import MANAGER_TOKEN, manager_config
from tests.support.events import event_for
from tests.support.polling import wait_for

PAGES = ("servers", "users", "activity", "outbox", "unmatched", "sync")


@dataclass
class Live:
    url: str
    service: Service
    loop: asyncio.AbstractEventLoop

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(20)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir: Path = tmp_path_factory.mktemp("dash")
    with start_cluster("demo") as cluster:
        cfg = manager_config(cluster, workdir, sync={"schedule": "0 3 * * *"})
        got: dict[str, Any] = {}
        up = threading.Event()

        async def main() -> None:
            got["loop"], got["stop"] = asyncio.get_running_loop(), asyncio.Event()

            def ready(svc: Service) -> None:
                got["svc"] = svc
                up.set()

            await serve(cfg, got["stop"], ready)

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert up.wait(30), "manager did not start"
        svc: Service = got["svc"]
        assert svc.address is not None
        world = Live(f"http://{svc.address[0]}:{svc.address[1]}", svc, got["loop"])
        wait_for(svc.ready.is_set, 30, "manager ready")
        # One real event, so the activity and servers pages have something to show.
        world.run(svc.accept([event_for(cluster, "alice", "inception")]))
        wait_for(lambda: svc.runtime.handler.events_handled, 20, "event handled")
        try:
            yield world
        finally:
            got["loop"].call_soon_threadsafe(got["stop"].set)
            thread.join(30)


def log_in(client: httpx.Client) -> str:
    """Logs the client in; the page's CSRF token."""
    answer = client.post("/dashboard/login", data={"token": MANAGER_TOKEN})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/dashboard/servers").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def test_pages_need_a_login(live: Live) -> None:
    with live.client() as client:
        for name in PAGES:
            answer = client.get(f"/dashboard/{name}")
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/dashboard/login?next=/dashboard/{name}"
        assert client.get("/dashboard").headers["location"] == "/dashboard/servers"
        login = client.get("/dashboard/login?next=/dashboard/outbox")
        assert login.status_code == 200 and 'type="password"' in login.text
        assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
        # The stylesheet is public: the login page needs it.
        css = client.get("/dashboard/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_a_wrong_token_is_refused_and_sets_no_cookie(live: Live) -> None:
    with live.client() as client:
        for token in ("wrong", MANAGER_TOKEN + "x", "", MANAGER_TOKEN[:-1]):
            answer = client.post("/dashboard/login", data={"token": token})
            assert answer.status_code == 401
            assert "set-cookie" not in answer.headers
            assert "not the manager" in answer.text
        assert client.get("/dashboard/servers").status_code == 303


def test_the_session_cookie_is_signed_httponly_and_strict(live: Live) -> None:
    with live.client() as client:
        answer = client.post(
            "/dashboard/login", data={"token": MANAGER_TOKEN, "next": "/dashboard/users"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/dashboard/users"
        cookie = answer.headers["set-cookie"]
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "path", "max-age"} <= flags
        assert "samesite=strict" in cookie.lower() and "path=/dashboard" in cookie.lower()
        assert "secure" not in flags  # plain http here; https gets Secure
        behind_tls = client.post(
            "/dashboard/login",
            data={"token": MANAGER_TOKEN},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "secure" in behind_tls.headers["set-cookie"].lower()
        value = cookie.split(";")[0].split("=", 1)[1]
        assert MANAGER_TOKEN not in value
        # A tampered cookie is no session.
        forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
        with live.client() as other:
            other.cookies.set(COOKIE, forged, path="/dashboard")
            assert other.get("/dashboard/servers").status_code == 303


def test_never_to_another_site_after_login(live: Live) -> None:
    with live.client() as client:
        for target in ("//evil.example/x", "https://evil.example/", "/dashboard/../api/v1/x"):
            answer = client.post("/dashboard/login", data={"token": MANAGER_TOKEN, "next": target})
            location = answer.headers["location"]
            assert location in ("/dashboard/servers", target) and location.startswith("/dashboard/")
            assert "evil" not in location


def test_every_page_renders_and_shows_no_secret(live: Live) -> None:
    config = live.service.config
    secrets = [config.token, *(s.token for s in config.servers)]
    with live.client() as client:
        log_in(client)
        for name in PAGES:
            answer = client.get(f"/dashboard/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["cache-control"] == "no-store"
            for secret in secrets:
                assert secret not in answer.text, name
        servers = client.get("/dashboard/servers").text
        assert servers.count('class="pill ok">up<') == 3
        activity = client.get("/dashboard/activity?user=alice").text
        assert "Inception" in activity and "queued" in activity
        assert "Inception" not in client.get("/dashboard/activity?user=bob").text
        assert "full sync" in client.get("/dashboard/sync").text
        assert client.get("/dashboard/nothing").status_code == 404
        assert client.get("/dashboard/logout").status_code == 405
        assert client.post("/dashboard").status_code == 303
        assert client.head("/dashboard/servers").status_code == 200


def test_forms_need_the_session_csrf_token_and_our_origin(live: Live) -> None:
    with live.client() as client:
        csrf = log_in(client)
        assert client.post("/dashboard/outbox/retry", data={"row": "all"}).status_code == 403
        bad = client.post("/dashboard/outbox/retry", data={"row": "all", "csrf": csrf + "x"})
        assert bad.status_code == 403
        foreign = client.post(
            "/dashboard/outbox/retry",
            data={"row": "all", "csrf": csrf},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
        ok = client.post("/dashboard/outbox/retry", data={"row": "all", "csrf": csrf})
        assert ok.status_code == 303 and ok.headers["location"].startswith("/dashboard/outbox")
        # Another session's token is not this one's.
        with live.client() as other:
            other_csrf = log_in(other)
        assert other_csrf != csrf
        crossed = client.post("/dashboard/sync/preview", data={"csrf": other_csrf})
        assert crossed.status_code == 403
    with live.client() as anonymous:
        assert anonymous.post("/dashboard/sync/run", data={"csrf": csrf}).status_code == 403


def test_logout_ends_the_session_even_for_a_copied_cookie(live: Live) -> None:
    with live.client() as client:
        csrf = log_in(client)
        copied = client.cookies.get(COOKIE)
        answer = client.post("/dashboard/logout", data={"csrf": csrf})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
        assert "max-age=0" in answer.headers["set-cookie"].lower()
    with live.client() as thief:
        thief.cookies.set(COOKIE, copied or "", path="/dashboard")
        assert thief.get("/dashboard/servers").status_code == 303


def test_the_api_keeps_bearer_tokens_only(live: Live) -> None:
    with live.client() as client:
        log_in(client)
        assert client.get("/api/v1/status").status_code == 401
        bearer = {"Authorization": f"Bearer {MANAGER_TOKEN}"}
        assert client.get("/api/v1/status", headers=bearer).status_code == 200
        assert client.get("/health").json() == {"status": "ok"}


def test_the_dry_run_preview_and_a_real_run_from_the_sync_page(live: Live) -> None:
    with live.client() as client:
        csrf = log_in(client)
        answer = client.post("/dashboard/sync/preview", data={"csrf": csrf})
        assert answer.status_code == 303
        wait_for(lambda: not live.service.dashboard.syncs.previewing, 60, "dry run done")
        page = client.get("/dashboard/sync").text
        assert "writes would be made" in page
        preview = live.service.dashboard.syncs.preview
        assert preview is not None and preview.error is None
        runs_before = page.count('class="card run"')
        assert client.post("/dashboard/sync/run", data={"csrf": csrf}).status_code == 303
        wait_for(lambda: live.service.dashboard.syncs.run_started_at is None, 60, "sync done")
        page = client.get("/dashboard/sync").text
        assert page.count('class="card run"') == runs_before + 1
        assert "Next full sync" in page and "0 3 * * *" in page
