"""Templates and the few filters they use; every page is answered with the same headers.

Jinja2 with autoescaping on: every value shown (titles, user names, server errors) came
from a server or a client and is escaped. The headers keep the pages from being framed,
cached or given another site's scripts (there are no scripts at all).
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from manager.app.dashboard.activity import clock_of

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def ago(at: float | None) -> str:
    """How long ago, in the largest unit that fits."""
    if not at:
        return "never"
    seconds = max(0, int(time.time() - at))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds // 60 % 60} min ago"
    return f"{seconds // 86400} d ago"


def until(at: float | None) -> str:
    if not at:
        return ""
    seconds = int(at - time.time())
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"in {seconds} s"
    if seconds < 3600:
        return f"in {seconds // 60} min"
    return f"in {seconds // 3600} h {seconds // 60 % 60} min"


def stamp(at: float | None) -> str:
    """Local time, the date only when it is not today."""
    if not at:
        return ""
    moment = datetime.fromtimestamp(at)
    if moment.date() == datetime.now().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("manager.app.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, until=until, stamp=stamp, position=clock_of)
    return env


def page(name: str, status: int = 200, **context: Any) -> Response:
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@cache
def stylesheet() -> bytes:
    return resources.files("manager.app.dashboard").joinpath("static/dashboard.css").read_bytes()
