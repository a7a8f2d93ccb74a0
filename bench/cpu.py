"""CPU time per request, by process group, from /proc (Linux).

When every stage of the pipeline shares the same cores, the pipeline cannot go faster
than the cores divided by the CPU time one request costs across all processes: that
is the physical ceiling this module measures, next to each group's share of it."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSnapshot:
    machine_busy_s: float
    by_group: Mapping[str, float]


def _machine_busy_s() -> float:
    """Busy CPU seconds of the whole machine since boot (all but idle and iowait)."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / TICKS


def _process_cpu_s(pid: str) -> tuple[str, float] | None:
    try:
        stat = (PROC / pid / "stat").read_text()
        cmdline = (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return cmdline, (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def snapshot(services: Mapping[int, str]) -> CpuSnapshot:
    """Machine busy time, and CPU seconds per group of live processes: each service
    (by pid), the Kafka broker, PostgreSQL (server and backends)."""
    groups: defaultdict[str, float] = defaultdict(float)
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        found = _process_cpu_s(entry.name)
        if found is None:
            continue
        cmdline, seconds = found
        label = services.get(int(entry.name))
        if label is None:
            if "kafka.Kafka" in cmdline:
                label = "kafka"
            elif "postgres" in cmdline.split(" ", 1)[0]:
                label = "postgres"
            elif "bench.intake_rate" in cmdline:
                label = "load-generator"
            else:
                continue
        groups[label] += seconds
    return CpuSnapshot(_machine_busy_s(), dict(groups))


def per_request(
    before: CpuSnapshot, after: CpuSnapshot, requests: int, cores: int
) -> dict[str, float]:
    """CPU milliseconds per request by group and for the machine, and the requests/s
    the machine's cores could sustain at that cost."""
    if requests <= 0:
        return {}
    result = {
        f"{label}_ms": (after.by_group.get(label, 0.0) - before.by_group.get(label, 0.0))
        * 1000
        / requests
        for label in sorted(after.by_group)
    }
    machine_ms = (after.machine_busy_s - before.machine_busy_s) * 1000 / requests
    result["machine_ms"] = machine_ms
    result["ceiling_requests_per_s"] = cores * 1000 / machine_ms if machine_ms > 0 else 0.0
    return result
