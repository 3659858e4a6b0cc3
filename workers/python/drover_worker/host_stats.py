"""Samples the host for heartbeats: CPU busy since the last sample, memory, load averages."""

from __future__ import annotations

import os
from typing import Optional


class HostSampler:
    def __init__(self) -> None:
        self._last = _cpu_times()

    def sample(self) -> dict:
        stats: dict = {}
        now = _cpu_times()
        if now and self._last:
            total = now[1] - self._last[1]
            idle = now[0] - self._last[0]
            stats["cpu"] = min(1.0, max(0.0, 1 - idle / total)) if total > 0 else 0.0
        self._last = now
        memory = _memory()
        if memory:
            stats["memoryUsed"], stats["memoryTotal"] = memory
        try:
            stats["load"] = list(os.getloadavg())
        except OSError:
            pass
        return stats


def _cpu_times() -> Optional[tuple[int, int]]:
    """(idle, total) jiffies over every CPU, from /proc/stat; None where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return idle, sum(fields[:8])


def _memory() -> Optional[tuple[int, int]]:
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()[1:]}
    except (OSError, ValueError, IndexError):
        return None
    total = info.get("MemTotal")
    available = info.get("MemAvailable", info.get("MemFree"))
    if total is None or available is None:
        return None
    return total - available, total
