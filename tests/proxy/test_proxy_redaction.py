"""No token in mitmdump's own output, at any verbosity, in any form a client can send.

At -v (and -vv, the same in mitmdump 12) and flow_detail 2 mitmdump prints every header;
at flow_detail 3 and 4 also bodies and the query, rendered as YAML or JSON.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
import pytest

from tests.proxy.harness import MediaUpstream
from tests.support.processes import mitmdump_proxy

_serial = itertools.count()


class Tokens:
    """Distinct made-up tokens; the first four characters are the same for all."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self) -> str:
        token = f"Sekr{next(_serial):04d}q7Wz{len(self.made):03d}xY"
        self.made.append(token)
        return token


def hostile_requests(proxy_url: str, tok: Tokens) -> None:
    """Every way we know to carry a token, each with tokens of its own."""
    with httpx.Client(base_url=proxy_url, timeout=15) as c:
        c.get(f"/:/scrobble?key=1&X%2DPlex%2DToken={tok()}")
        c.get(f"/:/scrobble?key=1&%58-%50lex-%54oken={tok()}&%74%6F%6B%65%6E={tok()}")
        nested = f"%2Flibrary%2Fparts%2F1%3FX-Plex-Token%3D{tok()}%26width%3D100"
        c.get(f"/photo/:/transcode?url={nested}&X-Plex-Token={tok()}")
        c.get(f"/photo/:/transcode?url=%252Flibrary%253FX-Plex-Token%253D{tok()}%2526w%253D1")
        c.get(f"/library/sections?X-Plex-Token%3D{tok()}")
        c.get(f"/:/timeline?ratingKey=1&X-Plex-Token={tok()}&x-plex-token={tok()}")
        c.get("/identity", headers=[("X-Plex-Token", tok()), ("X-Plex-Token", tok())])
        c.get("/identity", headers={"X-Plex-Token": f"{tok()}, {tok()}"})
        numeric = f"9{next(_serial):011d}"  # YAML quotes a value that looks like a number
        tok.made.append(numeric)
        c.get(f"/identity?X-Plex-Token={numeric}")
        c.post(
            "/:/timeline",
            content=f"ratingKey=1&state=stopped&X-Plex-Token={tok()}&X-Plex-Token={tok()}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        body = {"X-Plex-Token": tok(), "authToken": [tok(), tok()], "user": {"token": tok()}}
        c.post("/api", content=json.dumps(body), headers={"Content-Type": "application/json"})
        c.post("/api", content=f'<User authToken="{tok()}"/>', headers={"Content-Type": "text/xml"})
        c.get("/identity", headers={"Authorization": f"Bearer {tok()}"})


VERBOSITIES = [["-v"], ["-vv"], *(["--set", f"flow_detail={n}"] for n in (2, 3, 4))]


@pytest.mark.parametrize(
    "verbosity", VERBOSITIES, ids=lambda v: "".join(v).replace("--setflow_detail=", "flow_detail")
)
def test_no_token_in_mitmdump_output(
    media: MediaUpstream, tmp_path: Path, verbosity: list[str]
) -> None:
    proxy = mitmdump_proxy(media.url, tmp_path, extra=verbosity)
    proxy.start()
    tok = Tokens()
    try:
        hostile_requests(proxy.url, tok)
    finally:
        proxy.stop()
    output = proxy.output()
    assert "X-Plex-Token" in output and "Sekr…" in output  # the lines were printed
    assert "Traceback" not in output
    leaked = [t for t in tok.made if t[4:] in output]
    assert leaked == [], [
        line for line in output.splitlines() if any(t[4:] in line for t in leaked)
    ]
