"""Library pages decode as the standard library would, and refuse what it refuses."""

from __future__ import annotations

import json

import pytest

from manager.servers import json_body

SAMPLES = [
    b'{"MediaContainer": {"size": 1, "Metadata": [{"ratingKey": "7", "viewOffset": 1000}]}}',
    b'{"Items": [{"Name": "\\u00e9t\\u00e9", "UserData": {"Played": true}}],'
    b' "TotalRecordCount": 1}',
    '{"title": "Amélie"}'.encode(),
    b"[]",
]


@pytest.mark.parametrize("content", SAMPLES)
def test_same_value_as_the_standard_library(content):
    assert json_body.loads(content) == json.loads(content)


def test_a_byte_order_mark_is_skipped():
    assert json_body.loads(b"\xef\xbb\xbf" + SAMPLES[0]) == json.loads(SAMPLES[0])


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"a": NaN}', b'{"a": 1} trailing', b'{"a": "\xff"}', b"<MediaContainer/>"],
)
def test_what_is_not_json_is_a_value_error(content):
    with pytest.raises(ValueError):
        json_body.loads(content)
