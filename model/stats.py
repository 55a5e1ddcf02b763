"""Style statistics computed inside the network from its own input pixels.

Drawing style lives in low-level statistics as much as in shapes: how many colours a picture
uses and how much of it they cover, how much of it is background, whether intensity changes in
hard steps (flat fills, ink lines) or in long soft ramps (shading), how much saturation it has,
how varied its edge directions are (a wobbly hand-drawn stroke against a ruled outline). A small
CNN trained on a few thousand images does not learn these reliably from pixels, so
:class:`StyleStats` computes them as fixed, parameter-free features that sit beside the
convolutional features in :class:`model.net.StyleNet`. They are part of the one torch network, so
the worker, the pyfunc and the inference server serve them without any extra step.

Every feature is a share of pixels or a normalised moment, so it does not depend on image size.
"""

import math

import torch
from torch import nn

from model.preprocess import MEAN, STD

GRADIENT_EDGES = (0.004, 0.012, 0.03, 0.06, 0.12, 0.25, 0.5)
"""Bin edges of the luminance gradient magnitude (0..1 intensity per pixel step)."""
LAPLACE_EDGES = (0.004, 0.015, 0.05, 0.15, 0.4)
COLOUR_LEVELS = 16
"""Levels per channel when counting colours (16**3 = 4096 bins)."""
TOP_COLOURS = (1, 2, 4, 8, 16, 32, 64)


def _below(values: torch.Tensor, edges: tuple[float, ...]) -> torch.Tensor:
    """Share of each image's values below each edge (a cumulative histogram), N x len(edges)."""
    flat = values.flatten(1)
    # How many edges each value reaches, counted per image in one pass, then accumulated.
    reached = torch.bucketize(flat, torch.tensor(edges, dtype=flat.dtype, device=flat.device), right=True)
    counts = torch.zeros(flat.shape[0], len(edges) + 1, dtype=flat.dtype, device=flat.device)
    counts.scatter_add_(1, reached, torch.ones_like(flat))
    return counts.cumsum(1)[:, :-1] / flat.shape[1]


def colour_features(rgb: torch.Tensor) -> torch.Tensor:
    """How concentrated the colour histogram is: cumulative share of the top-k colours, entropy,
    and how many colours cover more than 0.2 % of the picture. Every other pixel is enough."""
    sample = rgb[..., ::2, ::2]
    levels = (sample * (COLOUR_LEVELS - 1e-3)).to(torch.int64)
    index = ((levels[:, 0] * COLOUR_LEVELS + levels[:, 1]) * COLOUR_LEVELS + levels[:, 2]).flatten(1)
    bins = COLOUR_LEVELS**3
    hist = torch.zeros(rgb.shape[0], bins, dtype=rgb.dtype, device=rgb.device)
    hist.scatter_add_(1, index, torch.ones_like(index, dtype=rgb.dtype))
    share = hist / index.shape[1]
    top = share.topk(max(TOP_COLOURS), dim=1).values.cumsum(1)[:, [k - 1 for k in TOP_COLOURS]]
    entropy = -(share * torch.log(share.clamp_min(1e-12))).sum(1, keepdim=True) / math.log(bins)
    used = (share > 0.002).to(rgb.dtype).sum(1, keepdim=True) / 64.0
    return torch.cat([top, entropy, used], 1)


def gradient_features(grey: torch.Tensor) -> torch.Tensor:
    """Gradient and Laplacian magnitude histograms, the share of soft ramps (shading), and the
    spread of edge orientations among clear edges."""
    gx = grey[..., 1:-1, 2:] - grey[..., 1:-1, :-2]
    gy = grey[..., 2:, 1:-1] - grey[..., :-2, 1:-1]
    centre = grey[..., 1:-1, 1:-1]
    laplace = (
        grey[..., 1:-1, 2:] + grey[..., 1:-1, :-2] + grey[..., 2:, 1:-1] + grey[..., :-2, 1:-1] - 4 * centre
    ).abs_()
    ax, ay = gx.abs(), gy.abs()
    magnitude = torch.maximum(ax, ay)  # cheap stand-in for the Euclidean norm (within sqrt 2)
    strong = magnitude > 0.12
    horizontal = (strong & (ay < 0.414 * ax)).float().flatten(1).sum(1)
    vertical = (strong & (ax < 0.414 * ay)).float().flatten(1).sum(1)
    rising = (strong & (gx * gy > 0)).float().flatten(1).sum(1)  # the diagonals, one way
    total = strong.float().flatten(1).sum(1).clamp_min(1.0)
    diagonal = total - horizontal - vertical
    orient = torch.stack([horizontal, vertical, rising, diagonal - rising], 1) / total[:, None]
    axis_aligned = (orient[:, 0] + orient[:, 1])[:, None]
    soft = ((magnitude > 0.008) & (magnitude < 0.1) & (laplace < 0.03)).float().flatten(1).mean(1, keepdim=True)
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


def tone_features(rgb: torch.Tensor) -> torch.Tensor:
    """Saturation and value moments, near-white and near-black shares, and how much of the
    picture is its background (the colour of the border)."""
    sample = rgb[..., ::2, ::2]
    high, low = sample.amax(1), sample.amin(1)
    saturation = (high - low) / high.clamp_min(1e-3)
    border = torch.cat([rgb[..., 0, :], rgb[..., -1, :], rgb[..., :, 0], rgb[..., :, -1]], 2)
    ground = border.median(dim=2).values[..., None, None]
    background = (sample - ground).abs().amax(1) < 0.06
    parts = [saturation, high, low > 0.92, high < 0.2, background]
    means = torch.stack([part.float().flatten(1).mean(1) for part in parts], 1)
    spreads = torch.stack([saturation.flatten(1).std(1), high.flatten(1).std(1)], 1)
    return torch.cat([means, spreads], 1)


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
"""The statistics in the order :class:`StyleStats` returns them."""


class StyleStats(nn.Module):
    """Normalised NCHW input (see :func:`model.preprocess.normalize`) to N x `size` statistics (log scale)."""

    size = len(FEATURES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = (x.float() * STD + MEAN).clamp(0, 1).contiguous()
        grey = 0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3]
        features = torch.cat([colour_features(rgb), gradient_features(grey), tone_features(rgb)], 1)
        # Shares near 0 carry the signal (a few % of soft ramps): a log scale spreads them out.
        return torch.log(features.clamp_min(0) + 1e-3)
