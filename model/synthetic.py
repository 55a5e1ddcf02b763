"""Seeded synthetic illustrations in four drawing styles.

``scenes.compose`` builds a list of shape primitives; a style renderer here draws them.  All
styles share compositions, palettes, canvas sizes (256-1200 px long side, aspect 1:2-2:1),
background colours, noise and compression, so a classifier can only separate the classes by
how things are rendered.  Only the ``numpy.random.Generator`` passed in is used, so output is
byte-identical for the same seed.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from core.styles import STYLES
from model.scenes import BLACK, RGB, WHITE, Prim, compose, mix, palette, pick

# --- style renderers ----------------------------------------------------------------------------


def _xy(pts: np.ndarray, closed: bool = False) -> list[float]:
    """Flat [x0, y0, x1, y1, ...] list for ImageDraw; closed paths repeat their first point."""
    return (np.vstack([pts, pts[:1]]) if closed else pts).ravel().tolist()


def _background(rng: np.random.Generator, pal: list[RGB]) -> RGB:
    """Background colour drawn from the same distribution for every style."""
    r = rng.random()
    if r < 0.45:
        return mix(WHITE, [(240, 232, 210), (225, 225, 225), (250, 246, 238)][rng.integers(3)], rng.random())
    if r < 0.8:
        return mix(pick(pal, rng, 1)[0], WHITE, rng.uniform(0.5, 0.9))
    return pick(pal, rng, 1)[0]


def _stroke_px(p: Prim, s: float) -> int:
    return max(1, int(round(p.width or s)))


def _render_flat(img: Image.Image, prims: list[Prim], bg: RGB, rng: np.random.Generator) -> None:
    """Solid uniform fills, crisp edges, optional uniform outline and hard-edged flat 'long shadow'."""
    d = ImageDraw.Draw(img)
    s = min(img.size)
    outline = mix(pick([BLACK, (40, 30, 60), (60, 40, 30)], rng, 1)[0], bg, 0.1) if rng.random() < 0.35 else None
    ow = max(1, int(s * rng.uniform(0.003, 0.012)))
    shadow = (
        (rng.uniform(0.01, 0.04) * s * rng.choice([-1, 1]), rng.uniform(0.01, 0.04) * s)
        if rng.random() < 0.25
        else None
    )
    for p in prims:
        if p.closed:
            if shadow:
                d.polygon(_xy(p.pts + shadow), fill=mix(bg, BLACK, 0.25))
            d.polygon(_xy(p.pts), fill=p.color)
            if outline:
                d.line(_xy(p.pts, True), fill=outline, width=ow, joint="curve")
        else:
            d.line(_xy(p.pts), fill=p.color, width=_stroke_px(p, ow), joint="curve")


def _render_line_art(img: Image.Image, prims: list[Prim], bg: RGB, rng: np.random.Generator) -> None:
    """Clean, even strokes on a plain ground; shapes are optionally knocked out in the ground colour."""
    d = ImageDraw.Draw(img)
    s = min(img.size)
    dark_bg = sum(bg) < 300
    ink = mix(
        pick([BLACK, (30, 30, 70), (70, 40, 20), (50, 50, 50)], rng, 1)[0],
        prims[rng.integers(len(prims))].color,
        rng.uniform(0, 0.6) if rng.random() < 0.3 else 0.0,
    )
    if dark_bg:
        ink = mix(ink, WHITE, 0.9)
    lw = s * rng.uniform(0.003, 0.012)
    knockout = rng.random() < 0.7
    for p in prims:
        w = max(1, int(round(lw * rng.uniform(0.7, 1.3))))
        if p.closed and knockout:
            d.polygon(_xy(p.pts), fill=bg)
        d.line(_xy(p.pts, p.closed), fill=ink, width=w, joint="curve")


def _wobble(pts: np.ndarray, closed: bool, amp: float, rng: np.random.Generator) -> np.ndarray:
    """Resample a path evenly and displace it with smooth noise (hand tremor); closed paths overshoot."""
    if closed:
        pts = np.vstack([pts, pts[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    n, k = int(np.clip(arc[-1] / max(amp * 2.5, 1.0), 8, 400)), 5
    t = np.linspace(0, arc[-1], n)
    out = np.stack([np.interp(t, arc, pts[:, 0]), np.interp(t, arc, pts[:, 1])], 1)
    c = np.cumsum(rng.normal(0, 1, (n + k, 2)), axis=0)
    out += (c[k:] - c[:-k]) / np.sqrt(k) * amp
    return np.vstack([out, out[1 : rng.integers(2, 5)]]) if closed else out


def _texture(size: tuple[int, int], cell: tuple[float, float], rng: np.random.Generator) -> Image.Image:
    """Smooth value noise as an 'L' image, with anisotropic cells for streaky crayon texture."""
    w, h = size
    small = (rng.random((max(2, int(h / cell[1])), max(2, int(w / cell[0])))) * 255).astype(np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BILINEAR)


def _render_hand_drawn(img: Image.Image, prims: list[Prim], bg: RGB, rng: np.random.Generator) -> None:
    """Wobbly multi-pass ink/pencil outlines over hatched, crayon or watercolour fills on textured paper."""
    w, h = img.size
    s = min(w, h)
    if rng.random() < 0.8:  # blotchy paper; otherwise the strokes and fills alone must carry the style
        img.paste(
            mix(bg, (120, 100, 70), 0.25), (0, 0), _texture(img.size, (s / 6, s / 6), rng).point(lambda v: v // 3)
        )
    d = ImageDraw.Draw(img)
    mode = rng.integers(3)  # 0 hatching, 1 crayon, 2 watercolour wash
    ink = pick([(40, 40, 40), (90, 90, 95), (30, 30, 80), (70, 40, 25)], rng, 1)[0]
    amp, lw = s * rng.uniform(0.003, 0.01), max(1, int(s * rng.uniform(0.002, 0.007)))
    if mode == 1:  # crayon: streaky coverage with paper showing through
        grain = s * rng.uniform(0.004, 0.012)
        tex = _texture(img.size, (grain, grain * 6) if rng.random() < 0.5 else (grain * 6, grain), rng)
        tex = tex.point(lambda v: 255 if v > 150 else max(0, v * 2 - 60))
    elif mode == 2:  # watercolour: translucent, blotchy wash
        tex = _texture(img.size, (s / 12, s / 12), rng).point(lambda v: 90 + v // 2)
    angle, spacing, colour_hatch = rng.uniform(0, np.pi), s * rng.uniform(0.012, 0.03), rng.random() < 0.6
    for p in prims:
        if not p.closed:
            d.line(
                _xy(_wobble(p.pts, False, amp, rng)),
                fill=p.color if mode else ink,
                width=max(lw, _stroke_px(p, lw)),
                joint="curve",
            )
            continue
        poly = _wobble(p.pts, True, amp, rng)
        x0, y0 = np.floor(poly.min(0)).astype(int).tolist()
        x1, y1 = (np.ceil(poly.max(0)).astype(int) + 1).tolist()
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).polygon(_xy(poly - [x0, y0]), fill=255)
        if mode == 0:
            lines = Image.new("L", mask.size, 0)
            ld = ImageDraw.Draw(lines)
            diag = float(np.hypot(*mask.size))
            for a in [angle + rng.normal(0, 0.1)] + ([angle + np.pi / 2] if rng.random() < 0.35 else []):
                ca, sa = np.cos(a), np.sin(a)
                offs = np.arange(-diag / 2, diag / 2, spacing) + rng.normal(
                    0, spacing * 0.15, int(np.ceil(diag / spacing))
                )
                r = diag / 2
                for o, j in zip(offs, rng.normal(0, 0.03, offs.size), strict=True):  # j tilts each stroke slightly
                    cx, cy = mask.size[0] / 2 - sa * o, mask.size[1] / 2 + ca * o
                    ld.line(
                        [cx - (ca + j) * r, cy - (sa - j) * r, cx + ca * r, cy + sa * r],
                        fill=int(rng.integers(150, 256)),
                        width=lw,
                    )
            mask = ImageChops.multiply(mask, lines)
        else:
            mask = ImageChops.multiply(mask, tex.crop((x0, y0, x1, y1)))
        img.paste(p.color if (mode or colour_hatch) else ink, (x0, y0), mask)
        if mode != 2 or rng.random() < 0.5:
            for _ in range(rng.integers(1, 3)):
                d.line(_xy(_wobble(p.pts, True, amp, rng)), fill=ink, width=lw, joint="curve")


def _shading(w: int, h: int, color: RGB, light: np.ndarray, round_: bool) -> Image.Image:
    """Smooth highlight-to-shadow ramp over a bounding box (radial for round solids), computed small then upscaled."""
    u = np.linspace(-1, 1, max(2, min(w, 24)))[None, :]
    v = np.linspace(-1, 1, max(2, min(h, 24)))[:, None]
    if round_:
        t = np.hypot(u - 0.5 * light[0], v - 0.5 * light[1]) / 1.5
    else:
        t = 0.5 - 0.35 * (u * light[0] + v * light[1])
    t = np.clip(t, 0, 1)[..., None]
    hi, mid, lo = (np.array(c, float) for c in (mix(color, WHITE, 0.5), color, mix(color, BLACK, 0.6)))
    rgb = np.where(t < 0.5, hi + (mid - hi) * t * 2, mid + (lo - mid) * (t * 2 - 1))
    return Image.fromarray(rgb.astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)


def _render_3d(img: Image.Image, prims: list[Prim], bg: RGB, rng: np.random.Generator) -> None:
    """Gradient ground, soft cast shadow, shaded solids with specular highlights, tube-like strokes."""
    w, h = img.size
    s = min(w, h)
    if rng.random() < 0.75:
        grad = (Image.linear_gradient if rng.random() < 0.6 else Image.radial_gradient)("L").resize(img.size)
        img.paste(mix(bg, BLACK, rng.uniform(0.15, 0.5)), (0, 0), grad)
    a = rng.uniform(np.pi * 1.05, np.pi * 1.95)  # light comes from somewhere above
    light = np.array([np.cos(a), np.sin(a)])
    depth = s * rng.uniform(0.01, 0.05)
    sm = Image.new("L", (w // 4 + 1, h // 4 + 1), 0)
    for p in prims:
        if p.closed:
            ImageDraw.Draw(sm).polygon(_xy((p.pts - light * depth) / 4), fill=255)
    sm = sm.filter(ImageFilter.GaussianBlur(float(depth / 4 + 1))).resize(img.size, Image.Resampling.BILINEAR)
    k = rng.uniform(0.25, 0.6)
    img.paste(mix(bg, BLACK, 0.7), (0, 0), sm.point(lambda v: int(v * k)))
    d = ImageDraw.Draw(img)
    specular, extrude = rng.random() < 0.85, rng.random() < 0.4
    for p in prims:
        if not p.closed:
            pw = _stroke_px(p, s * 0.01)
            d.line(_xy(p.pts), fill=mix(p.color, BLACK, 0.4), width=pw, joint="curve")
            d.line(_xy(p.pts + light * pw * 0.2), fill=mix(p.color, WHITE, 0.4), width=max(1, pw // 3))
            continue
        if extrude and not p.round:
            d.polygon(_xy(p.pts - light * depth * 0.5), fill=mix(p.color, BLACK, 0.55))
        x0, y0 = np.floor(p.pts.min(0)).astype(int).tolist()
        x1, y1 = (np.ceil(p.pts.max(0)).astype(int) + 1).tolist()
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).polygon(_xy(p.pts - [x0, y0]), fill=255)
        img.paste(_shading(x1 - x0, y1 - y0, p.color, light, p.round), (x0, y0), mask)
        if specular and p.round and min(x1 - x0, y1 - y0) > 6:
            bw, bh = x1 - x0, y1 - y0
            spot = Image.new("L", (bw, bh), 0)
            cx, cy = bw / 2 * (1 + 0.45 * light[0]), bh / 2 * (1 + 0.45 * light[1])
            ImageDraw.Draw(spot).ellipse([cx - bw * 0.1, cy - bh * 0.08, cx + bw * 0.1, cy + bh * 0.08], fill=230)
            spot = ImageChops.multiply(spot.filter(ImageFilter.GaussianBlur(min(bw, bh) * 0.04)), mask)
            img.paste(WHITE, (x0, y0), spot)


RENDERERS = {"3d": _render_3d, "flat": _render_flat, "hand_drawn": _render_hand_drawn, "line_art": _render_line_art}


def _add_noise(img: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    tile = np.clip(rng.normal(128, sigma, (96, 96, 3)), 0, 255).astype(np.uint8)
    w, h = img.size
    noise = np.tile(tile, (h // 96 + 1, w // 96 + 1, 1))[:h, :w]
    return ImageChops.add(img, Image.fromarray(noise), offset=-128)


def render(style: str, rng: np.random.Generator) -> Image.Image:
    """Render one random illustration of `style`, 256-1200 px on the long side, aspect 1:2 to 2:1."""
    long_side, ar = int(rng.integers(256, 1201)), float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    w, h = (long_side, int(long_side / ar)) if ar >= 1 else (int(long_side * ar), long_side)
    pal = palette(rng)
    prims = compose(w, h, pal, rng)
    bg = _background(rng, pal)
    img = Image.new("RGB", (w, h), bg)
    RENDERERS[style](img, prims, bg, rng)
    if rng.random() < 0.15:  # looks upscaled from a smaller original
        img = img.resize((w // 2, h // 2), Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        img = _add_noise(img, rng.uniform(1, 6), rng)
    return img


def style_of(index: int, seed: int) -> str:
    """The style of sample (index, seed), without rendering it: styles cycle with the index."""
    return STYLES[index % len(STYLES)]


def sample(index: int, seed: int) -> tuple[Image.Image, str]:
    """Deterministic (image, style) for a (seed, index) pair."""
    style = style_of(index, seed)
    return render(style, np.random.default_rng([seed, index])), style


def encode(img: Image.Image, rng: np.random.Generator) -> bytes:
    """Encode as JPEG (quality 60-95, random chroma subsampling) 75% of the time, else PNG."""
    buf = io.BytesIO()
    if rng.random() < 0.75:
        img.save(buf, "JPEG", quality=int(rng.integers(60, 96)), subsampling=int(rng.choice([0, 2])))
    else:
        img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
