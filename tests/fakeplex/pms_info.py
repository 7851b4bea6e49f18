"""PMS server and library directories: /identity, /, /library and /library/sections."""

from __future__ import annotations

from typing import Any

from .fixture import AccountSpec
from .pms_base import LIBRARY_ID, ServerBase, now_s
from .render import container, element, json_attrs
from .transport import Request, Response


class InfoMixin(ServerBase):
    def _identity(self, req: Request) -> Response:
        return container(
            req.wants_json,
            {
                "size": 0,
                "apiVersion": "1.1.1",
                "claimed": 1,
                "machineIdentifier": self.machine_identifier,
                "version": self.version,
            },
        )

    def _root(self, req: Request, acct: AccountSpec) -> Response:
        dirs = [
            ("activities", "activities"),
            ("butler", "butler"),
            ("library", "library"),
            ("playlists", "playlists"),
            ("status", "status"),
            ("system", "system"),
        ]
        attrs = {
            "size": len(dirs),
            "allowCameraUpload": 0,
            "allowChannelAccess": 1,
            "allowMediaDeletion": 1,
            "allowSharing": 1,
            "allowSync": 1,
            "backgroundProcessing": 1,
            "certificate": 1,
            "companionProxy": 1,
            "countryCode": "usa",
            "diagnostics": "logs,databases,streaminglogs",
            "eventStream": 1,
            "friendlyName": self.friendly_name,
            "hubSearch": 1,
            "machineIdentifier": self.machine_identifier,
            "multiuser": 1,
            "myPlex": 1,
            "myPlexMappingState": "mapped",
            "myPlexSigninState": "ok",
            "myPlexSubscription": 1,
            "myPlexUsername": self.owner.email,
            "ownerFeatures": "webhooks,sync",
            "platform": "Linux",
            "platformVersion": "6.1",
            "pluginHost": 1,
            "readOnlyLibraries": 0,
            "requestParametersInCookie": 1,
            "streamingBrainVersion": 2,
            "sync": 1,
            "transcoderActiveVideoSessions": 0,
            "transcoderAudio": 1,
            "transcoderVideo": 1,
            "updatedAt": now_s(),
            "updater": 1,
            "version": self.version,
            "voiceSearch": 1,
        }
        rows = [{"count": 1, "key": k, "title": t} for k, t in dirs]
        return _directories(req, attrs, rows)

    def _library_root(self, req: Request) -> Response:
        rows = [
            {"key": "sections", "title": "Library Sections"},
            {"key": "recentlyAdded", "title": "Recently Added Content"},
            {"key": "onDeck", "title": "On Deck Content"},
        ]
        attrs = {
            "size": len(rows),
            "allowSync": 0,
            "art": "/:/resources/library-art.png",
            "content": "",
            "identifier": LIBRARY_ID,
            "mediaTagPrefix": "/system/bundle/media/flags/",
            "mediaTagVersion": 1700000000,
            "title1": "Plex Library",
            "title2": "",
        }
        return _directories(req, attrs, rows)

    def _sections(self, req: Request, acct: AccountSpec) -> Response:
        secs = self._visible_sections(acct)
        xml = [element("Directory", s.attrs(), element("Location", s.location())) for s in secs]
        js = [{**json_attrs(s.attrs()), "Location": [s.location()]} for s in secs]
        attrs = {"size": len(secs), "allowSync": 0, "title1": "Plex Library"}
        return container(req.wants_json, attrs, items_xml=xml, items_json=js, json_key="Directory")


def _directories(req: Request, attrs: dict[str, Any], rows: list[dict[str, Any]]) -> Response:
    """A MediaContainer of <Directory> rows, in the format the client asked for."""
    return container(
        req.wants_json,
        attrs,
        items_xml=[element("Directory", r) for r in rows],
        items_json=rows,
        json_key="Directory",
    )
