"""plex.tv's Plex Home: its members (v1 and v2) and switching to a member."""

from __future__ import annotations

from typing import Any

from .fixture import AccountSpec
from .items import BASE_TIME
from .plextv_base import (
    MYPLEX,
    PlexTVBase,
    PlexTVError,
    json_response,
    xml_response,
    xml_value,
)
from .render import element
from .transport import Request, Response
from .xmltext import xml_attrs


class HomeMixin(PlexTVBase):
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
        return xml_response(
            f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n"
        )

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
            return json_response({**home_attrs, "users": users})
        rows = "".join(element("user", {k: xml_value(v) for k, v in u.items()}) for u in users)
        hattrs = {k: xml_value(v) for k, v in home_attrs.items()}
        return xml_response(f"<home{xml_attrs(hattrs)}>\n{element('users', {}, rows)}</home>\n")

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
            return json_response({**f, "authToken": target.token}, 201)
        f["authenticationToken"] = target.token
        return xml_response(f"<user{xml_attrs(f)}/>\n", 201)
