"""The one table of image formats: what uploads, storage, the decoder, the review export, the
trainer's folder loader and the inference server accept, and the names each of them uses."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageFormat:
    pillow: str
    """Pillow's name for the format (what `Image.open(..., formats=...)` takes and `.format` says)."""
    extension: str
    """The suffix stored and exported files get."""
    media_type: str
    suffixes: tuple[str, ...]
    """Every file suffix read as this format."""


FORMATS = (
    ImageFormat("JPEG", "jpg", "image/jpeg", (".jpg", ".jpeg")),
    ImageFormat("PNG", "png", "image/png", (".png",)),
    ImageFormat("WEBP", "webp", "image/webp", (".webp",)),
    ImageFormat("GIF", "gif", "image/gif", (".gif",)),
    ImageFormat("BMP", "bmp", "image/bmp", (".bmp",)),
    ImageFormat("TIFF", "tiff", "image/tiff", (".tif", ".tiff")),
)
PILLOW_NAMES = [f.pillow for f in FORMATS]
BY_PILLOW = {f.pillow: f for f in FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in FORMATS}
SUFFIXES = frozenset(suffix for f in FORMATS for suffix in f.suffixes)
EXTENSIONS = tuple(f.extension for f in FORMATS)
