"""The CPU a benchmark's processes used, read from /proc (Linux; None or 0 elsewhere).

A full sync's benchmark has two processes working at once, the manager and the emulated
servers, on a machine of few CPUs: the wall time of either cannot be read alone. What
each used, and the CPUs there are, give the wall time no scheduling can beat.
"""

from __future__ import annotations

import os


def stolen() -> float:
    """Seconds of CPU the host took from this virtual machine so far, all CPUs together
    (/proc/stat's steal column; 0 where there is none). Wall times on a machine that loses
    a quarter of its CPU for minutes mean little without it."""
    try:
        with open("/proc/stat") as stat:
            fields_ = stat.readline().split()
        return int(fields_[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def process_cpu(pid: int | None) -> float | None:
    """Seconds of CPU (user + system, all threads) process `pid` used so far; None when
    it cannot be read (no /proc, or no such process)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name, in parentheses, may hold spaces: fields count after it.
            after = stat.read().rsplit(")", 1)[1].split()
        return (int(after[11]) + int(after[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def spent(before: float | None, after: float | None) -> float | None:
    """CPU seconds between two readings of process_cpu, None when either is unknown."""
    return None if before is None or after is None else after - before


def used_since(pid: int | None, before: float | None) -> float | None:
    """CPU seconds `pid` used since `before` (process_cpu then), None when unknown."""
    return spent(before, process_cpu(pid))


def cpus() -> int:
    """The CPUs this process may run on (its affinity), what both processes share."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def least_wall(cpu_s: float, n_cpus: int, one_at_a_time_s: float = 0.0) -> float:
    """The least wall time in which `cpu_s` seconds of CPU fit on `n_cpus` CPUs, and no
    less than `one_at_a_time_s`: the CPU time of a process that runs on one CPU at a time
    (the emulator is one Python process; its threads take turns holding the GIL)."""
    return max(cpu_s / max(1, n_cpus), one_at_a_time_s)
