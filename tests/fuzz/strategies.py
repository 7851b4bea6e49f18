"""What a hostile client can send, as Hypothesis strategies, and the budget of the suite.

`make test` runs each property with a small, fixed (derandomized) set of examples so the
whole folder takes well under a minute; `make fuzz` sets FUZZ_EXAMPLES (examples per
property) and explores at random, for the long hostile run.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

HOSTILE = "FUZZ_EXAMPLES" in os.environ


def fuzz_settings(default_examples: int) -> settings:
    """Settings for one property: `default_examples` in `make test`, FUZZ_EXAMPLES in the
    long run (random then, and shrinking kept short: we want findings, not minimal ones)."""
    return settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", default_examples)),
        deadline=None,
        derandomize=not HOSTILE,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )


# Any text a JSON string or a decoded request can hold: lone surrogates and controls too.
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=40)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)

# Numbers as hostile JSON carries them: huge, negative, non-finite, the wrong type.
hostile_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**31, 2**63, 10**30, 1e999, -1e999, 0.5, True, False]),
)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | hostile_numbers | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def json_text(value: Any) -> str:
    """JSON as a client may write it: Infinity/NaN literals and \\ud800 escapes included."""
    return json.dumps(value, allow_nan=True)


# ---- the addon's door: query, headers, form ---------------------------------------

LIB = "com.plexapp.plugins.library"
KINDS = ["scrobble", "unscrobble", "timeline", "progress"]
_NAMES = [
    "key",
    "ratingKey",
    "identifier",
    "state",
    "time",
    "duration",
    "X-Plex-Token",
    "X-Plex-Client-Identifier",
    "X-Plex-Product",
    "X-Plex-Device",
    "X-Plex-Device-Name",
    "plex-cluster",
]
_VALUES = [
    "1",
    "42",
    "1e3",
    "/library/metadata/42",
    "/library/metadata/43",
    "/system/x",
    LIB,
    "com.plexapp.plugins.youtube",
    "playing",
    "paused",
    "stopped",
    "buffering",
    "",
    "inf",
    "-inf",
    "nan",
    "1e999",
    "-5",
    "60000",
    "61000.5",
    "99999999999",
    "tokA",
    "tokB",
    "tokA, tokB",
    "0x10",
    "1_000",
]


@st.composite
def names(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(_NAMES) | ascii_text.filter(bool))
    case = draw(st.sampled_from(["as", "lower", "upper", "swap"]))
    return {"as": name, "lower": name.lower(), "upper": name.upper(), "swap": name.swapcase()}[case]


values = st.sampled_from(_VALUES) | any_text


def _encode(text: str, how: str) -> str:
    if how == "raw":
        return "".join(ch for ch in text if ch not in "&=#%+" and 0x20 < ord(ch) < 0x7F) or "x"
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="")
    return encoded if how == "once" else quote(encoded, safe="")


def _valid_pairs(kind: str, rating_key: str, token: str) -> list[tuple[str, str]]:
    """What a real client sends for `kind` (Plex Web: everything in the query)."""
    pairs = [("X-Plex-Token", token), ("X-Plex-Client-Identifier", "fuzz-client")]
    if kind == "timeline":
        pairs += [("ratingKey", rating_key), ("key", f"/library/metadata/{rating_key}")]
    else:
        pairs += [("key", rating_key), ("identifier", LIB)]
    if kind in ("timeline", "progress"):
        pairs += [("state", "stopped"), ("time", "61000"), ("duration", "5400000")]
    return pairs


@st.composite
def query_strings(draw: st.DrawFn, kind: str | None = None) -> str:
    """A query string of names and values, each raw, encoded or encoded twice; for a
    `kind`, mostly a valid request of that kind with hostile pairs mixed in."""
    pairs = []
    if kind is not None and draw(st.integers(0, 3)):
        pairs = _valid_pairs(kind, draw(st.sampled_from(["1", "42", "7"])), "tokA")
        pairs = draw(st.permutations(pairs))
        drop = draw(st.integers(0, len(pairs)))
        pairs = [p for i, p in enumerate(pairs) if i != drop]
    pairs += draw(st.lists(st.tuples(names(), values), max_size=4 if pairs else 8))
    how = st.sampled_from(["raw", "once", "once", "twice"])
    parts = [f"{_encode(n, draw(how))}={_encode(v, draw(how))}" for n, v in pairs]
    if draw(st.booleans()):
        parts.append(f"%{draw(st.integers(0, 255)):02X}{draw(st.sampled_from(['', '%', '%G']))}")
    return "&".join(parts)


header_values = st.sampled_from(_VALUES) | st.binary(max_size=30).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")
)
headers = st.lists(st.tuples(names(), header_values), max_size=5)


# ---- tokens in every form a client can write them ------------------------------------

tokens = st.from_regex(r"[A-Za-z0-9_-]{9,30}", fullmatch=True)
_TOKEN_NAMES = ["X-Plex-Token", "token", "accessToken", "authToken", "authenticationToken"]


@st.composite
def _spelled(draw: st.DrawFn, text: str) -> str:
    """`text` with each character as it is, in the other case, or percent-encoded
    (either hex case, possibly twice): what a decoder in front of Plex still reads."""
    out = []
    for ch in text:
        how = draw(st.sampled_from(["as", "as", "case", "pct", "pct-lower", "pct-twice"]))
        if how == "as":
            out.append(ch)
        elif how == "case":
            out.append(ch.swapcase())
        elif how == "pct":
            out.append(f"%{ord(ch):02X}")
        elif how == "pct-lower":
            out.append(f"%{ord(ch):02x}")
        else:
            out.append(f"%25{ord(ch):02X}")
    return "".join(out)


@st.composite
def token_names(draw: st.DrawFn) -> str:
    """A name Plex (or a log reader) takes for a token's, spelled any way: `_spelled`."""
    return draw(_spelled(draw(st.sampled_from(_TOKEN_NAMES))))


@st.composite
def token_params(draw: st.DrawFn, token: str) -> str:
    """A query fragment that carries `token`: name=value with the name (and the value, and
    the `=`) encoded any way, or inside an encoded URL given as a parameter, once or twice."""
    name = draw(_spelled(draw(st.sampled_from(_TOKEN_NAMES))))
    sep = draw(st.sampled_from(["=", "=", "%3D", "%3d", "%253D"]))
    value = draw(_spelled(token)) if draw(st.booleans()) else token
    fragment = f"{name}{sep}{value}"
    nesting = draw(st.sampled_from([0, 0, 1, 2]))
    if nesting:
        inner = f"/library/parts/1/file.jpg?w=1&{fragment}&h=2"
        for _ in range(nesting):
            inner = quote(inner, safe="")
        fragment = f"url={inner}"
    return fragment


@st.composite
def token_lines(draw: st.DrawFn, token: str) -> str:
    """A line as mitmdump or a log may print it: URL, header, YAML, JSON, colours, cut."""
    shapes = ["url", "header", "yaml", "yaml-below", "yaml-list", "json", "json-list"]
    shape = draw(st.sampled_from(shapes))
    name = draw(st.sampled_from(_TOKEN_NAMES))
    colour = draw(st.sampled_from(["", "\x1b[34m"]))
    end = "\x1b[0m" if colour else ""
    # what may come first in the same value or list: another token or anything at all
    other = draw(tokens | st.sampled_from(["a: b", "x y", "'", "", "tokA, tokB", "#"]))
    if shape == "url":
        line = f"127.0.0.1:5: GET http://h/:/x?a=1&{draw(token_params(token))}&b=2"
    elif shape == "header":
        before = draw(st.sampled_from(["", f"{other} ", f"{other}, "]))
        line = f"    {colour}{name}{end}: {before}{token}" + draw(st.sampled_from(["", ", x"]))
    elif shape == "yaml":
        quote_mark = draw(st.sampled_from(["", "'", '"']))
        line = f"{colour}{name}{end}: {quote_mark}{token}{quote_mark}\nnext: 1"
    elif shape == "yaml-below":  # a long key: YAML puts the value on the next line
        line = f"    {draw(_spelled(name))}: \n      {other} {token}\n    next: 1"
    elif shape == "yaml-list":
        line = f"{name}:\n- {other!r}\n- {token}\nnext: 1"
    elif shape == "json":
        before = draw(st.sampled_from(["", "x ", "a: b "]))
        line = f'{{\n    "{name}": "{before}{token}",\n    "next": 1\n}}'
    else:
        line = f'{{"{name}": [\n    "{other}",\n    "{token}"\n]}}'
    if draw(st.booleans()) and shape == "url":  # mitmdump cuts long URLs with "…"
        at = line.find(token)
        if at >= 0:
            line = line[: draw(st.integers(at + 9, len(line)))] + "…"
    return line


# ---- the manager's door: events -------------------------------------------------------


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@st.composite
def event_dicts(draw: st.DrawFn, servers: list[Any]) -> dict[str, Any]:
    """Mostly a real event for one of `servers` (a real user's token, a real item) with
    up to three fields replaced by anything JSON can carry or removed: valid events go
    all the way through processing, the rest must stop at the door."""
    server = draw(st.sampled_from(servers))
    keys = sorted(server.library.items)[:300]
    fields: dict[str, st.SearchStrategy[Any]] = {
        "v": st.just(1),
        "id": st.builds(lambda: uuid.uuid4().hex),  # fresh: Hypothesis repeats its draws
        "kind": st.sampled_from(KINDS),
        "rating_key": st.sampled_from(keys) | st.sampled_from(["1", "999999", "a.b-c"]),
        "token": st.one_of(*[st.sampled_from(sorted(server.user_tokens.values()))] * 3, tokens),
        "upstream_url": st.just(server.url),
        "key": st.none() | st.sampled_from(keys).map(lambda k: f"/library/metadata/{k}"),
        "state": st.none() | st.sampled_from(["playing", "paused", "buffering", "stopped"]),
        "time_ms": st.none() | st.integers(0, 2**31 - 1),
        "duration_ms": st.none() | st.integers(0, 2**31 - 1),
        "client_id": st.none() | ascii_text,
        "product": st.none() | ascii_text,
        "device": st.none() | st.text(max_size=30),
        "machine_identifier": st.none() | st.just(server.machine_identifier),
        "proxy_name": st.none() | st.just("fuzz"),
        "seen_at": st.floats(0, 86400).map(lambda ago: time.time() - ago),
        "upstream_status": st.sampled_from([200, 204, 400, 401, 500]),
    }
    event = {name: draw(strategy) for name, strategy in fields.items()}
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        if draw(st.booleans()):
            event[name] = draw(json_values | hostile_numbers | any_text)
        else:
            del event[name]
    event.update(draw(st.dictionaries(any_text, json_values, max_size=2)))
    return event


@st.composite
def legacy_lines(draw: st.DrawFn, hosts: list[str]) -> dict[str, Any]:
    """The original nginx proxy's line: mostly well formed (its query a hostile one of
    `query_strings`), with up to two fields replaced by anything or removed."""
    kind = draw(st.sampled_from([*KINDS, "x"]))
    line: dict[str, Any] = {
        "remote_addr": "203.0.113.9",
        "host": draw(st.sampled_from(hosts)),
        "method": "GET",
        "uri": f"/:/{kind}?{draw(query_strings(kind if kind in KINDS else None))}",
        "token": draw(st.sampled_from(["", "tokA"])),
        "identifier": draw(st.sampled_from(["", "client-1"])),
        "status": draw(st.sampled_from(["200", "204", "404", 200])),
    }
    for name in draw(st.lists(st.sampled_from(sorted(line)), max_size=2, unique=True)):
        if draw(st.booleans()):
            line[name] = draw(json_values | hostile_numbers | any_text | st.just("inf"))
        else:
            del line[name]
    return line


def bodies(items: st.SearchStrategy[Any], lists: bool = True) -> st.SearchStrategy[bytes]:
    """Request bodies: JSON of `items` (alone, or in a list when the door takes lists),
    any JSON, deep nesting, bytes."""
    one = items.map(json_text)
    some = st.lists(items, min_size=1, max_size=4).map(json_text) if lists else one
    return st.one_of(
        one,
        one,
        one,
        some,
        some,
        json_values.map(json_text),
        st.integers(1, 5000).map(deep),
        st.integers(1, 3000).map(lambda d: '{"a":' * d + "1" + "}" * d),
    ).map(str.encode) | st.binary(max_size=100)
