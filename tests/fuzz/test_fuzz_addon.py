"""The addon's door, fuzzed: the request parser and the hook around it, the redaction of
what gets printed, and a real mitmdump taking hostile requests at -v and flow_detail 4.

Properties: parsing raises nothing but Skip; an event comes only from an unambiguous
request and passes the manager's schema; a token never shows beyond its first four
characters, whatever its spelling; every request still reaches the server.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import httpx
import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.contentviews._utils import merge_repeated_keys, yaml_dumps
from mitmproxy.test import tflow

from addons.capture import META, Capture
from addons.spooling import EventSpool
from manager.event import PlaybackEvent
from manager.redaction import redact_text
from manager.servers.plex import requests as playback
from tests.fuzz.strategies import (
    HOSTILE,
    KINDS,
    fuzz_settings,
    headers,
    query_strings,
    token_lines,
    token_names,
    token_params,
    tokens,
)
from tests.proxy.harness import MediaUpstream, Receiver
from tests.support.processes import mitmdump_proxy

UP = "http://127.0.0.1:32400"


def _request(kind: str, query: str, hdrs: list[tuple[str, str]], form: str | None) -> http.Request:
    req = http.Request.make("POST" if form is not None else "GET", f"{UP}/")
    req.path = f"/:/{kind}?{query}"  # mitmproxy decodes it as it would a client's
    req.headers = http.Headers([(k.encode(), v.encode("latin-1")) for k, v in hdrs])
    if form is not None:
        req.headers["Content-Type"] = "application/x-www-form-urlencoded"
        req.content = form.encode()
    return req


def _all(pairs: object) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for name, value in pairs.items(multi=True):  # type: ignore[attr-defined]
        out.setdefault(name.lower(), set()).add(value)
    return out


@fuzz_settings(300)
@given(kind=st.sampled_from(KINDS), data=st.data(), hdrs=headers, with_form=st.booleans())
def test_the_parser_reports_only_unambiguous_valid_requests(
    kind: str, data: st.DataObject, hdrs: list[tuple[str, str]], with_form: bool
) -> None:
    query = data.draw(query_strings(kind), label="query")
    form = data.draw(query_strings(), label="form") if with_form else None
    req = _request(kind, query, hdrs, form)
    form_values = req.urlencoded_form if form is not None else None
    try:
        event = playback.parse(kind, req.headers, req.query, UP, form_values)
    except playback.Invalid:
        hypothesis.event("invalid")
        event = None
    except playback.Skip:
        hypothesis.event("skipped")
        event = None

    # The addon's hook on the same request: never raises, agrees with the parser.
    flow = tflow.tflow(req=req.copy())
    Capture(EventSpool())._note_playback(flow, kind)
    noted = flow.metadata.get(META)
    if playback.is_replay(req.headers, req.query):
        assert noted == "replay"
        return
    assert (noted is None) == (event is None)
    if event is None:
        return
    hypothesis.event("reported")
    assert isinstance(noted, PlaybackEvent)
    assert {**noted.to_dict(), "id": "", "seen_at": 0} == {
        **event.to_dict(),
        "id": "",
        "seen_at": 0,
    }

    assert event.validated() == event
    params = _all(req.query)
    for name, vals in _all(req.urlencoded_form if form is not None else http.Headers()).items():
        params.setdefault(name, set()).update(vals)
    read = ["identifier", "key"]
    read += ["ratingkey"] if kind == "timeline" else []
    read += ["state", "time", "duration"] if kind in ("timeline", "progress") else []
    for name in read:
        assert len(params.get(name, ())) <= 1, name
    given_tokens = params.get("x-plex-token", set()) | set(req.headers.get_all("X-Plex-Token"))
    assert given_tokens == {event.token}
    for name, field in (("time", event.time_ms), ("duration", event.duration_ms)):
        raw = next(iter(params.get(name, {""})))
        if kind in ("timeline", "progress") and raw:
            assert field == int(raw.split(".")[0])


@fuzz_settings(500)
@given(token=tokens, data=st.data())
def test_a_token_never_shows_beyond_four_characters(token: str, data: st.DataObject) -> None:
    line = data.draw(token_lines(token))
    out = redact_text(line)
    for seen in (out, unquote(out), unquote(unquote(out)), unquote(unquote(unquote(out)))):
        assert token[4:9] not in seen, (line, out)


printable = st.text(st.characters(codec="utf-8"), max_size=30)  # what mitmproxy can render


@fuzz_settings(500)
@given(token=tokens, data=st.data())
def test_a_token_in_mitmproxys_yaml_and_json_renderings_is_redacted(
    token: str, data: st.DataObject
) -> None:
    """The query and form as mitmdump prints them at flow_detail 3 and 4 (its own YAML and
    JSON renderers): long keys, values below their key, lists, quoting, block scalars."""
    name = data.draw(token_names())
    prefix = data.draw(st.sampled_from(["", "a b ", "x: ", "'", '"', "- ", "#", "\n"]) | printable)
    pairs = data.draw(st.lists(st.tuples(printable, printable), max_size=3))
    pairs += [(name, v) for v in data.draw(st.lists(printable, max_size=2))]
    pairs += [(name, prefix + token)]
    pairs += data.draw(st.lists(st.tuples(printable, printable), max_size=2))
    merged = merge_repeated_keys(pairs)
    rendered = "\n".join("    " + line for line in yaml_dumps(merged).splitlines())
    for text in (rendered, json.dumps(merged, indent=4, ensure_ascii=False)):
        out = redact_text(text)
        for seen in (out, unquote(out), unquote(unquote(out))):
            assert token[4:9] not in seen, (text, out)


# Every verbosity in the long run; two that between them print everything in make test.
_LEVELS = {"default": [], "v": ["-v"], "vv": ["-vv"]}
_LEVELS.update({f"fd{n}": ["--set", f"flow_detail={n}"] for n in (2, 3, 4)})
VERBOSITY = _LEVELS if HOSTILE else {k: _LEVELS[k] for k in ("v", "fd4")}


@pytest.mark.parametrize("verbosity", list(VERBOSITY.values()), ids=list(VERBOSITY))
def test_hostile_requests_through_a_real_mitmdump(
    media: MediaUpstream, receiver: Receiver, tmp_path: Path, verbosity: list[str]
) -> None:
    proxy = mitmdump_proxy(media.url, tmp_path, manager=receiver.url, extra=verbosity)
    proxy.start()
    sent: list[str] = []

    @fuzz_settings(30)
    @given(
        kind=st.sampled_from([*KINDS, "x"]),
        token=tokens,
        data=st.data(),
        in_header=st.sampled_from(["no", "one", "two", "joined"]),
        body=st.sampled_from(["none", "form", "json"]),
    )
    def send(kind: str, token: str, data: st.DataObject, in_header: str, body: str) -> None:
        # Marked after the four characters that may show, so it is found in the output
        # even when Hypothesis makes it "000000000" (which a timestamp could contain).
        token = f"{token[:4]}Qz{len(sent):05d}{token[4:]}"
        sent.append(token)
        query = data.draw(query_strings(kind if kind in KINDS else None))
        fragment = data.draw(token_params(token))
        hdrs = {"none": [], "one": [("X-Plex-Token", token)]}.get(in_header)
        if hdrs is None:
            hdrs = [("X-Plex-Token", "tokA"), ("X-Plex-Token", token)]
            if in_header == "joined":
                hdrs = [("X-Plex-Token", f"tokA, {token}")]
        content, ctype = {
            "none": (b"", None),
            "form": (f"time=1&{fragment}".encode(), "application/x-www-form-urlencoded"),
            "json": (f'{{"X-Plex-Token": "{token}", "t": [1e999]}}'.encode(), "application/json"),
        }[body]
        if ctype:
            hdrs.append(("Content-Type", ctype))
        url = f"{proxy.url}/:/{kind}?{query}&{fragment}"
        with httpx.Client(timeout=15) as client:
            method = "POST" if content else "GET"
            request = client.build_request(method, url, headers=hdrs, content=content)
            response = client.send(request)
        assert response.status_code == 200  # passed through: the upstream answered
        # untouched (the delivery thread may have asked the upstream for /identity since)
        assert request.url.raw_path.decode() in [path for path, _ in media.requests[-10:]]

    try:
        send()
    finally:
        proxy.stop()
    output = proxy.output()
    assert "Traceback" not in output
    decoded = unquote(unquote(unquote(output)))
    leaked = [t for t in sent if t[4:11] in output or t[4:11] in decoded]
    lines = [ln for ln in decoded.splitlines() if any(t[4:11] in ln for t in leaked)]
    assert leaked == [], lines[:5]
    print(
        f"\nmitmdump {' '.join(verbosity) or 'default'}: {len(sent)} hostile requests, "
        f"{len(output.splitlines())} output lines, {len(receiver.events())} events delivered"
    )
    for body in receiver.events():  # whatever was delivered before the proxy stopped
        event = PlaybackEvent.from_dict(body)  # everything delivered passes the schema
        assert ", " not in event.token
