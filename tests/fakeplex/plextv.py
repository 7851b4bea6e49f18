"""The emulated plex.tv: routing, authentication and the signed-in account (/api/v2/user);
friends' server tokens and resources are in plextv_sharing.py, Plex Home in plextv_home.py."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .fixture import AccountSpec, ClusterSpec
from .plextv_base import PlexTVBase, PlexTVError, json_response, xml_response
from .plextv_home import HomeMixin
from .plextv_sharing import SharingMixin
from .render import element
from .transport import Host, Hosted, Request, Response
from .xmltext import xml_attrs

if TYPE_CHECKING:
    from .pms import FakeServer

_RE_SHARED = re.compile(r"^/api/servers/([^/]+)/shared_servers$")
_RE_SWITCH_V1 = re.compile(r"^/api/home/users/([^/]+)/switch$")
_RE_SWITCH_V2 = re.compile(r"^/api/v2/home/users/([^/]+)/switch$")


class FakePlexTV(Hosted, HomeMixin, SharingMixin, PlexTVBase):
    def __init__(
        self,
        cluster: ClusterSpec,
        servers: dict[str, FakeServer],
        *,
        bind: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.spec = cluster
        self.accounts = cluster.accounts
        self.servers = servers
        self._by_token = {a.token: a for a in cluster.accounts.values()}
        self.host = Host("plex.tv", self._handle, bind, port)

    # ------------------------------------------------------------------ routing
    def _handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except PlexTVError as e:
            if req.path.startswith("/api/v2/") and req.wants_json:
                return json_response(
                    {"errors": [{"code": e.code, "message": e.message, "status": e.status}]},
                    e.status,
                )
            return xml_response(
                f'<errors><error code="{e.code}" message="{e.message}" '
                f'status="{e.status}"/></errors>\n',
                e.status,
            )

    def _auth(self, req: Request) -> AccountSpec:
        tok = req.token
        acct = self._by_token.get(tok or "")
        if acct is None:
            raise PlexTVError(401, 1001, "User could not be authenticated")
        return acct

    def _route(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/api/v2/") and not req.client_id:
            raise PlexTVError(400, 1000, "X-Plex-Client-Identifier is missing")
        acct = self._auth(req)
        if path == "/api/v2/user":
            return self._v2_user(req, acct)
        if path == "/api/users":
            return self._users(req, acct)
        m = _RE_SHARED.match(path)
        if m:
            return self._shared_servers(req, acct, m.group(1))
        if path == "/api/home/users":
            return self._home_users_v1(req, acct)
        if path == "/api/v2/home/users":
            return self._home_users_v2(req, acct)
        m = _RE_SWITCH_V1.match(path)
        if m:
            return self._switch(req, acct, m.group(1), v2=False)
        m = _RE_SWITCH_V2.match(path)
        if m:
            return self._switch(req, acct, m.group(1), v2=True)
        if path == "/api/v2/resources":
            return self._resources(req, acct)
        raise PlexTVError(404, 1002, "Not Found")

    # ------------------------------------------------------------------ the account
    def _v2_user(self, req: Request, acct: AccountSpec) -> Response:
        f = self._user_fields(acct)
        sub = {
            "active": 1,
            "subscribedAt": "2020-01-01 00:00:00 UTC",
            "status": "Active",
            "paymentService": "",
            "plan": "lifetime",
        }
        profile = {
            "autoSelectAudio": 1,
            "defaultAudioLanguage": "en",
            "defaultSubtitleLanguage": "en",
            "autoSelectSubtitle": 0,
            "defaultSubtitleAccessibility": 0,
            "defaultSubtitleForces": 0,
        }
        if req.wants_json:
            js: dict[str, Any] = dict(f)
            for k in (
                "confirmed",
                "emailOnlyAuth",
                "hasPassword",
                "protected",
                "mailingListActive",
                "restricted",
                "home",
                "guest",
                "homeAdmin",
                "twoFactorEnabled",
                "backupCodesCreated",
            ):
                js[k] = bool(js[k])
            js["subscription"] = {**sub, "active": True, "features": []}
            js["profile"] = profile
            return json_response(js)
        inner = element("subscription", sub) + element("profile", profile)
        return xml_response(f"<user{xml_attrs(f)}>\n{inner}</user>\n")
