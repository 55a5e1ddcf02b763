"""Artwork to upload-like files: vector art rasterised at varied sizes, placed with a margin on a
plain, lightly tinted or paper-white background, saved as PNG or JPEG at varied quality.

Only the presentation varies, never the drawing: the same icon at 180 px on white as a PNG and at
460 px on pale blue as a JPEG is the same style, which is what the model has to learn.
"""

import io

import numpy as np
import resvg_py
from PIL import Image

RGB = tuple[int, int, int]


def svg_to_image(svg: str, size: int) -> Image.Image:
    """Rasterise an SVG `size` pixels wide, keeping its aspect (RGBA, transparent ground).
    resvg, unlike cairosvg, draws masks and clip paths correctly (DiceBear avatars use them)."""
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size))
    return Image.open(io.BytesIO(png)).convert("RGBA")


def background(rng: np.random.Generator) -> RGB:
    """White half the time; otherwise a light tint, an off-white, or (6 %) a dark ground."""
    r = rng.random()
    if r < 0.5:
        return (255, 255, 255)
    if r < 0.78:
        tint = rng.integers(200, 256, 3)
        return (int(tint[0]), int(tint[1]), int(tint[2]))
    if r < 0.94:
        grey = int(rng.integers(232, 251))
        warm = int(rng.integers(0, 8))
        return (min(255, grey + warm), grey, max(0, grey - warm))
    dark = rng.integers(15, 70, 3)
    return (int(dark[0]), int(dark[1]), int(dark[2]))


def ink(ground: RGB, rng: np.random.Generator) -> str:
    """A pen colour for monochrome art that reads on `ground`: near-black or a dark colour on light
    grounds, near-white or a pale colour on dark ones."""
    light_ground = sum(ground) > 300
    if rng.random() < 0.7:
        level = int(rng.integers(0, 60)) if light_ground else int(rng.integers(215, 256))
        return f"#{level:02x}{level:02x}{level:02x}"
    low, high = (20, 120) if light_ground else (170, 256)
    r, g, b = (int(v) for v in rng.integers(low, high, 3))
    return f"#{r:02x}{g:02x}{b:02x}"


def place(art: Image.Image, ground: RGB, rng: np.random.Generator) -> Image.Image:
    """Composite RGBA art onto `ground` with a random margin (3-25 % of the side)."""
    art = art.convert("RGBA")
    margin = rng.uniform(0.03, 0.25)
    w, h = art.size
    canvas_w = int(round(w * (1 + 2 * margin * rng.uniform(0.6, 1.4))))
    canvas_h = int(round(h * (1 + 2 * margin * rng.uniform(0.6, 1.4))))
    canvas = Image.new("RGBA", (canvas_w, canvas_h), (*ground, 255))
    canvas.alpha_composite(art, ((canvas_w - w) // 2, (canvas_h - h) // 2))
    return canvas.convert("RGB")


def encode(image: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    """PNG (40 %) or JPEG at quality 70-95; returns the bytes and the file suffix."""
    buffer = io.BytesIO()
    if rng.random() < 0.4:
        image.save(buffer, "PNG", optimize=False)
        return buffer.getvalue(), ".png"
    image.save(buffer, "JPEG", quality=int(rng.integers(70, 96)))
    return buffer.getvalue(), ".jpg"


def upload_size(rng: np.random.Generator) -> int:
    """The art's longer side: 160-512 px, log-uniform."""
    return int(np.exp(rng.uniform(np.log(160), np.log(512))))
