"""manager/heap.py: large blocks mapped apart from glibc's heap, so freed ones go back."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

# In a fresh interpreter: free an 8 MiB block (glibc then raises its own threshold to 8 MiB),
# then say where a 1 MiB block lives.
_WHERE = """
import ctypes, sys
from manager import heap
if sys.argv[1] == "fixed":
    assert heap.map_large_blocks()
freed = bytearray(8 << 20)
del freed
block = bytearray(1 << 20)
at = ctypes.addressof(ctypes.c_char.from_buffer(block))
for line in open("/proc/self/maps"):
    low, high = (int(x, 16) for x in line.split()[0].split("-"))
    if low <= at < high:
        print("heap" if line.rstrip().endswith("[heap]") else "mapped")
"""


def _where(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _WHERE, mode], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_a_large_block_is_mapped_apart_even_after_a_larger_one_was_freed() -> None:
    assert _where("default") == "heap"  # glibc's own: the freed block raised the threshold
    assert _where("fixed") == "mapped"
