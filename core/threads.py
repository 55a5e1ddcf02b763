"""How many torch threads a process that shares the machine's cores runs its forward passes in."""

import os

from core.settings import Settings


def torch_threads(settings: Settings, sharers: int) -> int:
    """`STYLECAT_TORCH_THREADS`, or the cores divided among `sharers`: the prefork children of a
    worker, or the inference server's forward pass and its decoding threads, so that none of them
    oversubscribes the cores."""
    return settings.torch_threads or max(1, (os.cpu_count() or 1) // max(1, sharers))
