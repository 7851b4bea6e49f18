"""The collector's thresholds are raised while a sync runs and restored after the last."""

from __future__ import annotations

import gc

import pytest

from manager.fullsync import collector


@pytest.fixture(autouse=True)
def _known_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_raised_inside_restored_after():
    with collector.fewer_passes():
        assert gc.get_threshold() == collector.SYNC_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_nested_uses_restore_only_when_the_last_ends():
    with collector.fewer_passes():
        with collector.fewer_passes():
            pass
        assert gc.get_threshold() == collector.SYNC_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_when_the_sync_fails():
    with pytest.raises(RuntimeError), collector.fewer_passes():
        raise RuntimeError("sync crashed")
    assert gc.get_threshold() == (700, 10, 10)
