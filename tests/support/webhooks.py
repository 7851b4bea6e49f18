"""Sample webhook payloads (tests/data/webhooks/*.yaml, each naming its public source) and
the bodies a server would post them in."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "webhooks"


@cache
def _samples(kind: str) -> dict[str, Any]:
    return dict(yaml.safe_load((DATA / f"{kind}.yaml").read_text()))


def payload(kind: str, name: str, **values: Any) -> dict[str, Any]:
    """A sample with its "{placeholders}" filled in (a whole-value placeholder keeps the
    value's type: {"id": "{account}"} with account=1 gives {"id": 1})."""

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, str):
            stripped = node.strip("{}")
            if node == "{" + stripped + "}" and stripped in values:
                return values[stripped]
            return node.format(**values) if "{" in node else node
        return node

    return fill(_samples(kind)[name])  # type: ignore[no-any-return]


def multipart(fields: dict[str, str], *, thumb: bytes | None = None) -> tuple[bytes, str]:
    """A multipart/form-data body as Plex (and Emby 4.8) post it; (body, content type)."""
    boundary = "----plexclustertest7d2a"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: application/json\r\n\r\n{value}\r\n".encode()
        )
    if thumb is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="thumb"; '
            f'filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + thumb
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def plex_body(name: str, *, thumb: bytes | None = None, **values: Any) -> tuple[bytes, str]:
    return multipart({"payload": json.dumps(payload("plex", name, **values))}, thumb=thumb)
