"""The dashboard in a real browser (issue 14 §1): Debian's Chromium, headless, driven by
Playwright's Python API against the mixed demo cluster (Plex, Jellyfin and Emby, a proxy
in front of each, the manager as a subprocess). Log in, see three servers up, mark a
movie played with python-plexapi through the Plex proxy, see it on the activity page.

`DASHBOARD_SCREENSHOTS=docs/dashboard` (`make screenshots`) also plays a little more of
the world (a resume point, a change made behind the proxies' back, a server down) and
saves a picture of every page there; a plain test run takes none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from plexapi.server import PlexServer

from tests.support.configs import MANAGER_TOKEN
from tests.support.live_cluster import addon_available
from tests.support.mixed_world import MixedWorld, running_mixed_world
from tests.support.polling import wait_for

CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("DASHBOARD_SCREENSHOTS", "")

pytestmark = [
    pytest.mark.skipif(not addon_available(), reason="proxy addon not in the tree"),
    # make test installs it where it is missing; CI must not pass by skipping.
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason=f"{CHROMIUM} missing (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MixedWorld]:
    with running_mixed_world(tmp_path_factory.mktemp("dash-browser")) as world:
        yield world


@pytest.fixture(scope="module")
def page(world: MixedWorld) -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 820})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def reload_until(page: Page, text: str, timeout: float = 20.0) -> None:
    """The pages do not push: reload until `text` is on it (as a person would)."""
    deadline = time.monotonic() + timeout
    while text not in page.content():
        assert time.monotonic() < deadline, f"{text!r} never appeared on {page.url}"
        time.sleep(0.3)
        page.reload()


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_log_in_see_the_servers_and_a_change_made_through_a_proxy(
    world: MixedWorld, page: Page
) -> None:
    started = time.monotonic()
    p = page
    base = world.manager.url + "/dashboard"

    p.goto(base + "/servers")
    assert p.url.startswith(base + "/login")
    shoot(p, "login")
    p.fill("#token", "not-the-token")
    p.click("button.primary")
    expect(p.locator(".error")).to_contain_text("not the manager")
    p.fill("#token", MANAGER_TOKEN)
    p.click("button.primary")
    expect(p.locator("h1")).to_have_text("Servers")

    cookies = {c["name"]: c for c in p.context.cookies()}
    (session,) = cookies.values()
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/dashboard" and MANAGER_TOKEN not in session["value"]
    assert p.evaluate("document.cookie") == ""  # HttpOnly: no script reads it

    up = p.locator("article.server .pill.ok")
    expect(up).to_have_count(3)
    expect(p.locator(".summary")).to_contain_text("3 of 3 up")

    # A change through the Plex proxy: admin marks Inception played (Jellyfin has it,
    # Emby does not).
    movie = world.plex("admin").fetchItem(int(world.item("plex", "inception")))
    movie.markPlayed()
    p.goto(base + "/activity?user=admin")
    reload_until(p, "applied")
    row = p.locator("tr.write", has_text="Inception").filter(has_text="jelly")
    expect(row.first).to_contain_text("applied")
    event = p.locator("tr.event", has_text="Inception")
    expect(event.first).to_contain_text("not found on emby")
    p.goto(base + "/unmatched")
    expect(p.locator("tbody tr", has_text="Inception")).to_contain_text("emby")

    if SHOTS:
        _more_pictures(world, p, base)

    p.click("text=Log out")
    expect(p.locator("h1")).to_have_text("Log in")
    p.goto(base + "/servers")
    assert p.url.startswith(base + "/login")
    print(f"browser test: {time.monotonic() - started:.1f} s in the browser")


def _more_pictures(world: MixedWorld, p: Page, base: str) -> None:
    """The rest of the world's story, a picture of each page (only when asked)."""
    plex = world.plex("alice")
    plex.fetchItem(int(world.item("plex", "matrix"))).updateTimeline(
        1_200_000, "stopped", 8_160_000
    )
    # Behind the proxies' back (no event): only a full sync finds it.
    direct = PlexServer(world.cluster.servers["plex"].url, world.cluster.token_for("bob", "plex"))
    direct.fetchItem(int(world.item("plex", "arrival"))).markPlayed()
    wait_for(lambda: world.state("jelly", "alice", "matrix")["position_ms"], 20, "resume")

    for name in ("servers", "users", "activity", "unmatched"):
        p.goto(f"{base}/{name}")
        shoot(p, name)

    p.goto(base + "/sync")
    p.click("text=Run a full sync now")
    expect(p.locator(".run .pill.ok")).to_have_count(1, timeout=60_000)
    # Another change behind the proxies' back, for the preview to find.
    direct = PlexServer(world.cluster.servers["plex"].url, world.cluster.token_for("admin", "plex"))
    direct.fetchItem(int(world.item("plex", "office/s01e04"))).markPlayed()
    p.click("text=Preview (dry run)")
    expect(p.locator("text=writes would be made")).to_be_visible(timeout=60_000)
    p.goto(base + "/sync")
    shoot(p, "sync")

    emby = world.cluster.servers["emby"]
    emby.go_down()
    try:
        world.plex("admin").fetchItem(int(world.item("plex", "office/s01e01"))).markPlayed()
        p.goto(base + "/outbox")
        reload_until(p, "unreachable", timeout=30)
        shoot(p, "outbox")
    finally:
        emby.come_up()
    wait_for(lambda: world.manager.status()["queue"]["writes"] == 0, 60, "outbox drained")
