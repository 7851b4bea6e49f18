"""plex.tv's view of shared servers: the owner's friends (/api/users), each friend's server
token (shared_servers) and the servers an account can reach (resources)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .fixture import AccountSpec
from .items import BASE_TIME
from .plextv_base import (
    MYPLEX,
    PlexTVBase,
    PlexTVError,
    json_response,
    section_share_id,
    server_id,
    share_id,
    xml_response,
    xml_value,
)
from .render import element
from .transport import Request, Response
from .xmltext import xml_attrs

if TYPE_CHECKING:
    from .pms import FakeServer


class SharingMixin(PlexTVBase):
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
                        "id": share_id(srv, a),
                        "serverId": server_id(srv),
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
        return xml_response(
            f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n"
        )

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
                        "id": section_share_id(srv, a, s.id),
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
                        "id": share_id(srv, a),
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
        return xml_response(
            f"<MediaContainer{xml_attrs(attrs)}>\n{''.join(rows)}</MediaContainer>\n"
        )

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
            return json_response(res)
        parts = []
        for r in res:
            attrs = {k: xml_value(v) for k, v in r.items() if k != "connections" and v is not None}
            conns = "".join(
                element("connection", {k: xml_value(v) for k, v in c.items()})
                for c in r["connections"]
            )
            parts.append(element("resource", attrs, element("connections", {}, conns)))
        return xml_response(f'<resources size="{len(parts)}">\n{"".join(parts)}</resources>\n')
