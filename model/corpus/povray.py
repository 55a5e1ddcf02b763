"""Stylecat's own 3D scenes, rendered with POV-Ray: soft-shaded "clay" and glossy 3D icons and emoji.

Soft-shaded modern 3D art is the hardest style to find under a licence that allows training, so
the corpus renders its own: `scene(seed)` writes a POV-Ray scene built from primitives and CSG
(emoji faces, blobs, app tiles with a symbol, donuts, mugs, houses, trees, rockets, gifts, planets,
bulbs, gears, mushrooms, 3D text) with clay, plastic or metal finishes, one soft key area light,
fill and rim lights, on a plain, tinted or gradient ground with a soft shadow. `render(seed)` runs
`povray` (Debian's package) single-threaded, so the same seed gives the same pixels.

The fonts come with POV-Ray (`fonts-povray`, CC-BY-SA-3.0).
"""

from __future__ import annotations

import colorsys
import io
import math
import random
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

SIZE = 256
FONTS = ["cyrvetic.ttf", "timrom.ttf", "crystal.ttf"]  # shipped with POV-Ray's include files

# --------------------------------------------------------------------------------------
# colour helpers (scene uses assumed_gamma 1.0, so convert sRGB -> linear)


def _lin(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def rgb(r, g, b) -> str:
    return "rgb <%.4f,%.4f,%.4f>" % (_lin(r), _lin(g), _lin(b))


def hsv(h, s, v) -> str:
    return rgb(*colorsys.hsv_to_rgb(h % 1.0, max(0, min(1, s)), max(0, min(1, v))))


def v3(x, y, z) -> str:
    return "<%.4f,%.4f,%.4f>" % (x, y, z)


class Ctx:
    """Random state + palette + material factory for one scene."""

    def __init__(self, rng: random.Random):
        self.r = rng
        self.base_h = rng.random()
        self.pastel = rng.random() < 0.5
        self.mat_kind = rng.choices(["clay", "gloss", "metal"], [0.5, 0.38, 0.12])[0]

    # palette colour: hue offset from the scene base hue
    def col(self, dh=None, s=None, v=None):
        r = self.r
        if dh is None:
            dh = r.choice([0, 0, 0.5, 0.33, -0.33, 0.08, -0.08, r.random()])
        if s is None:
            s = r.uniform(0.45, 0.68) if self.pastel else r.uniform(0.65, 0.92)
        if v is None:
            v = r.uniform(0.88, 1.0) if self.pastel else r.uniform(0.78, 0.98)
        return (self.base_h + dh) % 1.0, s, v

    def finish(self, kind=None):
        kind = kind or self.mat_kind
        r = self.r
        if kind == "clay":
            return "finish { ambient 0 diffuse %.2f specular %.2f roughness %.3f brilliance 1.1 }" % (
                r.uniform(0.75, 0.85),
                r.uniform(0.08, 0.22),
                r.uniform(0.04, 0.09),
            )
        if kind == "gloss":
            return (
                "finish { ambient 0 diffuse 0.72 specular %.2f roughness %.4f "
                "reflection { 0.02, %.2f fresnel on } conserve_energy }"
                % (r.uniform(0.5, 0.9), r.uniform(0.003, 0.012), r.uniform(0.15, 0.3))
            )
        if kind == "dark":  # eyes, mouths: glossy dark
            return "finish { ambient 0 diffuse 0.6 specular 0.9 roughness 0.004 }"
        # subtle metallic
        return (
            "finish { ambient 0 diffuse 0.55 specular 0.8 roughness 0.01 metallic 0.6 "
            "reflection { 0.12, 0.35 metallic } brilliance 1.6 }"
        )

    def tex(self, c=None, kind=None, grad=None, span=(-1.1, 2.4)):
        """texture string; optional soft vertical gradient (bottom warmer/deeper, top lighter).
        span = object-space y range covered by one (non-repeating) gradient period."""
        h, s, v = c if c is not None else self.col()
        if grad is None:
            grad = self.r.random() < 0.45
        fin = self.finish(kind)
        if grad:
            y0, y1 = span[0] - 0.06, span[1] + 0.06
            dh = 0.025 if (h < 0.17 or h > 0.9) else -0.02
            lo = hsv(h - dh, min(1, s * 1.12 + 0.05), v * 0.9)
            hi = hsv(h + dh, s * 0.8, min(1, v * 1.05))
            return (
                "texture { pigment { gradient y color_map { [0 %s] [1 %s] } scale %.3f "
                "translate <0,%.3f,0> } %s }" % (lo, hi, (y1 - y0) * 1.0001, y0, fin)
            )
        return "texture { pigment { %s } %s }" % (hsv(h, s, v), fin)


# --------------------------------------------------------------------------------------
# shared parts


def eye_pair(cx, r: Ctx, head_r=1.0, y=0.18, dx=0.33, kind=None):
    """eyes on the front (-z) of a sphere of radius head_r centred at origin."""
    kind = kind or r.r.choice(["oval", "oval", "oval", "happy", "heart", "star", "wink", "glasses", "dot"])
    out = []
    dark = "texture { pigment { %s } %s }" % (rgb(0.12, 0.09, 0.1), r.finish("dark"))
    white = "texture { pigment { rgb 1 } finish { ambient 0 diffuse 0.6 emission 0.4 } }"
    for side in (-1, 1):
        x = side * dx * head_r
        yy = y * head_r
        z = -math.sqrt(max(0.0, head_r**2 - x * x - yy * yy))
        ang_y = math.degrees(math.atan2(x, -z))
        ang_x = math.degrees(math.asin(yy / head_r))
        place = "rotate <%.2f,%.2f,0> " % (ang_x, -ang_y)
        k = kind
        if kind == "wink" and side == 1:
            k = "happy"
        elif kind == "wink":
            k = "oval"
        if k in ("oval", "dot"):
            sc = (0.12, 0.19, 0.09) if k == "oval" else (0.09, 0.09, 0.07)
            out.append(
                "sphere { 0,1 scale %s translate <0,0,%.3f> %s %s }"
                % (v3(*[c * head_r for c in sc]), -head_r, place, dark)
            )
            out.append(
                "sphere { 0,1 scale %.3f translate <%.3f,%.3f,%.3f> %s %s }"
                % (0.035 * head_r, 0.03 * head_r, 0.06 * head_r, -head_r - 0.07 * head_r, place, white)
            )
        elif k == "happy":  # closed ^ ^ arcs
            out.append(
                "intersection { torus { %.3f, %.3f rotate x*90 } plane { -y, 0 } translate <0,%.3f,%.3f> %s %s }"
                % (0.11 * head_r, 0.028 * head_r, -0.03 * head_r, -head_r, place, dark)
            )
        elif k == "heart":
            red = "texture { pigment { %s } %s }" % (hsv(0.98, 0.85, 0.95), r.finish("gloss"))
            out.append(
                "object { HeartShape scale %.3f translate <0,0,%.3f> %s %s }" % (0.17 * head_r, -head_r, place, red)
            )
        elif k == "star":
            yel = "texture { pigment { %s } %s }" % (hsv(0.12, 0.9, 1.0), r.finish("gloss"))
            out.append(
                "object { StarShape scale %.3f translate <0,0,%.3f> %s %s }"
                % (0.16 * head_r, -head_r - 0.02, place, yel)
            )
        elif k == "glasses":
            out.append(
                "superellipsoid { <0.35,0.35> scale <%.3f,%.3f,%.3f> translate <0,0,%.3f> %s %s }"
                % (0.17 * head_r, 0.12 * head_r, 0.05 * head_r, -head_r - 0.02, place, dark)
            )
    if kind == "glasses":
        out.append(
            "cylinder { <%.3f,%.3f,%.3f>,<%.3f,%.3f,%.3f>,%.3f %s }"
            % (
                -0.2 * head_r,
                y * head_r + 0.03,
                -0.97 * head_r,
                0.2 * head_r,
                y * head_r + 0.03,
                -0.97 * head_r,
                0.025 * head_r,
                dark,
            )
        )
    cx.extend(out)
    return kind


def shell_decal(shape2d: str, head_r: float, tex: str, depth=0.035) -> str:
    """a 2D region (an object extruded along z) stuck on the sphere surface as a thin shell."""
    return "intersection { sphere { 0, %.3f } sphere { 0, %.3f inverse } %s %s }" % (
        head_r + depth,
        head_r - 0.05,
        shape2d,
        tex,
    )


def mouth(r: Ctx, head_r=1.0, y=-0.3):
    kind = r.r.choice(["smile", "smile", "grin", "open", "o", "flat", "tongue"])
    dark = "texture { pigment { %s } %s }" % (rgb(0.15, 0.07, 0.08), r.finish("dark"))
    w = r.r.uniform(0.22, 0.36) * head_r
    yy = y * head_r
    parts = []
    if kind == "smile":
        t = 0.045 * head_r
        reg = (
            "intersection { difference { cylinder { <0,0,-3>,<0,0,0>,%.3f } cylinder { <0,0,-3.1>,<0,0,0.1>,%.3f } } "
            "plane { y, 0 } translate <0,%.3f,0> }" % (w + t, w - t, yy + w * 0.6)
        )
        parts.append(shell_decal(reg, head_r, dark))
    elif kind in ("grin", "open", "tongue"):
        reg = (
            "intersection { cylinder { <0,0,-3>,<0,0,0>,%.3f } plane { y, 0 } scale <1,%.2f,1> translate <0,%.3f,0> }"
            % (w, r.r.uniform(0.7, 1.0), yy + w * 0.45)
        )
        parts.append(shell_decal(reg, head_r, dark, depth=0.02))
        if kind == "grin":
            teeth = "texture { pigment { rgb 0.95 } finish { ambient 0 diffuse 0.8 specular 0.3 } }"
            reg2 = (
                "intersection { box { <-1,-0.09,-3>,<1,0,0> } cylinder { <0,0,-3>,<0,0,0>,%.3f } translate <0,%.3f,0> }"
                % (w * 0.96, yy + w * 0.43)
            )
            parts.append(shell_decal(reg2, head_r, teeth, depth=0.03))
        if kind == "tongue":
            pink = "texture { pigment { %s } %s }" % (hsv(0.97, 0.55, 0.95), r.finish("clay"))
            parts.append(
                "sphere { 0,1 scale <%.3f,%.3f,%.3f> translate <0,%.3f,%.3f> %s }"
                % (
                    w * 0.5,
                    w * 0.4,
                    0.08,
                    yy - w * 0.25,
                    -math.sqrt(max(0, head_r**2 - (yy - w * 0.3) ** 2)) + 0.02,
                    pink,
                )
            )
    elif kind == "o":
        reg = "cylinder { <0,0,-3>,<0,0,0>,%.3f scale <0.8,1,1> translate <0,%.3f,0> }" % (w * 0.4, yy)
        parts.append(shell_decal(reg, head_r, dark, depth=0.02))
    else:  # flat line
        reg = "box { <%.3f,-0.035,-3>,<%.3f,0.035,0> translate <0,%.3f,0> }" % (-w * 0.7, w * 0.7, yy)
        parts.append(shell_decal(reg, head_r, dark))
    return parts


PREAMBLE_SHAPES = """
#declare HeartShape = union {  // unit heart facing -z, spans ~[-1,1]: two spheres + tapered (cone) sweeps
  sphere_sweep { linear_spline 2, <-0.42,0.3,0>, 0.52, <0,-0.88,0>, 0.08 }
  sphere_sweep { linear_spline 2, < 0.42,0.3,0>, 0.52, <0,-0.88,0>, 0.08 }
  scale <1,1,0.62>
}
#declare StarShape = mesh {
#declare I = 0;
#while (I < 10)
  #declare A0 = radians(90 + I*36);
  #declare A1 = radians(90 + (I+1)*36);
  #declare R0 = (mod(I,2)=0 ? 1 : 0.46);
  #declare R1 = (mod(I+1,2)=0 ? 1 : 0.46);
  #declare P0 = <R0*cos(A0), R0*sin(A0), 0>;
  #declare P1 = <R1*cos(A1), R1*sin(A1), 0>;
  triangle { P0, P1, <0,0,-0.42> }
  triangle { P0, P1, <0,0, 0.25> }
  #declare I = I + 1;
#end
}
"""


# --------------------------------------------------------------------------------------
# object builders: each returns (list_of_pov_objects, approx height, approx half-width)
# objects rest on y=0, centred on x=z=0, front faces -z (camera side)


def b_emoji(r: Ctx):
    o = []
    R = 1.0
    if r.r.random() < 0.75:  # classic emoji yellow
        face_c = (r.r.uniform(0.125, 0.145), r.r.uniform(0.72, 0.9), 1.0)
    else:
        face_c = (r.r.random(), r.r.uniform(0.35, 0.7), 1.0)
    head_tex = r.tex(face_c, kind=r.r.choice(["clay", "clay", "gloss"]), grad=True, span=(-1.0, 1.0))
    head_tex = head_tex.replace("finish { ambient 0 ", "finish { ambient 0 emission 0.06 ")
    inner: list[str] = []
    eyes = eye_pair(inner, r, R, y=r.r.uniform(0.12, 0.25), dx=r.r.uniform(0.28, 0.36))
    inner += mouth(r, R, y=r.r.uniform(-0.42, -0.25))
    if r.r.random() < 0.6 and eyes not in ("glasses",):  # blush
        pink = "texture { pigment { %s } finish { ambient 0 diffuse 0.8 } }" % hsv(0.97, 0.45, 1.0)
        for s in (-1, 1):
            x, y = s * 0.55, -0.12
            z = -math.sqrt(R * R - x * x - y * y)
            inner.append(
                "sphere { 0,1 scale <0.16,0.09,0.05> rotate y*%.1f translate <%.3f,%.3f,%.3f> %s }"
                % (-math.degrees(math.atan2(x, -z)), x, y, z + 0.025, pink)
            )
    if r.r.random() < 0.3:  # animal ears
        ear = r.tex(face_c, kind="clay", grad=False)
        shape = r.r.choice(["round", "cone"])
        for s in (-1, 1):
            if shape == "round":
                inner.append(
                    "sphere { 0,1 scale <0.3,0.3,0.14> rotate z*%d translate <%.2f,0.78,0.1> %s }"
                    % (-s * 25, s * 0.62, ear)
                )
            else:
                inner.append(
                    "cone { 0,0.3,<0,0.55,0>,0.03 scale <1,1,0.5> rotate z*%d translate <%.2f,0.6,0.1> %s }"
                    % (-s * 25, s * 0.55, ear)
                )
    o.append(
        "union { sphere { 0, %.2f %s } %s scale <1,%.2f,1> translate <0,%.2f,0> }"
        % (R, head_tex, "\n ".join(inner), r.r.uniform(0.92, 1.0), R)
    )
    return o, 2.0, 1.0


def b_blob(r: Ctx):
    n = r.r.randint(3, 6)
    comps = []
    for _ in range(n):
        comps.append(
            "sphere { %s, %.2f, 1 }"
            % (v3(r.r.uniform(-0.55, 0.55), r.r.uniform(-0.4, 0.4), r.r.uniform(-0.3, 0.3)), r.r.uniform(0.55, 0.85))
        )
    o = ["blob { threshold 0.55 %s %s translate <0,1,0> }" % (" ".join(comps), r.tex())]
    if r.r.random() < 0.45:  # cute blob creature
        inner: list[str] = []
        eye_pair(inner, r, 0.8, y=0.15, dx=0.3, kind=r.r.choice(["oval", "dot", "happy"]))
        o.append("union { %s translate <0,1.0,-0.25> }" % " ".join(inner))
    return o, 2.0, 1.2


def b_cloud(r: Ctx):
    c = r.col(s=r.r.uniform(0.05, 0.3), v=1.0) if r.r.random() < 0.6 else r.col()
    o = [
        "union { sphere { <-0.72,0.42,0>,0.42 } sphere { <0.75,0.4,0>,0.4 } sphere { <-0.18,0.78,0>,0.6 } "
        "sphere { <0.38,0.68,0>,0.48 } sphere_sweep { linear_spline 2, <-0.72,0.4,0>,0.4,<0.75,0.4,0>,0.4 } "
        "scale <1,1,0.8> %s }" % r.tex(c)
    ]
    if r.r.random() < 0.4:  # raindrops / sun
        if r.r.random() < 0.5:
            o.append("sphere { <0.7,1.5,0.4>,0.6 %s }" % r.tex((0.12, 0.85, 1.0), grad=False))
        else:
            blue = r.tex((0.58, 0.6, 1.0), kind="gloss", grad=False)
            for x in (-0.5, 0.1, 0.7):
                o.append(
                    "union { sphere { 0,0.12 } cone { 0,0.12,<0,0.25,0>,0 } translate <%.2f,-0.35,0> %s }" % (x, blue)
                )
            return [("union { %s translate <0,0.6,0> }" % " ".join(o))], 2.2, 1.4
    return o, 1.6, 1.4


def symbol(r: Ctx, tex: str, scale=0.55) -> str:
    kind = r.r.choice(["heart", "star", "ring", "sphere", "letter", "plus", "bolt", "check"])
    if kind == "heart":
        return "object { HeartShape scale %.2f %s }" % (scale, tex)
    if kind == "star":
        return "object { StarShape scale %.2f %s }" % (scale * 1.1, tex)
    if kind == "ring":
        return "torus { %.2f, %.2f rotate x*90 %s }" % (scale * 0.65, scale * 0.2, tex)
    if kind == "sphere":
        return "sphere { 0, %.2f scale <1,1,0.6> %s }" % (scale * 0.7, tex)
    if kind == "plus":
        return (
            "union { sphere_sweep { linear_spline 2, <-%.2f,0,0>,%.2f,<%.2f,0,0>,%.2f } "
            "sphere_sweep { linear_spline 2, <0,-%.2f,0>,%.2f,<0,%.2f,0>,%.2f } %s }"
            % (
                scale * 0.7,
                scale * 0.2,
                scale * 0.7,
                scale * 0.2,
                scale * 0.7,
                scale * 0.2,
                scale * 0.7,
                scale * 0.2,
                tex,
            )
        )
    if kind == "check":
        return "sphere_sweep { linear_spline 3, <-%.2f,0,0>,%.2f,<-%.2f,-%.2f,0>,%.2f,<%.2f,%.2f,0>,%.2f %s }" % (
            scale * 0.6,
            scale * 0.15,
            scale * 0.15,
            scale * 0.45,
            scale * 0.15,
            scale * 0.65,
            scale * 0.5,
            scale * 0.15,
            tex,
        )
    if kind == "bolt":
        pts = [(0.15, 1), (-0.55, -0.1), (-0.05, -0.1), (-0.2, -1), (0.55, 0.15), (0.05, 0.15), (0.15, 1)]
        return "prism { linear_sweep linear_spline -0.18, 0.18, %d, %s rotate x*-90 scale %.2f %s }" % (
            len(pts),
            ",".join("<%.2f,%.2f>" % p for p in pts),
            scale,
            tex,
        )
    ch = r.r.choice("ABCDEFGHKMNPRSTXYZ0123456789?!&$#@%")
    return text_obj(r, ch, tex, height=scale * 1.5)


def text_obj(r: Ctx, s: str, tex: str, height=1.0, depth=None, post="") -> str:
    font = r.r.choice(FONTS[:2] * 3 + FONTS[2:])
    depth = depth or r.r.uniform(0.25, 0.5)
    s = s.replace("\\", "").replace('"', "")
    return (
        '#declare T = text { ttf "%s" "%s" %.2f, 0 }\n'
        "object { T translate -(min_extent(T)+max_extent(T))/2 scale <%.2f,%.2f,%.2f> %s %s }"
        % (font, s, depth, height / 0.72, height / 0.72, 1.0, tex, post)
    )


def b_tile(r: Ctx):
    """app-icon-like rounded tile with symbol"""
    c = r.col()
    tile_tex = r.tex(c, grad=True, span=(-1, 1))
    sym_c = (0, 0, 1.0) if r.r.random() < 0.55 else r.col(dh=0.5, s=0.5, v=1.0)
    sym_tex = r.tex(sym_c, kind=r.r.choice(["clay", "gloss"]), grad=False)
    rr = r.r.uniform(0.15, 0.35)
    o = [
        "union { superellipsoid { <%.2f,%.2f> scale <1,1,0.22> %s } union { %s translate <0,0,-0.24> } "
        "translate <0,1.05,0> }" % (rr, rr, tile_tex, symbol(r, sym_tex, 0.55))
    ]
    return o, 2.1, 1.0


def b_torus(r: Ctx):
    kind = r.r.choice(["donut", "ring", "rings"])
    if kind == "donut":
        dough = r.tex((0.08, 0.45, 0.92), kind="clay", grad=False)
        icing_c = r.col()
        icing = r.tex(icing_c, kind="gloss", grad=False)
        o = ["torus { 0.65, 0.35 %s }" % dough, "intersection { torus { 0.65, 0.37 } plane { -y, -0.02 } %s }" % icing]
        for _ in range(r.r.randint(10, 18)):
            a = r.r.uniform(0, 2 * math.pi)
            rad = r.r.uniform(0.4, 0.9)
            sp = r.tex(r.col(dh=r.r.random(), s=0.7, v=1.0), kind="clay", grad=False)
            y = math.sqrt(max(0, 0.37**2 - (rad - 0.65) ** 2))
            o.append(
                "cylinder { <-0.06,0,0>,<0.06,0,0>,0.025 rotate y*%.0f translate <%.3f,%.3f,%.3f> %s }"
                % (r.r.uniform(0, 180), rad * math.cos(a), y, rad * math.sin(a), sp)
            )
        return ["union { %s rotate x*%.0f translate <0,0.55,0> }" % (" ".join(o), r.r.uniform(-60, -25))], 1.4, 1.0
    if kind == "ring":
        return ["torus { 0.7, 0.28 rotate x*%.0f translate <0,1.0,0> %s }" % (r.r.uniform(50, 90), r.tex())], 2.0, 1.0
    o = []
    for i in range(3):
        o.append(
            "torus { %.2f, 0.12 rotate <%.0f,%.0f,0> %s }"
            % (0.95 - i * 0.27, r.r.uniform(0, 180), r.r.uniform(0, 180), r.tex())
        )
    o.append("sphere { 0, 0.3 %s }" % r.tex())
    return ["union { %s translate <0,1.0,0> }" % " ".join(o)], 2.0, 1.0


def b_shapes(r: Ctx):
    """small group of primitive solids"""
    o = []
    items = r.r.sample(["sphere", "cyl", "cone", "box", "torus", "capsule"], r.r.randint(2, 3))
    xs = [-0.6, 0.6] if len(items) == 2 else [-1.0, 0.0, 1.0]
    r.r.shuffle(xs)
    for it, x in zip(items, xs, strict=False):
        t = r.tex()
        z = r.r.uniform(-0.3, 0.4)
        s = r.r.uniform(0.8, 1.1)
        if it == "sphere":
            obj = "sphere { <0,0.5,0>,0.5 %s }" % t
        elif it == "cyl":
            obj = (
                "union { cylinder { <0,0,0>,<0,0.85,0>,0.4 } torus { 0.36,0.04 translate y*0.85 } "
                "torus { 0.36,0.04 translate y*0.0 } cylinder { 0,y*0.89,0.36 } %s }" % t
            )
        elif it == "cone":
            obj = "cone { 0,0.48,<0,1.0,0>,0 %s }" % t
        elif it == "box":
            obj = "superellipsoid { <0.25,0.25> scale 0.4 translate y*0.4 rotate y*%.0f %s }" % (r.r.uniform(0, 90), t)
        elif it == "torus":
            obj = "torus { 0.33,0.15 rotate x*90 translate y*0.48 %s }" % t
        else:
            obj = "sphere_sweep { linear_spline 2, <-0.35,0.22,0>,0.22,<0.35,0.22,0>,0.22 rotate y*%.0f %s }" % (
                r.r.uniform(0, 180),
                t,
            )
        o.append("object { %s scale %.2f translate <%.2f,0,%.2f> }" % (obj, s, x, z))
    k = 1.7 if len(items) == 2 else 1.35
    return ["union { %s scale %.2f }" % (" ".join(o), k)], 1.1 * k, 1.05 * k if len(items) == 2 else 1.9


def b_cup(r: Ctx):
    t = r.tex()
    liq = r.tex(r.r.choice([(0.07, 0.7, 0.35), (0.06, 0.35, 0.85), (0.95, 0.4, 0.9)]), kind="gloss", grad=False)
    o = [
        "difference { cylinder { <0,0.1,0>,<0,1.2,0>,0.62 } cylinder { <0,0.22,0>,<0,1.3,0>,0.53 } %s }" % t,
        "torus { 0.575, 0.045 translate y*1.2 %s }" % t,
        "torus { 0.32, 0.08 rotate x*90 scale <1,1.2,1> translate <0.66,0.68,0> %s }" % t,
        "cylinder { <0,0.9,0>,<0,1.0,0>,0.535 %s }" % liq,
    ]
    if r.r.random() < 0.7:
        o.append("union { cylinder { 0,y*0.1,1.0 } torus { 0.96,0.05 translate y*0.08 } %s }" % r.tex())
    if r.r.random() < 0.4:  # steam
        st = "texture { pigment { rgbf <1,1,1,0.4> } finish { ambient 0 diffuse 0.6 emission 0.3 } }"
        o.append(
            "sphere_sweep { cubic_spline 5, <0,1.0,0>,0.05,<0,1.1,0>,0.07,<0.2,1.5,0>,0.07,"
            "<-0.15,1.8,0>,0.05,<0,2.0,0>,0.03 %s }" % st
        )
    return ["union { %s rotate y*%.0f }" % (" ".join(o), r.r.uniform(-40, 10))], 2.0, 1.1


def b_house(r: Ctx):
    wall = r.tex(r.col(s=r.r.uniform(0.1, 0.4), v=1.0))
    roof = r.tex(r.col(dh=0.5))
    dark = r.tex(r.col(dh=0.5, v=0.6), grad=False)
    win = r.tex((0.55, 0.35, 1.0), kind="gloss", grad=False)
    o = [
        "superellipsoid { <0.15,0.15> scale <0.8,0.6,0.7> translate y*0.6 %s }" % wall,
        "prism { linear_sweep linear_spline -0.85, 0.85, 4, <-1.0,0>,<1.0,0>,<0,0.75>,<-1.0,0> "
        "rotate x*-90 translate y*1.15 %s }" % roof,
        "superellipsoid { <0.3,0.3> scale <0.2,0.3,0.05> translate <-0.3,0.32,-0.72> %s }" % dark,
        "superellipsoid { <0.3,0.3> scale <0.17,0.17,0.04> translate <0.33,0.7,-0.71> %s }" % win,
        "superellipsoid { <0.2,0.2> scale <0.1,0.25,0.1> translate <0.5,1.7,0.2> %s }" % roof,
    ]
    return ["union { %s rotate y*%.0f }" % (" ".join(o), r.r.uniform(-40, 40))], 2.0, 1.2


def b_tree(r: Ctx):
    trunk = r.tex((0.07, 0.5, 0.55), kind="clay", grad=False)
    leaf_c = (r.r.uniform(0.22, 0.42), r.r.uniform(0.45, 0.8), r.r.uniform(0.6, 0.9))
    o = ["cylinder { 0,y*0.8,0.15 %s }" % trunk]
    if r.r.random() < 0.5:
        for i in range(3):
            o.append(
                "cone { <0,%.2f,0>,%.2f,<0,%.2f,0>,0.05 %s }"
                % (0.55 + i * 0.45, 0.85 - i * 0.2, 1.2 + i * 0.45, r.tex(leaf_c, grad=False))
            )
    else:
        comps = " ".join(
            "sphere { %s,%.2f,1 }"
            % (v3(r.r.uniform(-0.4, 0.4), r.r.uniform(1.0, 1.6), r.r.uniform(-0.3, 0.3)), r.r.uniform(0.5, 0.7))
            for _ in range(5)
        )
        o.append("blob { threshold 0.5 %s %s }" % (comps, r.tex(leaf_c)))
    if r.r.random() < 0.5:  # pot
        o = [
            "union { %s translate y*0.5 }" % " ".join(o),
            "union { cone { 0,0.4,y*0.6,0.55 } torus { 0.55,0.06 translate y*0.6 } %s }" % r.tex(),
        ]
    return o, 2.4, 1.0


def b_rocket(r: Ctx):
    body = r.tex(r.col(s=r.r.uniform(0.0, 0.2), v=1.0), grad=False)
    acc = r.tex(r.col(dh=0.0))
    win = r.tex((0.55, 0.5, 1.0), kind="gloss", grad=False)
    flame = "texture { pigment { %s } finish { ambient 0 emission 0.6 diffuse 0.4 } }" % hsv(0.08, 0.8, 1.0)
    o = [
        "sphere { 0,1 scale <0.45,1.0,0.45> %s }" % body,
        "intersection { sphere { 0,1 scale <0.46,1.01,0.46> } plane { -y, -0.65 } %s }" % acc,
        "torus { 0.17,0.045 rotate x*90 translate <0,0.15,-0.41> %s }" % acc,
        "sphere { 0,0.15 scale <1,1,0.5> translate <0,0.15,-0.4> %s }" % win,
        "blob { threshold 0.4 sphere { <0,-1.05,0>,0.35,1 } sphere { <0,-1.35,0>,0.22,1 } %s }" % flame,
    ]
    for a in (0, 120, 240):
        o.append(
            "superellipsoid { <0.4,0.4> scale <0.05,0.3,0.22> translate <0,-0.7,0.5> rotate y*%d %s }" % (a + 60, acc)
        )
    return ["union { %s rotate z*%.0f translate y*1.2 }" % (" ".join(o), r.r.uniform(-40, -20))], 2.4, 1.0


def b_heart(r: Ctx):
    c = r.col(dh=0) if r.r.random() < 0.4 else (r.r.choice([0.97, 0.0, 0.93, 0.9]), r.r.uniform(0.5, 0.85), 0.95)
    t = r.tex(c, kind=r.r.choice(["clay", "gloss", "gloss"]), span=(-1, 1))
    obj = "object { HeartShape %s }" % t
    return (
        [
            "object { %s rotate <%.0f,%.0f,%.0f> translate y*1.05 }"
            % (obj, r.r.uniform(-10, 10), r.r.uniform(-35, 35), r.r.uniform(-15, 15))
        ],
        2.0,
        1.0,
    )


def b_star(r: Ctx):
    c = (r.r.uniform(0.1, 0.15), r.r.uniform(0.6, 0.9), 1.0) if r.r.random() < 0.6 else r.col()
    t = r.tex(c, kind=r.r.choice(["clay", "gloss", "metal"]))
    obj = "object { StarShape scale <1,1,%.2f> %s }" % (r.r.uniform(1.0, 1.6), t)
    return (
        [
            "object { %s rotate <%.0f,%.0f,%.0f> translate y*1.0 }"
            % (obj, r.r.uniform(-15, 15), r.r.uniform(-35, 35), r.r.uniform(-20, 20))
        ],
        2.0,
        1.0,
    )


def b_text(r: Ctx):
    n = r.r.choice([1, 1, 1, 2, 2, 3])
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?!&@$%#"
    s = "".join(r.r.choice(chars) for _ in range(n))
    h = 1.5 if n == 1 else (1.0 if n == 2 else 0.75)
    post = "rotate y*%.0f translate y*1.0" % r.r.uniform(-35, 35)
    return [text_obj(r, s, r.tex(span=(-0.8, 0.8)), height=h, post=post)], 2.0, 1.2


def b_pin(r: Ctx):
    t = r.tex(kind=r.r.choice(["clay", "gloss"]))
    o = [
        "difference { union { sphere { <0,1.3,0>,0.6 } cone { <0,1.3,0>,0.52,<0,0.25,0>,0.02 } } "
        "cylinder { <0,1.3,-1>,<0,1.3,1>,0.22 } scale <1,1,0.7> %s }" % t
    ]
    return ["union { %s rotate y*%.0f translate -y*0.2 }" % (" ".join(o), r.r.uniform(-30, 30))], 1.8, 1.0


def b_icecream(r: Ctx):
    cone_t = r.tex((0.09, 0.55, 0.9), kind="clay", grad=False)
    o = ["cone { <0,1.2,0>,0.45,<0,0.05,0>,0.05 %s }" % cone_t]
    for i in range(r.r.randint(1, 3)):
        o.append(
            "sphere { <%.2f,%.2f,0>,%.2f %s }" % (r.r.uniform(-0.05, 0.05), 1.35 + i * 0.45, 0.5 - i * 0.06, r.tex())
        )
    if r.r.random() < 0.5:
        o.append(
            "sphere { <0,%.2f,-0.05>,0.12 %s }"
            % (1.35 + (len(o) - 2) * 0.45 + 0.45, r.tex((0.98, 0.85, 0.85), kind="gloss", grad=False))
        )
    return ["union { %s rotate z*%.0f }" % (" ".join(o), r.r.uniform(-15, 15))], 2.6, 0.8


def b_gift(r: Ctx):
    box_t = r.tex()
    rib = r.tex(r.col(dh=0.5), kind="gloss", grad=False)
    o = [
        "superellipsoid { <0.15,0.15> scale <0.7,0.55,0.7> translate y*0.55 %s }" % box_t,
        "superellipsoid { <0.15,0.15> scale <0.78,0.14,0.78> translate y*1.12 %s }" % box_t,
        "box { <-0.14,0,-0.79>,<0.14,1.27,0.79> %s }" % rib,
        "box { <-0.79,0,-0.14>,<0.79,1.27,0.14> %s }" % rib,
        "torus { 0.22,0.07 rotate z*60 scale <1,1,0.6> translate <-0.2,1.38,0> %s }" % rib,
        "torus { 0.22,0.07 rotate z*-60 scale <1,1,0.6> translate <0.2,1.38,0> %s }" % rib,
    ]
    return ["union { %s rotate y*%.0f }" % (" ".join(o), r.r.uniform(-45, 45))], 1.9, 1.1


def b_planet(r: Ctx):
    o = [
        "sphere { 0,0.75 %s }" % r.tex(grad=True),
        "difference { cylinder { -y*0.02,y*0.02,1.35 } cylinder { -y,y,0.95 } %s }" % r.tex(grad=False),
    ]
    return (
        [
            "union { %s rotate <%.0f,0,%.0f> translate y*1.0 }"
            % (" ".join(o), r.r.uniform(-30, -10), r.r.uniform(-30, 30))
        ],
        2.0,
        1.4,
    )


def b_bulb(r: Ctx):
    glass = r.tex((0.13, r.r.uniform(0.4, 0.8), 1.0), kind="gloss", grad=False)
    metal = "texture { pigment { %s } %s }" % (rgb(0.75, 0.75, 0.78), r.finish("metal"))
    o = ["union { sphere { <0,1.25,0>,0.62 } cone { <0,1.1,0>,0.5,<0,0.55,0>,0.28 } %s }" % glass]
    for i in range(3):
        o.append("torus { 0.27,0.05 translate y*%.2f %s }" % (0.5 - i * 0.11, metal))
    o.append("sphere { <0,0.2,0>,0.15 %s }" % metal)
    return ["union { %s rotate z*%.0f }" % (" ".join(o), r.r.uniform(-20, 20))], 2.0, 0.8


def b_gear(r: Ctx):
    t = r.tex(kind=r.r.choice(["metal", "gloss", "clay"]))
    n = r.r.randint(6, 10)
    teeth = " ".join(
        "superellipsoid { <0.4,0.4> scale <0.16,0.2,0.16> translate y*0.85 rotate z*%.1f }" % (i * 360 / n)
        for i in range(n)
    )
    obj = "difference { union { cylinder { <0,0,-0.2>,<0,0,0.2>,0.82 } %s } cylinder { <0,0,-1>,<0,0,1>,0.3 } %s }" % (
        teeth,
        t,
    )
    return (
        [
            "object { %s rotate <%.0f,%.0f,%.0f> translate y*1.05 }"
            % (obj, r.r.uniform(-20, 5), r.r.uniform(-35, 35), r.r.uniform(0, 40))
        ],
        2.1,
        1.05,
    )


def b_mushroom(r: Ctx):
    cap = r.tex((r.r.choice([0.0, 0.98, 0.05, r.r.random()]), r.r.uniform(0.6, 0.9), 0.95))
    stem = r.tex((0.1, 0.12, 1.0), grad=False)
    o = [
        "cylinder { 0,y*0.9,0.28 %s }" % stem,
        "torus { 0.25,0.06 translate y*0.05 %s }" % stem,
        "intersection { sphere { 0,1 scale <0.85,0.7,0.85> } plane { -y,0 } translate y*0.8 %s }" % cap,
    ]
    white = r.tex((0, 0, 1.0), grad=False)
    for _ in range(7):  # spots = small lenses cut from a slightly larger cap shell
        th, ph = r.r.uniform(0, 2 * math.pi), r.r.uniform(0.25, 1.3)
        x, y, z = math.sin(ph) * math.cos(th), math.cos(ph), math.sin(ph) * math.sin(th)
        o.append(
            "intersection { sphere { 0,1 scale <0.875,0.725,0.875> translate y*0.8 } "
            "sphere { <%.3f,%.3f,%.3f>,%.2f } %s }"
            % (x * 0.85, 0.8 + y * 0.7, z * 0.85, r.r.uniform(0.09, 0.16), white)
        )
    return ["union { %s rotate y*%.0f }" % (" ".join(o), r.r.uniform(0, 360))], 1.6, 0.9


BUILDERS = [
    (b_emoji, 5),
    (b_blob, 2),
    (b_cloud, 1),
    (b_tile, 3),
    (b_torus, 2),
    (b_shapes, 2),
    (b_cup, 1),
    (b_house, 1),
    (b_tree, 1),
    (b_rocket, 1),
    (b_heart, 2),
    (b_star, 2),
    (b_text, 2),
    (b_pin, 1),
    (b_icecream, 1),
    (b_gift, 1),
    (b_planet, 1),
    (b_bulb, 1),
    (b_gear, 1),
    (b_mushroom, 1),
]


# --------------------------------------------------------------------------------------


def scene(seed: int) -> str:
    rng = random.Random(seed)
    r = Ctx(rng)
    builder = rng.choices([b for b, _ in BUILDERS], [w for _, w in BUILDERS])[0]
    objs, height, halfw = builder(r)
    # hoist #declare lines (text objects) out of unions
    decls: list[str] = []
    body: list[str] = []
    for o in objs:
        lines = o.split("\n")
        for ln in lines:
            (decls if ln.startswith("#declare") else body).append(ln)
    body_s = "\n".join(body)

    # background
    bg_mode = rng.choices(["white", "tint", "grad"], [0.3, 0.35, 0.35])[0]
    bh = rng.random() if rng.random() < 0.6 else r.base_h + 0.5
    if bg_mode == "white":
        bg1 = bg2 = (0.0, 0.0, 1.0)
    elif bg_mode == "tint":
        bg1 = bg2 = (bh, rng.uniform(0.04, 0.16), 1.0)
    else:
        bg1 = (bh, rng.uniform(0.05, 0.2), 1.0)
        bg2 = (bh + rng.uniform(-0.12, 0.12), rng.uniform(0.15, 0.35), rng.uniform(0.9, 1.0))
    ground = rng.random() < 0.8

    # camera: slightly from above, distance chosen to fit object
    elev = math.radians(rng.uniform(12, 28))
    azim = math.radians(rng.uniform(-20, 20))
    ang = 32.0
    fit = max(height * 0.5, halfw) * rng.uniform(1.22, 1.5)
    dist = fit / math.tan(math.radians(ang / 2))
    cy = height * 0.5
    cam = (dist * math.cos(elev) * math.sin(azim), cy + dist * math.sin(elev), -dist * math.cos(elev) * math.cos(azim))

    # lights: key area light upper-left-front, fill right, rim from behind
    kx, ky, kz = rng.uniform(-7, -3), rng.uniform(7, 10), rng.uniform(-7, -4)
    key_int = rng.uniform(0.9, 1.05)
    asz = rng.uniform(3.0, 5.0)
    warm = rng.uniform(-0.04, 0.04)
    fill_int = rng.uniform(0.3, 0.42)
    amb = rng.uniform(0.14, 0.2)

    def hv(c):
        return hsv(*c)

    out = []
    out.append(
        "#version 3.7;\nglobal_settings { assumed_gamma 1.0 max_trace_level 4 ambient_light %s }"
        % hv((bg1[0], bg1[1] * 0.5, 1.0))
    )
    out.append(PREAMBLE_SHAPES)
    out.append("#default { finish { ambient %.3f } }" % amb)
    out.append(
        "camera { perspective location %s look_at <0,%.3f,0> angle %.1f right x*1 up y*1 }" % (v3(*cam), cy * 0.98, ang)
    )
    out.append(
        "light_source { <%.2f,%.2f,%.2f> color rgb <%.3f,%.3f,%.3f> area_light <%.2f,0,0>,<0,0,%.2f>,3,3 "
        "adaptive 0 jitter circular orient area_illumination off }"
        % (kx, ky, kz, key_int * (1 + warm), key_int, key_int * (1 - warm), asz, asz)
    )
    fw = rng.uniform(0.0, 0.25)  # warm fill = fake coloured bounce, keeps shadowed yellows from going olive
    out.append(
        "light_source { <%.2f,%.2f,%.2f> color rgb <%.3f,%.3f,%.3f> shadowless }"
        % (
            rng.uniform(5, 8),
            rng.uniform(2, 4),
            rng.uniform(-8, -5),
            fill_int * (1 + fw * 0.5),
            fill_int,
            fill_int * (1 - fw),
        )
    )
    out.append(
        "light_source { <%.2f,%.2f,%.2f> color rgb %.3f shadowless }"
        % (rng.uniform(-3, 3), rng.uniform(6, 9), rng.uniform(6, 9), rng.uniform(0.25, 0.45))
    )
    # background: sky_sphere gradient (top bg2 -> bottom bg1) ; ground plane tinted to match
    out.append(
        "sky_sphere { pigment { gradient y color_map { [0 %s] [0.5 %s] [1 %s] } scale 2 translate -y } }"
        % (hv(bg1), hv(bg1), hv(bg2))
    )
    out.append("background { %s }" % hv(bg1))
    if ground:
        # shadow catcher: bright emission so lit area ~= background colour, shadow softly darkens
        out.append(
            "plane { y, 0 pigment { %s } finish { ambient 0 emission %.2f diffuse %.2f } no_reflection }"
            % (hv(bg1), rng.uniform(0.55, 0.62), rng.uniform(0.38, 0.5))
        )
        # far fog only hides the ground/sky horizon (objects get <7%% haze)
        out.append("fog { distance %.2f color %s }" % (dist * 15, hv(bg1)))
    out.append("\n".join(decls))
    out.append(body_s)
    return "\n".join(out)


class RenderError(RuntimeError):
    """POV-Ray failed on a scene; the message has its error output."""


def render(seed: int, size: int = SIZE) -> Image.Image:
    """The scene of `seed` rendered at `size` x `size` pixels (RGB)."""
    with tempfile.TemporaryDirectory() as folder:
        pov, png = Path(folder) / "scene.pov", Path(folder) / "scene.png"
        pov.write_text(scene(seed))
        command = [
            "povray",
            f"+I{pov}",
            f"+O{png}",
            f"+W{size}",
            f"+H{size}",
            "+A0.3",
            "+AM1",
            "-D",
            "-V",
            "-GA",
            "+FN",
            "+Q9",
            "-P",
            "+WT1",
        ]
        try:
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise RenderError("povray is not installed (apt-get install povray)") from None
        if done.returncode != 0 or not png.exists():
            raise RenderError(f"povray failed on scene {seed}: {done.stderr[-1500:]}")
        return Image.open(io.BytesIO(png.read_bytes())).convert("RGB")
