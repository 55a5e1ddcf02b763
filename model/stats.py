"""Style statistics computed inside the network from its own input pixels.

Drawing style lives in low-level statistics as much as in shapes: how many colours a picture
uses and how much of it they cover, how much of it is background, whether intensity changes in
hard steps (flat fills, ink lines) or in long soft ramps (shading), how much saturation it has,
how varied its edge directions are (a wobbly hand-drawn stroke against a ruled outline). A small
CNN trained on a few thousand images does not learn these reliably from pixels, so
:class:`StyleStats` computes them as fixed, parameter-free features that sit beside the
convolutional features in :class:`model.net.StyleNet`. They are part of the one torch network, and
so of its ONNX export (:mod:`model.export`): the worker, the pyfunc and the inference server serve
them without any extra step.

Every feature is a share of pixels or a normalised moment, so it does not depend on image size.

Version 2 of the statistics (model version 3 on) adds what the foreground alone looks like, so
that how much margin or background an upload has does not dilute it: how thick its strokes are
(how much of it survives erosion), how straight its edges run locally (structure-tensor
coherence: a ruled outline against a wobbly or doubled pencil line), the same gradients at half
the resolution, and the foreground's own colour histogram, lightness and saturation.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from model.preprocess import MEAN, STD

GRADIENT_EDGES = (0.004, 0.012, 0.03, 0.06, 0.12, 0.25, 0.5)
"""Bin edges of the luminance gradient magnitude (0..1 intensity per pixel step)."""
LAPLACE_EDGES = (0.004, 0.015, 0.05, 0.15, 0.4)
COLOUR_LEVELS = 16
"""Levels per channel when counting colours (16**3 = 4096 bins)."""
TOP_COLOURS = (1, 2, 4, 8, 16, 32, 64)
ERODE_RADII = (1, 2, 3)
COHERENCE_EDGES = (0.5, 0.7, 0.85, 0.95)
HALF_GRADIENT_EDGES = (0.01, 0.05, 0.15)
FOREGROUND_TOP_COLOURS = (1, 3, 8, 24)
LIGHTNESS_EDGES = (0.2, 0.5, 0.8)
ORIENTATION_BINS = 8


def _count(condition: torch.Tensor) -> torch.Tensor:
    """How many pixels of each image meet a boolean condition, as float32 (exact up to 2**24).
    Summing the booleans' bytes straight into float32 is the cheapest way on a CPU: half the time
    of `count_nonzero` or of a sum of the booleans, which first copy them to int64."""
    return condition.flatten(1).view(torch.uint8).sum(1, dtype=torch.float32)


def _below(values: torch.Tensor, edges: tuple[float, ...]) -> torch.Tensor:
    """Share of each image's values below each edge (a cumulative histogram), N x len(edges)."""
    flat = values.flatten(1)
    # One comparison per edge: faster on a CPU than bucketing every value (torch.bucketize runs on
    # one thread), and the same counts.
    return torch.stack([_count(flat < edge) for edge in edges], 1) / flat.shape[1]


def colour_index(rgb: torch.Tensor) -> torch.Tensor:
    """Each pixel's bin among COLOUR_LEVELS**3 colours, N x H x W int64. The arithmetic runs on
    whole-number floats (exact below 2**24), so only the index itself is converted."""
    levels = (rgb * (COLOUR_LEVELS - 1e-3)).floor_()
    return ((levels[:, 0] * COLOUR_LEVELS + levels[:, 1]) * COLOUR_LEVELS + levels[:, 2]).to(torch.int64)


def colour_features(index: torch.Tensor) -> torch.Tensor:
    """How concentrated the colour histogram is (`index` from :func:`colour_index`): cumulative
    share of the top-k colours, entropy, and how many colours cover more than 0.2 % of the
    picture. Every other pixel is enough."""
    sample = index[..., ::2, ::2].flatten(1)
    bins = COLOUR_LEVELS**3
    hist = torch.zeros(index.shape[0], bins, dtype=torch.float32, device=index.device)
    hist.scatter_add_(1, sample, torch.ones(sample.shape, dtype=torch.float32, device=index.device))
    share = hist / sample.shape[1]
    top = share.topk(max(TOP_COLOURS), dim=1).values.cumsum(1)[:, [k - 1 for k in TOP_COLOURS]]
    entropy = -(share * torch.log(share.clamp_min(1e-12))).sum(1, keepdim=True) / math.log(bins)
    used = _count(share > 0.002)[:, None] / 64.0
    return torch.cat([top, entropy, used], 1)


def _gradients(grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences of the luminance, x and y, on the pixels that have both neighbours."""
    return grey[..., 1:-1, 2:] - grey[..., 1:-1, :-2], grey[..., 2:, 1:-1] - grey[..., :-2, 1:-1]


def _ground(rgb: torch.Tensor) -> torch.Tensor:
    """The background colour: the median of the border pixels, per image and channel (N3HW-broadcastable)."""
    border = torch.cat([rgb[..., 0, :], rgb[..., -1, :], rgb[..., :, 0], rgb[..., :, -1]], 2)
    return border.median(dim=2).values[..., None, None]


def gradient_features(grey: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Gradient and Laplacian magnitude histograms, the share of soft ramps (shading), and the
    spread of edge orientations among clear edges."""
    centre = grey[..., 1:-1, 1:-1]
    laplace = (
        grey[..., 1:-1, 2:] + grey[..., 1:-1, :-2] + grey[..., 2:, 1:-1] + grey[..., :-2, 1:-1] - 4 * centre
    ).abs_()
    ax, ay = gx.abs(), gy.abs()
    magnitude = torch.maximum(ax, ay)  # cheap stand-in for the Euclidean norm (within sqrt 2)
    strong = magnitude > 0.12
    horizontal = _count(strong & (ay < 0.414 * ax))
    vertical = _count(strong & (ax < 0.414 * ay))
    rising = _count(strong & (gx * gy > 0))  # the diagonals, one way
    total = _count(strong).clamp_min(1.0)
    diagonal = total - horizontal - vertical
    orient = torch.stack([horizontal, vertical, rising, diagonal - rising], 1) / total[:, None]
    axis_aligned = (orient[:, 0] + orient[:, 1])[:, None]
    pixels = laplace.shape[-2] * laplace.shape[-1]
    soft = _count((magnitude > 0.008) & (magnitude < 0.1) & (laplace < 0.03))[:, None] / pixels
    return torch.cat(
        [
            _below(magnitude, GRADIENT_EDGES),
            _below(laplace, LAPLACE_EDGES),
            orient.sort(dim=1, descending=True).values,
            axis_aligned,
            soft,
        ],
        1,
    )


def tone_features(rgb: torch.Tensor, ground: torch.Tensor) -> torch.Tensor:
    """Saturation and value moments, near-white and near-black shares, and how much of the
    picture is its background (the colour of the border)."""
    sample = rgb[..., ::2, ::2]
    high, low = sample.amax(1), sample.amin(1)
    saturation = (high - low) / high.clamp_min(1e-3)
    background = (sample - ground).abs_().amax(1) < 0.06
    parts = [saturation, high, low > 0.92, high < 0.2, background]
    means = torch.stack([part.float().flatten(1).mean(1) for part in parts], 1)
    spreads = torch.stack([saturation.flatten(1).std(1), high.flatten(1).std(1)], 1)
    return torch.cat([means, spreads], 1)


def _share_within(condition: torch.Tensor, within: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Share of the pixels of boolean mask `within` (`count` of them per image) where `condition` holds."""
    return _count(condition & within) / count


def _erode(mask: torch.Tensor) -> torch.Tensor:
    """A boolean N1HW mask eroded by one pixel (3 x 3), the image edge counting as outside."""
    inner = F.pad(mask[..., :-2, :] & mask[..., 1:-1, :] & mask[..., 2:, :], (0, 0, 1, 1))
    return F.pad(inner[..., :-2] & inner[..., 1:-1] & inner[..., 2:], (1, 1))


def _box3(x: torch.Tensor) -> torch.Tensor:
    """Sum over each pixel's 3 x 3 neighbourhood (zero outside), by shifted, zero-padded slices:
    much cheaper on a CPU than a stride-1 pooling or convolution."""
    rows = x + F.pad(x[..., :-1, :], (0, 0, 1, 0)) + F.pad(x[..., 1:, :], (0, 0, 0, 1))
    return rows + F.pad(rows[..., :-1], (1, 0)) + F.pad(rows[..., 1:], (0, 1))


def foreground_features(
    rgb: torch.Tensor,
    grey: torch.Tensor,
    ground: torch.Tensor,
    gx: torch.Tensor,
    gy: torch.Tensor,
    index: torch.Tensor,
) -> torch.Tensor:
    """Statistics of the foreground (the pixels unlike the border's colour) alone: stroke
    thickness, local straightness and orientation spread of edges, half-scale gradients, and the
    foreground's colour concentration, lightness and saturation."""
    n = rgb.shape[0]
    inside = (rgb - ground).abs_().amax(1, keepdim=True) >= 0.06
    pixels = inside.shape[-2] * inside.shape[-1]
    inside_count = _count(inside)
    share = (inside_count / pixels).clamp_min(1e-3)
    # Thickness: the share of the foreground still there after eroding by 1, 2, 3 pixels.
    eroded, survivor = [], inside
    for _ in ERODE_RADII:
        survivor = _erode(survivor)
        eroded.append(_count(survivor) / pixels / share)
    gxx, gyy = gx * gx, gy * gy
    strong = (gxx + gyy) > 0.01
    strong_count = _count(strong).clamp_min(1.0)
    jxx, jyy, jxy = _box3(gxx), _box3(gyy), _box3(gx * gy)
    # Coherence sqrt((jxx - jyy)^2 + 4 jxy^2) / (jxx + jyy) below an edge, compared squared.
    spread, energy = (jxx - jyy) ** 2 + 4 * jxy**2, (jxx + jyy).clamp_min(1e-6) ** 2
    straight = [_share_within(spread < edge**2 * energy, strong, strong_count) for edge in COHERENCE_EDGES]
    angle = torch.atan2(gy, gx).remainder(math.pi)
    bins = (angle * (ORIENTATION_BINS / math.pi)).to(torch.int64).clamp_(0, ORIENTATION_BINS - 1)
    orientations = torch.zeros(n, ORIENTATION_BINS, dtype=rgb.dtype, device=rgb.device)
    orientations.scatter_add_(1, bins.flatten(1), strong.flatten(1).to(rgb.dtype))
    p = orientations / orientations.sum(1, keepdim=True).clamp_min(1.0)
    orientation_entropy = -(p * torch.log(p.clamp_min(1e-9))).sum(1) / math.log(ORIENTATION_BINS)
    even = grey[..., : grey.shape[-2] // 2 * 2, : grey.shape[-1] // 2 * 2]  # a 2 x 2 pooling drops an odd last row
    half = (even[..., ::2, ::2] + even[..., ::2, 1::2] + even[..., 1::2, ::2] + even[..., 1::2, 1::2]) * 0.25
    hx = half[..., 1:-1, 2:] - half[..., 1:-1, :-2]
    hy = half[..., 2:, 1:-1] - half[..., :-2, 1:-1]
    half_gradient = _below(hx * hx + hy * hy, tuple(edge**2 for edge in HALF_GRADIENT_EDGES))
    hist = torch.zeros(n, COLOUR_LEVELS**3, dtype=rgb.dtype, device=rgb.device)
    hist.scatter_add_(1, index.flatten(1), inside.flatten(1).to(rgb.dtype))
    colours = hist / hist.sum(1, keepdim=True).clamp_min(1.0)
    top = colours.topk(max(FOREGROUND_TOP_COLOURS), dim=1).values.cumsum(1)[:, [k - 1 for k in FOREGROUND_TOP_COLOURS]]
    entropy = -(colours * torch.log(colours.clamp_min(1e-12))).sum(1, keepdim=True) / math.log(COLOUR_LEVELS**3)
    lightness = [_share_within(grey < edge, inside, inside_count.clamp_min(1.0)) for edge in LIGHTNESS_EDGES]
    high, low = rgb.amax(1, keepdim=True), rgb.amin(1, keepdim=True)
    chroma = torch.where(inside, (high - low) / high.clamp_min(1e-3), 0.0)
    saturation = chroma.flatten(1).sum(1) / inside_count.clamp_min(1.0)
    return torch.cat(
        [
            torch.stack([*eroded, *straight, orientation_entropy], 1),
            half_gradient,
            top,
            entropy,
            torch.stack([*lightness, saturation, share], 1),
        ],
        1,
    )


FEATURES = (
    *(f"top{k}_colours" for k in TOP_COLOURS),
    "colour_entropy",
    "colours_used",
    *(f"gradient_below_{e}" for e in GRADIENT_EDGES),
    *(f"laplace_below_{e}" for e in LAPLACE_EDGES),
    *(f"orientation_{i}" for i in range(4)),
    "axis_aligned_edges",
    "soft_ramps",
    "saturation",
    "value",
    "near_white",
    "near_black",
    "background",
    "saturation_spread",
    "value_spread",
)
"""The statistics of version 1 in the order :class:`StyleStats` returns them."""

FOREGROUND_FEATURES = (
    *(f"survives_erosion_{r}" for r in ERODE_RADII),
    *(f"edge_coherence_below_{e}" for e in COHERENCE_EDGES),
    "orientation_entropy",
    *(f"half_scale_gradient_below_{e}" for e in HALF_GRADIENT_EDGES),
    *(f"foreground_top{k}_colours" for k in FOREGROUND_TOP_COLOURS),
    "foreground_colour_entropy",
    *(f"foreground_lightness_below_{e}" for e in LIGHTNESS_EDGES),
    "foreground_saturation",
    "foreground",
)
"""What version 2 adds after :data:`FEATURES`."""


def feature_names(version: int) -> tuple[str, ...]:
    """The statistics a version computes, in order (version 0: none)."""
    if version not in (0, 1, 2):
        raise ValueError(f"unknown style statistics version {version}: expected 0, 1 or 2")
    return (FEATURES if version >= 1 else ()) + (FOREGROUND_FEATURES if version >= 2 else ())


class StyleStats(nn.Module):
    """Normalised NCHW input (see :func:`model.preprocess.normalize`) to N x `size` statistics (log scale)."""

    def __init__(self, version: int = 1) -> None:
        super().__init__()
        self.version = version
        self.size = len(feature_names(version))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == 0:  # no image: no statistics (the moments below would warn of empty reductions)
            return x.new_zeros((0, self.size), dtype=torch.float32)
        # One copy into a fresh NCHW tensor, then in place: the passes over three channels of
        # pixels are the costly ones (memory, not arithmetic).
        rgb = x.to(torch.float32, memory_format=torch.contiguous_format, copy=True).mul_(STD).add_(MEAN).clamp_(0, 1)
        grey = 0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]
        (gx, gy), ground = _gradients(grey), _ground(rgb)  # shared by the parts below
        index = colour_index(rgb)
        parts = [colour_features(index), gradient_features(grey, gx, gy), tone_features(rgb, ground)]
        if self.version >= 2:
            parts.append(foreground_features(rgb, grey, ground, gx, gy, index))
        features = torch.cat(parts, 1)
        # Shares near 0 carry the signal (a few % of soft ramps): a log scale spreads them out.
        return torch.log(features.clamp_min(0) + 1e-3)
