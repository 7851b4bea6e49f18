"""Large blocks straight from the operating system, and back to it when freed.

Python keeps small objects in its own arenas and asks the C library for anything larger:
a library page's body, the tables of the catalogue's dicts, a full sync's scratch arrays.
glibc maps a large block on its own only above a threshold that it raises each time such a
block is freed, up to 32 MiB. After a full sync has freed its first few tables, nearly
every large block comes from the shared heap instead, and a heap gives back only what
lies free at its top: the next sync's tables land beside what the last one left, and the
process's memory stays at its high-water mark between syncs and rises with each. A fixed
threshold keeps large blocks mapped apart, so each one freed is returned at once.
"""

from __future__ import annotations

import ctypes
import platform

M_MMAP_THRESHOLD = -3  # glibc's <malloc.h>
LARGE_BLOCK = 128 * 1024  # glibc's own starting threshold, held there

_done = False


def map_large_blocks() -> bool:
    """Fix glibc's mmap threshold at `LARGE_BLOCK` for this process (once). False where
    the C library is not glibc, or refused: memory is then managed as it was."""
    global _done
    if _done:
        return True
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK) == 1
    return _done
