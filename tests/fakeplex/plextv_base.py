"""Shared plumbing of the emulated plex.tv: its errors and answers, the account fields its
endpoints repeat, Plex Home membership and the ids of shares."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .fixture import AccountSpec, ClusterSpec
from .items import BASE_TIME
from .render import XML_DECL
from .transport import Response

if TYPE_CHECKING:
    from .pms import FakeServer

MYPLEX = {"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex"}


class PlexTVError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def xml_response(text: str, status: int = 200) -> Response:
    return Response(status, (XML_DECL + text).encode(), "application/xml; charset=utf-8")


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj).encode(), "application/json; charset=utf-8")


class PlexTVBase:
    """State every endpoint mixin relies on; FakePlexTV fills it in."""

    spec: ClusterSpec
    accounts: dict[str, AccountSpec]
    servers: dict[str, FakeServer]

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


def xml_value(v: Any) -> Any:
    if isinstance(v, bool):
        return 1 if v else 0
    return v


def server_id(srv: FakeServer) -> int:
    return int(srv.machine_identifier[:6], 16)


def share_id(srv: FakeServer, a: AccountSpec) -> int:
    return int(srv.machine_identifier[6:12], 16) ^ a.id


def section_share_id(srv: FakeServer, a: AccountSpec, sid: int) -> int:
    return share_id(srv, a) * 100 + sid
