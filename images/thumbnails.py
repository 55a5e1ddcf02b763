"""Thumbnails of stored images: WebP, the long side `size` pixels, made once and kept in the store
beside the images (`derived/`), so that a gallery page costs the store one read per thumbnail.

An image that cannot be read or decoded (gone from the store, not an image, over the pixel limit)
gets a placeholder instead: a grey tile with no text, never an error.
"""

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageOps, UnidentifiedImageError

from core.settings import Settings
from images.fetch import FetchError, fetch
from images.storage import StorageError, load_derived, save_derived

SIZES = (128, 256, 512, 1024)
QUALITY = 80


class ThumbnailError(Exception):
    """The image behind the reference cannot be shown: its placeholder is served instead."""


def thumbnail_name(ref: str, size: int) -> str:
    """The derived file's name (and the HTTP ETag): the same reference and size, the same file."""
    return f"{hashlib.sha256(ref.encode()).hexdigest()}-{size}.webp"


def thumbnail(ref: str, size: int, settings: Settings) -> bytes:
    """The WebP thumbnail of the image stored at `ref`, made on first use."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    name = thumbnail_name(ref, size)
    cached = load_derived(name, settings)
    if cached is not None:
        return cached
    try:
        data = fetch(ref, settings)
    except (FetchError, StorageError) as exc:
        raise ThumbnailError(str(exc)) from None
    made = render(data, size, settings.max_image_pixels)
    save_derived(name, made, "image/webp", settings)
    return made


def render(data: bytes, size: int, max_pixels: int) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise ThumbnailError(f"{image.width}x{image.height} is over the pixel limit")
            image.draft("RGB", (size, size))  # JPEG: decode at a fraction of the size
            shown = ImageOps.exif_transpose(image).convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ThumbnailError(f"not a readable image: {exc}") from None
    shown.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    shown.save(out, "WEBP", quality=QUALITY, method=4)
    return out.getvalue()


@lru_cache
def placeholder(size: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (214, 214, 214)).save(out, "WEBP", quality=QUALITY)
    return out.getvalue()
