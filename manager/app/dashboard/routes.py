"""The dashboard's routes: login and logout, six pages, three buttons, one stylesheet.

Mounted at `/dashboard` beside the JSON API (`mount`, called once by the service). Every
page needs a session (session.py), every POST its CSRF token too; the API's routes and
their bearer tokens are untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from manager.app.dashboard import pages
from manager.app.dashboard.activity import REALTIME_KEPT, SYNC_KEPT, Activity
from manager.app.dashboard.render import page, stylesheet
from manager.app.dashboard.session import COOKIE, MAX_AGE, Session, Sessions
from manager.app.dashboard.syncs import Spawn, SyncControl
from manager.app.http import HttpError, read_body
from manager.logs import Throttle, get_logger
from manager.runtime import Runtime

log = get_logger("manager.dashboard")

PREFIX = "/dashboard"
FORM_LIMIT = 8 * 1024
WRONG_TOKEN_DELAY = 0.5  # seconds a wrong token waits for its answer
NOTICES = {
    "retried": "Queued writes will be tried again now.",
    "preview": "Dry run started: the table fills in when it is done.",
    "previewing": "A dry run is already going.",
    "sync": "Full sync started.",
    "syncing": "A full sync started here is still running.",
}
View = Callable[[Request, Session], Awaitable[Response]]


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


class Dashboard:
    def __init__(
        self, runtime: Runtime, token: str, spawn: Spawn, ready: Callable[[], bool]
    ) -> None:
        self.runtime = runtime
        self.sessions = Sessions(token)
        self.activity = Activity()
        self.syncs = SyncControl(runtime, spawn)
        self.ready = ready
        self._throttle = Throttle()
        runtime.handler.add_listener(self.activity.on_event)
        runtime.outbox.add_listener(self.activity.on_write)

    def mount(self, app: Starlette) -> None:
        """Add the dashboard to the manager's app (its own exception handlers inside)."""
        # A response is an ASGI app: as the route's endpoint it takes every method, so the
        # API's 405 handler (which knows only its own routes) never sees this path.
        app.router.routes.append(Route(PREFIX, _see("/servers")))
        app.router.routes.append(Mount(PREFIX, app=self.app()))

    def app(self) -> Starlette:
        routes = [
            Route("/", lambda _r: _see("/servers"), methods=["GET"]),
            Route("/static/dashboard.css", self._css, methods=["GET"]),
            Route("/login", self._login_form, methods=["GET"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/logout", self._form(self._logout), methods=["POST"]),
            Route("/servers", self._page(self._servers), methods=["GET"]),
            Route("/users", self._page(self._users), methods=["GET"]),
            Route("/activity", self._page(self._activity), methods=["GET"]),
            Route("/outbox", self._page(self._outbox), methods=["GET"]),
            Route("/outbox/retry", self._form(self._retry), methods=["POST"]),
            Route("/unmatched", self._page(self._unmatched), methods=["GET"]),
            Route("/sync", self._page(self._sync), methods=["GET"]),
            Route("/sync/preview", self._form(self._preview), methods=["POST"]),
            Route("/sync/run", self._form(self._run), methods=["POST"]),
        ]
        sub = Starlette(routes=routes, exception_handlers={HTTPException: self._refused})
        sub.router.redirect_slashes = False
        return sub

    # -- the fences -------------------------------------------------------------------
    def _page(self, view: View) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.sessions.read(request.cookies.get(COOKIE))
            if session is None:
                where = quote(request.url.path, safe="/")
                return RedirectResponse(f"{PREFIX}/login?next={where}", status_code=303)
            return await view(request, session)

        return endpoint

    def _form(self, action: View) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.sessions.read(request.cookies.get(COOKIE))
            if session is None:
                return self._error(request, 403, "Your session has ended: log in again.")
            if not _same_origin(request):
                return self._error(request, 403, "This form was sent from another site.")
            try:
                request.state.form = await _read_form(request)
            except HttpError as exc:
                return self._error(request, exc.status, str(exc))
            if not self.sessions.csrf_ok(session, request.state.form.get("csrf")):
                return self._error(request, 403, "This form has expired: reload the page.")
            return await action(request, session)

        return endpoint

    def _error(self, request: Request, status: int, message: str) -> Response:
        return page("error.html", status, message=message, prefix=PREFIX, active="")

    async def _refused(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = {404: "No such page.", 405: "That page does not take this method."}
        return self._error(request, status, text.get(status, "Refused."))

    # -- login ------------------------------------------------------------------------
    async def _css(self, _request: Request) -> Response:
        headers = {"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"}
        return Response(stylesheet(), media_type="text/css", headers=headers)

    async def _login_form(self, request: Request) -> Response:
        if self.sessions.read(request.cookies.get(COOKIE)) is not None:
            return _see("/servers")
        return page("login.html", prefix=PREFIX, next=_next(request.query_params.get("next")))

    async def _login(self, request: Request) -> Response:
        try:
            form = await _read_form(request)
        except HttpError as exc:
            return self._error(request, exc.status, str(exc))
        target = _next(form.get("next"))
        if not _same_origin(request) or not self.sessions.token_ok(form.get("token")):
            if (held := self._throttle("dashboard_login_refused")) is not None:
                log.warning("dashboard_login_refused", reason="wrong token", held=held)
            await asyncio.sleep(WRONG_TOKEN_DELAY)
            return page("login.html", 401, prefix=PREFIX, next=target, wrong=True)
        _session, value = self.sessions.issue()
        log.info("dashboard_login")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=_over_https(request),
        )
        return response

    async def _logout(self, request: Request, session: Session) -> Response:
        self.sessions.revoke(session)
        response = _see("/login")
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # -- pages ------------------------------------------------------------------------
    async def _render(
        self, request: Request, session: Session, name: str, **context: Any
    ) -> Response:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return page(
            f"{name}.html",
            prefix=PREFIX,
            active=name,
            csrf=session.csrf,
            ready=self.ready(),
            notice=notice,
            missing_count=len(self.activity.missing),
            queued_count=await self.runtime.outbox.depth(),
            **context,
        )

    async def _servers(self, request: Request, session: Session) -> Response:
        data = await pages.servers(self.runtime, self.activity)
        return await self._render(request, session, "servers", **data)

    async def _users(self, request: Request, session: Session) -> Response:
        return await self._render(request, session, "users", **pages.users(self.runtime))

    async def _activity(self, request: Request, session: Session) -> Response:
        query = request.query_params
        user, server = query.get("user", "")[:255], query.get("server", "")[:64]
        origin = query.get("origin", "")
        origin = origin if origin in ("realtime", "sync") else ""
        return await self._render(
            request,
            session,
            "activity",
            entries=self.activity.entries(user, server, origin),
            users=self.activity.users_seen(),
            servers=[s.name for s in self.runtime.servers],
            user=user,
            server=server,
            origin=origin,
            quiet=self.activity.quiet,
            kept=(REALTIME_KEPT, SYNC_KEPT),
        )

    async def _outbox(self, request: Request, session: Session) -> Response:
        data = await pages.outbox(self.runtime)
        return await self._render(request, session, "outbox", **data)

    async def _unmatched(self, request: Request, session: Session) -> Response:
        items = self.activity.missing_items()
        return await self._render(request, session, "unmatched", items=items)

    async def _sync(self, request: Request, session: Session) -> Response:
        data = await pages.sync_runs(self.runtime)
        return await self._render(
            request,
            session,
            "sync",
            preview=self.syncs.preview,
            previewing=self.syncs.previewing,
            started_here=self.syncs.run_started_at,
            refusal=self.syncs.last_refusal,
            **data,
        )

    # -- buttons ----------------------------------------------------------------------
    async def _retry(self, request: Request, _session: Session) -> Response:
        row = request.state.form.get("row", "all")
        ids = None if row == "all" else [int(row)] if row.isdigit() else []
        count = await self.runtime.outbox.retry_now(ids) if ids != [] else 0
        log.info("outbox_retry_requested", by="dashboard", rows=row, made_due=count)
        return _see("/outbox?notice=retried")

    async def _preview(self, _request: Request, _session: Session) -> Response:
        started = self.syncs.start_preview()
        return _see("/sync?notice=" + ("preview" if started else "previewing"))

    async def _run(self, _request: Request, _session: Session) -> Response:
        started = self.syncs.start_run()
        return _see("/sync?notice=" + ("sync" if started else "syncing"))


async def _read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form, each field's first value."""
    body = await read_body(request, FORM_LIMIT)
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise HttpError(400, "This form could not be read.") from None
    return {name: values[0] for name, values in fields.items()}


def _same_origin(request: Request) -> bool:
    """No Origin (an old browser, a script) passes: the CSRF token still has to match."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def _over_https(request: Request) -> bool:
    """Reached over https, here or at a TLS proxy in front. The header is trusted from
    anyone: a client that lies only keeps its own cookie off plain http."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _next(value: str | None) -> str:
    """Where to go after logging in: a dashboard page only, never another site."""
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value
    return PREFIX + "/servers"
