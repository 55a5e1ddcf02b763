"""glibc's allocator, set up for processes that allocate and free batches of tensors.

By default glibc hands any block above a sliding threshold (128 KiB, rising to at most 32 MiB) to
the kernel with `mmap`, and gives the top of its heap back to the kernel whenever more than
128 KiB of it is free. A forward pass over a batch of 64 images allocates and frees tensors of
1-40 MB in every layer, so every pass faults its memory in again, page by page, and the kernel
zeroes each page. Keeping freed memory in the process instead made the champion's forward pass in
torch over 64 images 1.49x as fast on this machine, and decode + preprocess + forward 1.19x
(`bench.allocator`). ONNX Runtime, which runs the model now, keeps its own arena of the pass's
memory; decoding still allocates and frees per image: decode + preprocess + forward 1.05x. The
cost: a process keeps the memory of its largest batch after the batch is done.

Call :func:`keep_freed_memory` once, early, in a process that runs the model; it does nothing
where the C library is not glibc.
"""

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 * 1024 * 1024
"""Blocks below this come from the heap and are reused; larger ones are still mapped and unmapped."""
TRIM_THRESHOLD = 512 * 1024 * 1024
"""Free memory at the top of the heap that stays with the process instead of going back."""


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (see the module); False where that is not possible."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.info("no glibc mallopt here (%s): the allocator keeps its defaults", name)
        return False
    # Setting either threshold turns glibc's sliding threshold off, so both are set.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
