"""The one image preprocessing path shared by training, workers and servers.

Bytes -> safely decoded RGB ``PIL.Image`` (``load_image``) -> fixed-size uint8 pixels
(``to_uint8_array``) -> normalised float32 NCHW batch (``normalize``). Training stores the uint8
pixels, so it sees exactly the pixels production sees. ``probe`` reads only the header.
"""

import io
import warnings

import numpy as np
from billiard.exceptions import SoftTimeLimitExceeded
from PIL import Image, ImageOps, UnidentifiedImageError

from core.formats import PILLOW_NAMES

MEAN, STD = 0.5, 0.25
MAX_ASPECT = 50
"""Longer side over shorter side: a 1 x 100000 strip is no illustration, and would crop to one pixel."""

# Signatures of formats we recognise but refuse, so callers get `unsupported_format` not `not_an_image`.
_REFUSED_MAGIC = {
    b"%!PS": "EPS/PostScript",
    b"\xc5\xd0\xd3\xc6": "EPS",
    b"%PDF": "PDF",
    b"8BPS": "PSD",
    b"\x00\x00\x01\x00": "ICO",
    b"<svg": "SVG",
    b"<?xml": "SVG/XML",
    b"\x00\x00\x00\x0cjP": "JPEG 2000",
    b"\xffO\xffQ": "JPEG 2000",
    b"qoif": "QOI",
}
_ALLOWED_MAGIC = (b"\xff\xd8", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")


class ImageDecodeError(ValueError):
    """Bad input image.  `code` is one of: empty, not_an_image, unsupported_format, truncated, too_many_pixels,
    bad_dimensions."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _sniff_refused(data: bytes) -> str | None:
    head = data[:16].lstrip()
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF"
    return next((name for magic, name in _REFUSED_MAGIC.items() if head.startswith(magic)), None)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any decoded mode -> 8-bit RGB; transparency is composited onto white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        if img.mode != "F" and arr.max(initial=0) > 255:  # 16-bit range (PNG/TIFF 16-bit grey)
            arr = arr / 257.0
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if (img.mode == "P" and "transparency" in img.info) or img.mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        ground = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(ground, img).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Parse the header only (lazy), with the pixel limit enforced; raise ImageDecodeError."""
    if not data:
        raise ImageDecodeError("empty", "no image data")
    try:
        img = Image.open(io.BytesIO(data), formats=PILLOW_NAMES)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise ImageDecodeError("too_many_pixels", str(e)) from None
    except UnidentifiedImageError:
        refused = _sniff_refused(data)
        if refused:
            raise ImageDecodeError("unsupported_format", f"{refused} images are not accepted") from None
        if data.startswith(_ALLOWED_MAGIC):
            raise ImageDecodeError("truncated", "image header is damaged or incomplete") from None
        raise ImageDecodeError("not_an_image", "data is not a recognised image") from None
    except SoftTimeLimitExceeded:  # a Celery task's time limit is an Exception: never a decode error
        raise
    except Exception as e:  # header parsers raise SyntaxError, struct.error, EOFError, ...
        raise ImageDecodeError("truncated", f"cannot parse image header: {e}") from None
    w, h = img.size
    if w < 1 or h < 1:
        raise ImageDecodeError("not_an_image", f"invalid size {w}x{h}")
    if w * h > max_pixels:
        raise ImageDecodeError("too_many_pixels", f"{w}x{h} exceeds {max_pixels} pixels")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageDecodeError("bad_dimensions", f"{w}x{h} is more than {MAX_ASPECT} times longer than wide")
    return img


def probe(data: bytes, max_pixels: int = 40_000_000) -> tuple[str, int, int]:
    """Format, width and height from the header alone (cheap: nothing is decoded)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open(data, max_pixels)
    return str(img.format), img.size[0], img.size[1]


def load_image(data: bytes, max_pixels: int = 40_000_000, draft_size: int | None = None) -> Image.Image:
    """Decode untrusted bytes into an RGB image, or raise ImageDecodeError.

    `draft_size`: if given, a JPEG is decoded with DCT scaling (1/2, 1/4, 1/8) to the smallest
    size whose both sides are still >= draft_size, which is several times faster for small
    model inputs.  Only the first frame of animated images is used; EXIF orientation is applied.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open(data, max_pixels)
        if draft_size and img.format == "JPEG":
            img.draft("RGB", (draft_size, draft_size))
        try:
            img.load()  # first frame only for GIF/WEBP/TIFF
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
            raise ImageDecodeError("too_many_pixels", str(e)) from None
        except SoftTimeLimitExceeded:
            raise
        except Exception as e:  # OSError "image file is truncated", decoder errors, ...
            raise ImageDecodeError("truncated", f"cannot decode image data: {e}") from None
    try:
        img = ImageOps.exif_transpose(img)
    except SoftTimeLimitExceeded:
        raise
    except Exception:  # a corrupt EXIF block must not reject an otherwise fine image
        pass
    return _to_rgb(img)


def to_uint8_array(img: Image.Image, size: int) -> np.ndarray:
    """HWC uint8 `size` x `size`: resize the short side to `size` and centre-crop, in one resample.

    Cropping (rather than squashing) keeps strokes, hatching and gradients at their true aspect,
    which is what the style classifier looks at; for the 1:2..2:1 aspect range it still sees >= half
    of the picture.
    """
    w, h = img.size
    side = min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0))


def normalize(batch_hwc: np.ndarray) -> np.ndarray:
    """uint8 (..., H, W, C) -> float32 (..., C, H, W) with fixed mean/std."""
    x = np.moveaxis(batch_hwc, -1, -3).astype(np.float32)
    x *= 1.0 / (255.0 * STD)
    x -= MEAN / STD
    return x


def appearance(pixels: np.ndarray) -> tuple[float, float]:
    """(brightness, colourfulness) of uint8 HWC RGB pixels, each in [0, 1]: mean luma, and Hasler and
    Süsstrunk's colourfulness (spread and mean of the opponent channels) over 255."""
    rgb = pixels.reshape(-1, 3).astype(np.float32)
    red, green, blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    luma = 0.299 * red + 0.587 * green + 0.114 * blue
    rg, yb = red - green, 0.5 * (red + green) - blue
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mean = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(luma.mean() / 255), float(min(1.0, (spread + 0.3 * mean) / 255))
