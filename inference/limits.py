"""How much one request, and the server as a whole, may decode: the memory an image takes while it
is decoded at full size, times the requests decoded at once, must fit the container.

Measured: a 39.9-megapixel PNG (166 KiB on disk) takes about 471 MiB to decode, 12.4 bytes a
pixel (the decoded RGB(A) frame, its conversion, and the decoder's own buffers).
"""

from pathlib import Path

from core.settings import Settings

BYTES_PER_PIXEL = 12.4
MEMORY_SHARE = 0.5
"""Of the container's memory, what decoding may take; the rest is the model, Python and batches."""
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
UNLIMITED = 1 << 60


def memory_limit(files: tuple[Path, ...] = CGROUP_LIMITS) -> int | None:
    """The container's memory limit from its cgroup (v2, then v1), or None where there is none."""
    for file in files:
        try:
            value = file.read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < UNLIMITED:
            return int(value)
        return None
    return None


def pixel_budget(settings: Settings, limit: int | None) -> int:
    """Pixels one image may have so that `inference_concurrency` of them decode at once in
    MEMORY_SHARE of `limit`; never more than `max_image_pixels`."""
    if limit is None:
        return settings.max_image_pixels
    fits = int(limit * MEMORY_SHARE / (settings.inference_concurrency * BYTES_PER_PIXEL))
    return max(1, min(settings.max_image_pixels, fits))
