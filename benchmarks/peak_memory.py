"""Resident memory of the running process, for the benchmarks' peaks (Linux /proc).

Writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current resident size,
so one process can measure several phases, and a forked worker does not report its
parent's peak. Where /proc is missing these give None / False, and the callers fall
back to ru_maxrss, the lifetime peak.
"""

from __future__ import annotations

import resource
from pathlib import Path


def status_kb(field: str) -> int | None:
    """A memory field of /proc/self/status in kB (VmHWM: the peak, VmRSS: now)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset VmHWM to the current resident size; False where the system cannot."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def lifetime_peak_kb() -> int:
    """The process's peak resident memory since it started (ru_maxrss, kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
