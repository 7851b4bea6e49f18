import io
import json

from manager.logs import Throttle, configure_logging, get_logger
from manager.redaction import redact, redact_mapping, redact_text

TOKEN = "Zx9yQwErTy12345"


def test_redact_keeps_four_characters() -> None:
    assert redact(TOKEN) == "Zx9y…"
    assert redact("") == ""
    assert redact(None) == ""


def test_a_short_secret_shows_half_of_itself_at_most() -> None:
    # "Never logged in full": four characters of a four-character password are all of it.
    shown = {n: redact("p" * n) for n in range(1, 10)}
    assert shown == {
        1: "…", 2: "p…", 3: "p…", 4: "pp…", 5: "pp…", 6: "ppp…", 7: "ppp…", 8: "pppp…",
        9: "pppp…",
    }  # fmt: skip
    for secret in ("abcd", "x", "pass1", "hunter2"):
        assert secret not in redact(secret)
        assert redact_text(f"token={secret} next") == f"token={redact(secret)} next"
        assert redact_mapping({"password": secret}) == {"password": redact(secret)}


def test_tokens_in_urls_and_headers_are_redacted() -> None:
    text = (
        f"GET http://h/:/scrobble?key=1&X-Plex-Token={TOKEN}&identifier=x "
        f"Authorization: Bearer {TOKEN} token={TOKEN}"
    )
    out = redact_text(text)
    assert TOKEN not in out
    assert "X-Plex-Token=Zx9y…&identifier=x" in out
    assert redact_text(out) == out


def test_a_url_keeps_its_user_and_host_and_loses_its_password() -> None:
    assert redact_text(f"http://bob:{TOKEN}@jelly:8096/x") == "http://bob:Zx9y…@jelly:8096/x"
    for text in ("http://jelly:8096/x", "http://bob@jelly/x", "mailto:bob@example.org"):
        assert redact_text(text) == text
    once = redact_text(f"a https://u:{TOKEN}@h b")
    assert redact_text(once) == once


def test_nested_mappings_are_redacted_by_key_and_by_value() -> None:
    out = redact_mapping(
        {"X-Plex-Token": TOKEN, "nested": {"accessToken": TOKEN}, "url": f"/?token={TOKEN}"}
    )
    assert TOKEN not in json.dumps(out, ensure_ascii=False)


def test_log_lines_never_carry_a_token_in_either_format() -> None:
    for fmt in ("text", "json"):
        stream = io.StringIO()
        configure_logging(fmt, "DEBUG", stream=stream)
        get_logger("t").info("replayed", token=TOKEN, url=f"http://h/?X-Plex-Token={TOKEN}")
        line = stream.getvalue()
        assert TOKEN not in line
        assert "Zx9y…" in line
        assert line.count("\n") == 1
        if fmt == "json":
            assert json.loads(line)["event"] == "replayed"


def test_a_logger_made_before_configuration_follows_it() -> None:
    early = get_logger("early")
    stream = io.StringIO()
    configure_logging("json", "WARNING", stream=stream)
    early.info("hidden")
    early.warning("shown", token=TOKEN)
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["shown"]
    assert json.loads(lines[0])["component"] == "early"


def test_throttle_lets_one_line_per_window_through_and_counts_the_rest() -> None:
    now = [100.0]
    throttle = Throttle(interval=60.0, clock=lambda: now[0])
    assert throttle("bad request") == 0  # the first one is logged
    assert [throttle("bad request") for _ in range(5)] == [None] * 5
    assert throttle("other line") == 0  # keys are independent
    now[0] += 60.0
    assert throttle("bad request") == 5  # logged again, saying how many were held back
    assert throttle("bad request") is None
