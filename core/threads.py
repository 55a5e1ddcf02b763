"""How many threads a process that shares the machine's cores runs its forward passes in."""

import os
from pathlib import Path

from core.settings import Settings

CGROUP_CPU_QUOTAS = (
    (Path("/sys/fs/cgroup/cpu.max"), None),  # v2: "<quota> <period>" or "max <period>"
    (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")),  # v1: -1 is none
)


def available_cores(quotas: tuple[tuple[Path, Path | None], ...] = CGROUP_CPU_QUOTAS) -> int:
    """The cores this process may use: those it may run on (a cpuset), or fewer when its cgroup's
    CPU quota (`docker --cpus`, a Kubernetes limit) allows less, rounded down; at least 1."""
    affinity = getattr(os, "sched_getaffinity", None)
    cores = len(affinity(0)) if affinity else os.cpu_count() or 1
    for quota_file, period_file in quotas:
        try:
            fields = quota_file.read_text().split()
            quota, period = fields[0], (period_file.read_text().strip() if period_file else fields[1])
        except (OSError, IndexError):
            continue
        if quota.isdigit() and period.isdigit() and int(period) > 0:
            cores = min(cores, int(quota) // int(period))
        break
    return max(1, cores)


def model_threads(settings: Settings, sharers: int) -> int:
    """`STYLECAT_MODEL_THREADS`, or the available cores divided among `sharers`: the prefork
    children of a worker, or the inference server's forward pass and its decoding threads, so that
    none of them oversubscribes the cores."""
    return settings.model_threads or max(1, available_cores() // max(1, sharers))
