"""Scene compositions shared by every drawing style.

A composition is a list of shape primitives (polygons and strokes) for houses, trees, plants,
characters, objects, landscapes or abstract shapes, in pixel coordinates.  Renderers in
``synthetic`` draw the same primitives in different styles, so style is the only class signal.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

RGB = tuple[int, int, int]
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)


@dataclass(frozen=True)
class Prim:
    """A shape primitive: a closed polygon (filled shape) or an open polyline (stroke)."""

    pts: np.ndarray  # (N, 2) x/y coordinates
    color: RGB
    closed: bool = True
    round: bool = False  # curved solid (shaded radially in 3d) rather than a flat face
    width: float = 0.0  # stroke width of open primitives, in the same units as pts


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _ellipse(cx: float, cy: float, rx: float, ry: float, rot: float = 0.0, n: int = 40) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    c, s = np.cos(rot), np.sin(rot)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)


def _poly(*xy: float) -> np.ndarray:
    return np.asarray(xy, dtype=float).reshape(-1, 2)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return _poly(x0, y0, x1, y0, x1, y1, x0, y1)


def palette(rng: np.random.Generator, n: int = 7) -> list[RGB]:
    """Random harmonious palette: analogous, complementary, triadic or free hues at one sat/value mood."""
    h0 = rng.random()
    scheme = rng.integers(4)
    s_lo, s_hi, v_lo, v_hi = [
        (0.55, 1.0, 0.7, 1.0),
        (0.15, 0.45, 0.85, 1.0),
        (0.2, 0.5, 0.4, 0.8),
        (0.4, 0.9, 0.25, 0.65),
        (0.1, 1.0, 0.3, 1.0),
    ][rng.integers(5)]
    cols = []
    for _ in range(n):  # all four hue offsets are drawn so the rng stream does not depend on the scheme
        offset = [
            rng.normal(0, 0.07),
            rng.choice([0.0, 0.5]) + rng.normal(0, 0.04),
            rng.choice([0.0, 1 / 3, 2 / 3]) + rng.normal(0, 0.03),
            rng.random(),
        ][scheme]
        r, g, b = colorsys.hsv_to_rgb((h0 + offset) % 1.0, rng.uniform(s_lo, s_hi), rng.uniform(v_lo, v_hi))
        cols.append((int(r * 255), int(g * 255), int(b * 255)))
    return cols


def pick(pal: list[RGB], rng: np.random.Generator, k: int) -> list[RGB]:
    return [pal[i] for i in rng.permutation(len(pal))[:k]]


# --- subjects, drawn in a unit box (x, y in [0, 1], y down) -------------------------------------


def _house(pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    wall, roof, door, win = pick(pal, rng, 4)
    top = rng.uniform(0.4, 0.55)
    prims = [Prim(_rect(0.62, top - 0.3, 0.72, top), roof)] if rng.random() < 0.5 else []
    prims += [
        Prim(_rect(0.15, top, 0.85, 1.0), wall),
        Prim(_poly(0.05, top + 0.02, 0.5, rng.uniform(0.05, 0.2), 0.95, top + 0.02), roof),
        Prim(_rect(0.42, 0.72, 0.58, 1.0), door),
    ]
    for x in (0.22, 0.64):
        prims.append(Prim(_rect(x, top + 0.1, x + 0.14, top + 0.24), win))
        prims.append(Prim(_poly(x + 0.07, top + 0.1, x + 0.07, top + 0.24), door, closed=False, width=0.012))
    return prims


def _tree(pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    trunk, leaf, leaf2 = pick(pal, rng, 3)
    prims = [Prim(_poly(0.43, 1.0, 0.46, 0.45, 0.54, 0.45, 0.57, 1.0), trunk)]
    if rng.random() < 0.35:  # conifer
        prims += [
            Prim(_poly(0.25 - 0.07 * i, 0.35 + 0.2 * i, 0.5, 0.03 + 0.2 * i, 0.75 + 0.07 * i, 0.35 + 0.2 * i), leaf)
            for i in range(3)
        ]
    else:
        for _ in range(rng.integers(3, 7)):
            r = rng.uniform(0.13, 0.24)
            prims.append(
                Prim(
                    _ellipse(rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.45), r, r * rng.uniform(0.8, 1.1)),
                    leaf if rng.random() < 0.7 else leaf2,
                    round=True,
                )
            )
    return prims


def _plant(pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    pot, leaf, flower = pick(pal, rng, 3)
    prims = []
    for a in rng.uniform(-1.1, 1.1, rng.integers(3, 7)):
        length = rng.uniform(0.3, 0.55)
        tx, ty = 0.5 + np.sin(a) * length, 0.62 - np.cos(a) * length
        prims.append(
            Prim(
                _poly(0.5, 0.66, (0.5 + tx) / 2 + rng.normal(0, 0.03), (0.66 + ty) / 2, tx, ty),
                leaf,
                closed=False,
                width=0.015,
            )
        )
        if rng.random() < 0.3:
            prims.append(Prim(_ellipse(tx, ty, 0.07, 0.07), flower, round=True))
        else:
            prims.append(Prim(_ellipse(tx, ty, 0.11, 0.04, rot=a - np.pi / 2), leaf, round=True))
    prims.append(Prim(_poly(0.3, 0.62, 0.7, 0.62, 0.63, 1.0, 0.37, 1.0), pot))
    return prims


def _character(pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    skin, shirt, hair, eye = pick(pal, rng, 4)
    r = rng.uniform(0.17, 0.25)
    cy = 0.6 - r * 0.9
    prims = [
        Prim(_poly(0.33, 0.65, 0.12, 0.95), shirt, closed=False, width=0.05),
        Prim(_poly(0.67, 0.65, 0.88, rng.uniform(0.4, 0.95)), shirt, closed=False, width=0.05),
        Prim(_poly(0.24, 1.0, 0.32, 0.6, 0.68, 0.6, 0.76, 1.0), shirt),
    ]
    if rng.random() < 0.6:
        prims.append(Prim(_ellipse(0.5, cy - r * 0.15, r * 1.1, r), hair, round=True))
    prims.append(Prim(_ellipse(0.5, cy, r, r * rng.uniform(1.0, 1.15)), skin, round=True))
    for dx in (-0.4, 0.4):
        prims.append(Prim(_ellipse(0.5 + dx * r, cy - 0.05 * r, r * 0.15, r * 0.19), (246, 244, 240), round=True))
        prims.append(Prim(_ellipse(0.5 + dx * r, cy - 0.02 * r, r * 0.07, r * 0.09), eye, round=True))
    t = np.linspace(0.2 * np.pi, 0.8 * np.pi, 12)
    prims.append(
        Prim(
            np.stack([0.5 + 0.4 * r * np.cos(t), cy + 0.2 * r + 0.3 * r * np.sin(t) * rng.choice([1, -1])], 1),
            eye,
            closed=False,
            width=0.012,
        )
    )
    return prims


def _object(pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    a, b, c = pick(pal, rng, 3)
    kind = rng.integers(4)
    if kind == 0:  # cup on a saucer
        ring = _ellipse(0.75, 0.6, 0.12, 0.14)
        return [
            Prim(_ellipse(0.5, 0.92, 0.4, 0.07), c, round=True),
            Prim(np.vstack([ring, ring[:1]]), a, closed=False, width=0.04),
            Prim(_poly(0.25, 0.4, 0.75, 0.4, 0.7, 0.9, 0.3, 0.9), a),
            Prim(_ellipse(0.5, 0.4, 0.25, 0.05), b, round=True),
        ]
    if kind == 1:  # bottle with label
        return [
            Prim(_rect(0.44, 0.08, 0.56, 0.4), a),
            Prim(_rect(0.42, 0.03, 0.58, 0.12), c),
            Prim(_ellipse(0.5, 0.42, 0.17, 0.1), a, round=True),
            Prim(_rect(0.33, 0.42, 0.67, 1.0), a),
            Prim(_rect(0.33, 0.58, 0.67, 0.8), b),
        ]
    if kind == 2:  # fruit
        return [
            Prim(_poly(0.5, 0.35, 0.53, 0.15), c, closed=False, width=0.025),
            Prim(_ellipse(0.5, 0.62, 0.33, 0.3), a, round=True),
            Prim(_ellipse(0.64, 0.22, 0.12, 0.05, rot=-0.5), b, round=True),
        ]
    ring = _ellipse(0.5, 0.55, 0.48, 0.1, rot=-0.3)  # ringed planet / ball
    return [
        Prim(_ellipse(0.5, 0.55, 0.32, 0.32), a, round=True),
        Prim(np.vstack([ring, ring[:1]]), b, closed=False, width=0.03),
    ]


SUBJECTS: tuple[Callable[[list[RGB], np.random.Generator], list[Prim]], ...] = (
    _house,
    _tree,
    _plant,
    _character,
    _object,
)


# --- whole scenes, in a box of width ar = W / H and height 1 -------------------------------------


def _landscape(pal: list[RGB], rng: np.random.Generator, ar: float) -> list[Prim]:
    prims = []
    if rng.random() < 0.7:
        r = rng.uniform(0.06, 0.14)
        prims.append(
            Prim(_ellipse(rng.uniform(0.1, 0.9) * ar, rng.uniform(0.1, 0.3), r, r), pick(pal, rng, 1)[0], round=True)
        )
    for _ in range(rng.integers(0, 3)):  # clouds
        x, y, c = rng.uniform(0, ar), rng.uniform(0.05, 0.3), mix(pick(pal, rng, 1)[0], WHITE, 0.7)
        prims += [
            Prim(_ellipse(x + dx, y + dy, 0.08, 0.05), c, round=True)
            for dx, dy in ((-0.07, 0.01), (0, -0.02), (0.07, 0.01))
        ]
    for layer, col in enumerate(pick(pal, rng, int(rng.integers(2, 4)))):
        xs = np.linspace(-0.05, ar + 0.05, 48)
        base = 0.45 + 0.15 * layer + rng.uniform(-0.05, 0.05)
        if layer == 0 and rng.random() < 0.6:  # jagged mountains
            ys = base - np.abs(np.sin(xs * rng.uniform(3, 7) + rng.uniform(0, 6))) * rng.uniform(0.1, 0.3)
        else:
            ys = base + np.sin(xs * rng.uniform(2, 5) + rng.uniform(0, 6)) * rng.uniform(0.02, 0.07)
        prims.append(Prim(np.vstack([np.stack([xs, ys], 1), [[ar + 0.05, 1.05], [-0.05, 1.05]]]), col))
    for _ in range(rng.integers(0, 4)):
        prims += _place(
            _tree(pal, rng), rng.uniform(0, ar - 0.1), rng.uniform(0.55, 0.75), rng.uniform(0.12, 0.25), rng
        )
    return prims


def _abstract(pal: list[RGB], rng: np.random.Generator, ar: float) -> list[Prim]:
    prims = []
    for _ in range(rng.integers(4, 12)):
        x, y, r, c = rng.uniform(0, ar), rng.uniform(0, 1), rng.uniform(0.05, 0.3), pick(pal, rng, 1)[0]
        kind = rng.integers(5)
        if kind == 0:
            prims.append(Prim(_ellipse(x, y, r, r * rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)), c, round=True))
        elif kind == 1:
            prims.append(Prim(_ellipse(x, y, r, r * rng.uniform(0.4, 1.0), rng.uniform(0, np.pi), n=4), c))
        elif kind == 2:
            n = int(rng.integers(3, 7))
            prims.append(Prim(_ellipse(x, y, r, r, rng.uniform(0, np.pi), n=n), c))
        elif kind == 3:  # star or blob
            rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45) if rng.random() < 0.5 else r * rng.uniform(0.7, 1.1, 10)
            t = np.linspace(0, 2 * np.pi, 10, endpoint=False) + rng.uniform(0, np.pi)
            prims.append(Prim(np.stack([x + rad * np.cos(t), y + rad * np.sin(t)], 1), c, round=bool(rad[0] == rad[1])))
        else:
            t = np.linspace(0, 1, 16)
            prims.append(
                Prim(
                    np.stack([x + t * r * 3, y + np.sin(t * rng.uniform(3, 9)) * r * 0.5], 1),
                    c,
                    closed=False,
                    width=rng.uniform(0.01, 0.04),
                )
            )
    return prims


def _place(prims: list[Prim], x: float, y: float, size: float, rng: np.random.Generator) -> list[Prim]:
    """Map unit-box primitives to a box of `size` at (x, y), with a small random rotation."""
    rot = rng.normal(0, 0.08)
    c, s = np.cos(rot), np.sin(rot)
    m = np.array([[c, s], [-s, c]]) * size
    return [replace(p, pts=(p.pts - 0.5) @ m + [x + size / 2, y + size / 2], width=p.width * size) for p in prims]


def compose(w: int, h: int, pal: list[RGB], rng: np.random.Generator) -> list[Prim]:
    """Random scene in pixel coordinates: a landscape, abstract shapes, or 1-3 subjects, maybe on a ground."""
    ar = w / h
    kind = rng.random()
    if kind < 0.15:
        prims = _landscape(pal, rng, ar)
    elif kind < 0.28:
        prims = _abstract(pal, rng, ar)
    else:
        prims = []
        if rng.random() < 0.5:
            xs = np.linspace(-0.05, ar + 0.05, 32)
            ys = rng.uniform(0.65, 0.85) + np.sin(xs * rng.uniform(1, 4) + rng.uniform(0, 6)) * 0.03
            prims.append(
                Prim(np.vstack([np.stack([xs, ys], 1), [[ar + 0.05, 1.05], [-0.05, 1.05]]]), pick(pal, rng, 1)[0])
            )
        n = rng.integers(1, 4)
        for _ in range(n):
            size = rng.uniform(0.5, 0.95) / np.sqrt(n)
            subject = SUBJECTS[rng.integers(len(SUBJECTS))]
            prims += _place(
                subject(pal, rng),
                rng.uniform(-0.1 * size, max(ar - 0.9 * size, 0.0)),
                rng.uniform(0.02, max(1.0 - size, 0.05)),
                size,
                rng,
            )
    return [replace(p, pts=p.pts * h, width=p.width * h) for p in prims]
