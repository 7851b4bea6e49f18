"""MediaContainer rendering: XML by default, JSON when the client asks for it."""

from __future__ import annotations

import json
from typing import Any

from .items import Item
from .transport import Response
from .xmltext import esc, xml_attrs

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Attributes PMS writes as 1/0 in XML but true/false in JSON.
JSON_BOOLS = frozenset(
    {
        "allowCameraUpload",
        "allowChannelAccess",
        "allowMediaDeletion",
        "allowSharing",
        "allowSync",
        "backgroundProcessing",
        "certificate",
        "claimed",
        "companionProxy",
        "content",
        "directory",
        "eventStream",
        "filters",
        "hubSearch",
        "multiuser",
        "myPlex",
        "myPlexSubscription",
        "nocache",
        "pluginHost",
        "refreshing",
        "requestParametersInCookie",
        "sync",
        "transcoderAudio",
        "transcoderVideo",
        "updater",
        "voiceSearch",
    }
)


def json_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (bool(v) if k in JSON_BOOLS and isinstance(v, int) else v)
        for k, v in attrs.items()
        if v is not None
    }


def container(
    want_json: bool,
    attrs: dict[str, Any],
    *,
    items_xml: list[str] | None = None,
    items_json: list[dict[str, Any]] | None = None,
    json_key: str = "Metadata",
    extra_headers: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """A <MediaContainer> holding pre-rendered children (XML strings or JSON dicts)."""
    headers = dict(extra_headers or {})
    if want_json:
        mc = json_attrs(attrs)
        if items_json:
            mc[json_key] = items_json
        body = json.dumps({"MediaContainer": mc}, separators=(",", ":")).encode()
        return Response(status, body, "application/json", headers)
    inner = "".join(items_xml or [])
    if inner:
        text = f"{XML_DECL}<MediaContainer{xml_attrs(attrs)}>\n{inner}</MediaContainer>\n"
    else:
        text = f"{XML_DECL}<MediaContainer{xml_attrs(attrs)} />\n"
    return Response(status, text.encode(), "text/xml;charset=utf-8", headers)


def element(tag: str, attrs: dict[str, Any], children: str = "") -> str:
    if children:
        return f"<{tag}{xml_attrs(attrs)}>{children}</{tag}>\n"
    return f"<{tag}{xml_attrs(attrs)} />\n"


def item_xml(item: Item, dyn: dict[str, Any], include_guids: bool, extra: str = "") -> str:
    head, media, guids = item.xml_parts()
    if not include_guids:
        guids = ""
    return f"{head}{xml_attrs(dyn)}>{media}{guids}{extra}</{item.tag}>\n"


def item_json(item: Item, dyn: dict[str, Any], include_guids: bool) -> dict[str, Any]:
    d = {k: v for k, v in item.attrs.items() if v is not None}
    d.update(dyn)
    if item.media_json:
        d["Media"] = item.media_json
    if include_guids and item.guids:
        d["Guid"] = [{"id": g} for g in item.guids]
    return d


__all__ = ["container", "element", "esc", "item_json", "item_xml"]
