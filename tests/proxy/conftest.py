"""Fixtures for the proxy tests: a manager stand-in, emulated Plex servers, real mitmdump."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proxy.harness import MediaUpstream, Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    try:
        yield rec
    finally:
        rec.down()


@pytest.fixture(scope="module")
def media() -> Iterator[MediaUpstream]:
    up = MediaUpstream()
    try:
        yield up
    finally:
        up.stop()
