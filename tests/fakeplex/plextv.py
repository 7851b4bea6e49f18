"""The emulated plex.tv: accounts, friends' server tokens, Plex Home, resources."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from .fixture import AccountSpec, ClusterSpec
from .items import BASE_TIME
from .render import XML_DECL, element
from .transport import Host, Hosted, Request, Response
from .xmltext import xml_attrs

if TYPE_CHECKING:
    from .pms import FakeServer

MYPLEX = {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex"}
_RE_SHARED = re.compile(r"^/api/servers/([^/]+)/shared_servers$")
_RE_SWITCH_V1 = re.compile(r"^/api/home/users/([^/]+)/switch$")
_RE_SWITCH_V2 = re.compile(r"^/api/v2/home/users/([^/]+)/switch$")


class PlexTVError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _xml(text: str, status: int = 200) -> Response:
    return Response(status, (XML_DECL + text).encode(), "application/xml; charset=utf-8")


def _json(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode(), "application/json; charset=utf-8")


class FakePlexTV(Hosted):
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
                return _json(
                    {"errors": [{"code": e.code, "message": e.message, "status": e.status}]},
                    e.status,
                )
            return _xml(
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

    # ------------------------------------------------------------------ helpers
    def home_of(self, acct: AccountSpec) -> list[AccountSpec]:
        """Members of acct's Plex Home, admin first. A lone account is a home of one."""
        admin = self.accounts[acct.home] if acct.managed and acct.home else acct
        members = [a for a in self.accounts.values() if a.managed and a.home == admin.name]
        return [admin, *members]

    def _user_fields(self, a: AccountSpec) -> dict[str, Any]:
        home = self.home_of(a)
        return {
            "id": a.id,
            "uuid": a.uuid,
            "username": "" if a.managed else a.name,
            "title": a.name,
            "email": a.email,
            "friendlyName": a.name,
            "locale": "en",
            "confirmed": 1,
            "joinedAt": BASE_TIME,
            "emailOnlyAuth": 0,
            "hasPassword": 0 if a.managed else 1,
            "protected": 1 if a.pin else 0,
            "thumb": f"https://plex.invalid/users/{a.uuid}/avatar",
            "authToken": a.token,
            "mailingListStatus": "unsubscribed",
            "mailingListActive": 0,
            "scrobbleTypes": "1,2",
            "country": "US",
            "restricted": 1 if a.managed else 0,
            "anonymous": "",
            "home": 1 if len(home) > 1 else 0,
            "guest": 0,
            "homeSize": len(home),
            "homeAdmin": 1 if home[0] is a and len(home) > 1 else 0,
            "maxHomeSize": 15,
            "rememberExpiresAt": BASE_TIME + 86400 * 365,
            "twoFactorEnabled": 0,
            "backupCodesCreated": 0,
        }

    # ------------------------------------------------------------------ endpoints
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
            return _json(js)
        inner = element("subscription", sub) + element("profile", profile)
        return _xml(f"<user{xml_attrs(f)}>\n{inner}</user>\n")

    def _servers_owned_by(self, acct: AccountSpec) -> list[FakeServer]:
        return [s for s in self.servers.values() if s.owner.name == acct.name]

    def _users(self, req: Request, acct: AccountSpec) -> Response:
        if acct.managed:
            raise PlexTVError(401, 1001, "User could not be authenticated")
        owned = self._servers_owned_by(acct)
        names: list[str] = []
        for srv in owned:
            names.extend(u for u in srv.spec.users if u not in names)
        for m in self.home_of(acct)[1:]:
            if m.name not in names:
                names.append(m.name)
        rows = []
        for uname in names:
            a = self.accounts[uname]
            uattrs = {
                "id": a.id,
                "title": a.name,
                "username": "" if a.managed else a.name,
                "email": a.email,
                "recommendationsPlaylistId": "",
                "thumb": f"https://plex.invalid/users/{a.uuid}/avatar",
                "protected": 1 if a.pin else 0,
                "home": 1 if a.managed else 0,
                "allowTuners": 0,
                "allowSync": 0,
                "allowCameraUpload": 0,
                "allowChannels": 0,
                "allowSubtitleAdmin": 0,
                "filterAll": "",
                "filterMovies": "",
                "filterMusic": "",
                "filterPhotos": "",
                "filterTelevision": "",
                "restricted": 1 if a.managed else 0,
            }
            servers = ""
            for srv in owned:
                if uname not in srv.spec.users:
                    continue
                allowed = srv.spec.users[uname]
                servers += element(
                    "Server",
                    {
                        "id": _share_id(srv, a),
                        "serverId": _server_id(srv),
                        "machineIdentifier": srv.machine_identifier,
                        "name": srv.friendly_name,
                        "lastSeenAt": BASE_TIME,
                        "numLibraries": len(allowed)
                        if allowed is not None
                        else len(srv.library.sections),
                        "allLibraries": 1 if allowed is None else 0,
                        "owned": 0,
                        "pending": 0,
                    },
                )
            rows.append(element("User", uattrs, servers))
        attrs = {**MYPLEX, "totalSize": len(rows), "size": len(rows)}
        return _xml(f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n")

    def _shared_servers(self, req: Request, acct: AccountSpec, mid: str) -> Response:
        srv = next((s for s in self.servers.values() if s.machine_identifier == mid), None)
        if srv is None:
            raise PlexTVError(404, 1002, "Server not found")
        if srv.owner.name != acct.name:
            raise PlexTVError(401, 1001, "User could not be authenticated")
        rows = []
        for uname, allowed in srv.spec.users.items():
            a = self.accounts[uname]
            if a.managed:
                # Managed users get their server token via switch + resources (PROTOCOL §3).
                continue
            sections = "".join(
                element(
                    "Section",
                    {
                        "id": _section_share_id(srv, a, s.id),
                        "key": s.id,
                        "title": s.title,
                        "type": s.type,
                        "shared": 1 if allowed is None or s.id in allowed else 0,
                    },
                )
                for s in srv.library.sections.values()
            )
            rows.append(
                element(
                    "SharedServer",
                    {
                        "id": _share_id(srv, a),
                        "username": a.name,
                        "email": a.email,
                        "userID": a.id,
                        "accessToken": srv.user_tokens[uname],
                        "name": srv.friendly_name,
                        "acceptedAt": BASE_TIME,
                        "invitedAt": BASE_TIME,
                        "allowSync": 0,
                        "allowCameraUpload": 0,
                        "allowChannels": 0,
                        "allowTuners": 0,
                        "allowSubtitleAdmin": 0,
                        "owned": 0,
                        "allLibraries": 1 if allowed is None else 0,
                        "filterAll": "",
                        "filterMovies": "",
                        "filterMusic": "",
                        "filterPhotos": "",
                        "filterTelevision": "",
                    },
                    sections,
                )
            )
        attrs = {**MYPLEX, "machineIdentifier": mid, "size": len(rows)}
        return _xml(f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n")

    def _home_user_fields(self, a: AccountSpec, admin: AccountSpec) -> dict[str, Any]:
        return {
            "id": a.id,
            "uuid": a.uuid,
            "title": a.name,
            "username": "" if a.managed else a.name,
            "email": a.email,
            "friendlyName": "",
            "thumb": f"https://plex.invalid/users/{a.uuid}/avatar",
            "hasPassword": 0 if a.managed else 1,
            "restricted": 1 if a.managed else 0,
            "updatedAt": BASE_TIME,
            "restrictionProfile": "little_kid" if a.managed else "",
            "admin": 1 if a is admin else 0,
            "guest": 0,
            "protected": 1 if a.pin else 0,
            "home": 1,
        }

    def _home_users_v1(self, req: Request, acct: AccountSpec) -> Response:
        home = self.home_of(acct)
        rows = [element("User", self._home_user_fields(a, home[0])) for a in home]
        attrs = {**MYPLEX, "size": len(rows)}
        return _xml(f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n")

    def _home_users_v2(self, req: Request, acct: AccountSpec) -> Response:
        home = self.home_of(acct)
        users = []
        for a in home:
            f = self._home_user_fields(a, home[0])
            for k in ("hasPassword", "restricted", "admin", "guest", "protected", "home"):
                f[k] = bool(f[k])
            users.append(f)
        home_attrs = {
            "id": home[0].id,
            "name": f"{home[0].name}'s home",
            "guestUserID": None,
            "guestUserUUID": None,
            "guestEnabled": False,
            "subscription": True,
        }
        if req.wants_json:
            return _json({**home_attrs, "users": users})
        rows = "".join(element("user", {k: _xmlval(v) for k, v in u.items()}) for u in users)
        hattrs = {k: _xmlval(v) for k, v in home_attrs.items()}
        return _xml(f"<home{xml_attrs(hattrs)}>\n{element('users', {}, rows)}</home>\n")

    def _switch(self, req: Request, acct: AccountSpec, ident: str, *, v2: bool) -> Response:
        if req.method != "POST":
            raise PlexTVError(405, 1003, "Method Not Allowed")
        home = self.home_of(acct)
        target = next((a for a in home if ident in (str(a.id), a.uuid)), None)
        if target is None:
            raise PlexTVError(404, 1002, "User not found in home")
        if target.pin and req.query.get("pin") != target.pin:
            raise PlexTVError(401, 1041, "Invalid PIN")
        f = self._user_fields(target)
        if v2 and req.wants_json:
            return _json({**f, "authToken": target.token}, 201)
        f["authenticationToken"] = target.token
        return _xml(f"<user{xml_attrs(f)}/>\n", 201)

    def _resources(self, req: Request, acct: AccountSpec) -> Response:
        res: list[dict[str, Any]] = []
        for srv in self.servers.values():
            owned = srv.owner.name == acct.name
            if not owned and acct.name not in srv.spec.users:
                continue
            conn = {
                "protocol": "http",
                "address": "127.0.0.1",
                "port": srv.port,
                "uri": srv.url,
                "local": True,
                "relay": False,
                "IPv6": False,
            }
            res.append(
                {
                    "name": srv.friendly_name,
                    "product": "Plex Media Server",
                    "productVersion": srv.version,
                    "platform": "Linux",
                    "platformVersion": "6.1",
                    "device": "PC",
                    "clientIdentifier": srv.machine_identifier,
                    "createdAt": "2023-11-14T22:13:20Z",
                    "lastSeenAt": "2023-11-14T22:13:20Z",
                    "provides": "server",
                    "ownerId": None if owned else srv.owner.id,
                    "sourceTitle": None if owned else srv.owner.name,
                    "publicAddress": "127.0.0.1",
                    "accessToken": srv.user_tokens[acct.name],
                    "owned": owned,
                    "home": acct.managed,  # shared with you through a Plex Home
                    "synced": False,
                    "relay": True,
                    "presence": srv.host.up,
                    "httpsRequired": False,
                    "publicAddressMatches": True,
                    "dnsRebindingProtection": False,
                    "natLoopbackSupported": False,
                    "connections": [conn],
                }
            )
        if req.wants_json:
            return _json(res)
        parts = []
        for r in res:
            attrs = {k: _xmlval(v) for k, v in r.items() if k != "connections" and v is not None}
            conns = "".join(
                element("connection", {k: _xmlval(v) for k, v in c.items()})
                for c in r["connections"]
            )
            parts.append(element("resource", attrs, element("connections", {}, conns)))
        return _xml(f'<resources size="{len(parts)}">\n{"".join(parts)}</resources>\n')


def _xmlval(v: Any) -> Any:
    if isinstance(v, bool):
        return 1 if v else 0
    return v


def _server_id(srv: FakeServer) -> int:
    return int(srv.machine_identifier[:6], 16)


def _share_id(srv: FakeServer, a: AccountSpec) -> int:
    return int(srv.machine_identifier[6:12], 16) ^ a.id


def _section_share_id(srv: FakeServer, a: AccountSpec, sid: int) -> int:
    return _share_id(srv, a) * 100 + sid
