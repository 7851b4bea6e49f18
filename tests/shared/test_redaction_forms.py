"""Every form in which a client can send a token is redacted in text we print.

Found by sending tokens through mitmdump at -v, -vv and flow_detail 2-4: the name
percent-encoded, the token inside an encoded URL in a parameter (Plex's photo
transcoder takes one), YAML and JSON renderings of the query and of bodies.
"""

from __future__ import annotations

import pytest

from addons.redacting_output import redact_line
from manager.redaction import redact_text

T = "Zx9yQwErTy12345"
U = "Pq8rStUvWx67890"


@pytest.mark.parametrize(
    "text",
    [
        f"GET http://h/:/scrobble?key=1&X%2DPlex%2DToken={T}&identifier=x",
        f"GET http://h/:/scrobble?key=1&x%2dplex%2dtoken={T}",
        f"GET http://h/:/scrobble?%58-%50lex-%54oken={T}",
        f"GET http://h/:/scrobble?%74%6F%6B%65%6E={T}",
        f"GET http://h/photo/:/transcode?url=%2Flibrary%2Fparts%2F1%3FX-Plex-Token%3D{T}%26w%3D1",
        f"GET http://h/photo/:/transcode?url=%252Flibrary%253FX-Plex-Token%253D{T}%2526w%253D1",
        f"GET http://h/photo/:/transcode?url=%2Fl%3Ftoken%3D{T}",
        f"GET http://h/x?X-Plex-Token%3D{T}",
        f"GET http://h/x?X-Plex-Token=Zx9y%2B{T}",
        f"    X-Plex-Token: {T}, {U}",
        f"X-Plex-Token: '{T}'",
        f"X-Plex-Token:\n- {T}\n- {U}\nX-Plex-Product: Plex Web",
        f'{{\n    "X-Plex-Token": "{T}",\n    "other": "x"\n}}',
        f'{{"token":"{T}"}}',
        f'"X-Plex-Token": [\n    "{T}",\n    "{U}"\n]',
        f'{{\\"X-Plex-Token\\": \\"{T}\\"}}',
        f"\x1b[33mX-Plex-Token\x1b[0m: \x1b[32m'{T}'\x1b[0m",
        f"    \x1b[34mtoken\x1b[0m: {T}",  # found by the fuzz suite: "m" before "token"
        f"    authorization: Bearer {T}",
        f'"Authorization": "Bearer {T}"',
        # HTTP basic auth (a reverse proxy in front of a server): user:password in base64
        f"    authorization: Basic {T}",
        f'"Authorization": "Basic {T}"',
        # a server's URL with a password in its user info (basic auth in front of it)
        f"GET http://bob:{T}@jelly:8096/Items failed",
        f"url: https://alice:{T}@plex.example/",
        f"X-Plex-Token={T}&X-Plex-Token={U}",
        # found by the long fuzz run: a list item or value with a space in it came first
        f"X-Plex-Token:\n- 'a: b'\n- {T}\nnext: 1",
        f"X-Plex-Token: x {T}, {U}",
        f'{{"X-Plex-Token": ["a b", "{T}"]}}',
        f'{{"X-Plex-Token": "Zx9y {T}"}}',
        # and a value YAML put on the line below its (long) key, found by a longer run
        f"    time: '1'\n    a%75tH%65%6ETi%63AtioNT%6FKeN: \n      {T}\n\n << 200 OK",
        f"X-Plex-Token:\n  Zx9y {T}\n  {U}\nnext: 1",
        f'{{"token": [\n    "\\\\",\n    "]{T}"\n]}}',  # an escaped backslash ends a string
    ],
)
def test_every_form_is_redacted(text: str) -> None:
    for redacted in (redact_text(text), redact_line(text)):
        assert T not in redacted and U not in redacted, redacted
        assert T[5:] not in redacted and U[5:] not in redacted, redacted
        assert "…" in redacted, redacted


def test_redaction_leaves_other_names_and_already_redacted_values_alone() -> None:
    text = f'{{\n    "X-Plex-Token": "{T}",\n    "other": "value"\n}}'
    out = redact_text(text)
    assert '"other": "value"' in out
    assert redact_text(out) == out
    cut = redact_text(f"GET http://h/:/timeline?X-Plex-Token={T[:11]}…")
    assert cut == "GET http://h/:/timeline?X-Plex-Token=Zx9y…"
    assert redact_text(cut) == cut
