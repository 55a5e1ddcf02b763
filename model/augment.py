"""Training augmentations that keep the drawing style and change everything else.

Scale, crop, aspect, position, mirror, JPEG quality, background brightness, a mild blur, small
colour shifts and channel swaps: a flat icon stays flat and a pencil doodle stays a doodle under
all of them. Nothing here adds or removes shading, texture or outlines (no strong blur, no noise
that reads as grain, no posterisation), since those are what the classes differ in.
"""

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from model.preprocess import MEAN, STD


def jpeg_roundtrip(batch: np.ndarray, rng: np.random.Generator, share: float = 0.3) -> np.ndarray:
    """Re-encode a random `share` of a uint8 NHWC batch as JPEG at quality 45-95."""
    out = batch.copy()
    for i in np.flatnonzero(rng.random(len(batch)) < share):
        buffer = io.BytesIO()
        Image.fromarray(batch[i]).save(buffer, "JPEG", quality=int(rng.integers(45, 96)))
        out[i] = np.asarray(Image.open(buffer).convert("RGB"))
    return out


def geometry(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Random zoom (0.8-1.25), aspect (0.85-1.18), shift (±10 %) and mirror; the border is
    extended, as a plain background would be."""
    n = x.shape[0]
    scale = np.exp(rng.uniform(np.log(0.8), np.log(1.25), n))
    aspect = np.exp(rng.uniform(np.log(0.85), np.log(1.18), n))
    mirror = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0] = mirror / (scale * np.sqrt(aspect))
    theta[:, 1, 1] = np.sqrt(aspect) / scale
    theta[:, :, 2] = rng.uniform(-0.1, 0.1, (n, 2))
    grid = F.affine_grid(torch.from_numpy(theta), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def colour(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Channel swaps (half the batch), brightness ±6 %, contrast and saturation ×0.85-1.15,
    and a mild blur for a few."""
    n = x.shape[0]
    swap = rng.random(n) < 0.5
    if swap.any():
        orders = torch.from_numpy(np.stack([rng.permutation(3) for _ in range(int(swap.sum()))]))
        picked = torch.from_numpy(np.flatnonzero(swap))
        x[picked] = torch.stack([x[i, order] for i, order in zip(picked.tolist(), orders, strict=True)])
    shape = (n, 1, 1, 1)
    grey = x.mean(1, keepdim=True)
    x = grey + (x - grey) * torch.from_numpy(rng.uniform(0.85, 1.15, shape).astype(np.float32))
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + (x - mean) * torch.from_numpy(rng.uniform(0.85, 1.15, shape).astype(np.float32))
    x = x + torch.from_numpy(rng.uniform(-0.06, 0.06, shape).astype(np.float32))
    blur = np.flatnonzero(rng.random(n) < 0.12)
    if len(blur):
        kernel = torch.tensor([1.0, 2.0, 1.0]) / 4
        kernel2d = (kernel[:, None] * kernel[None, :]).expand(3, 1, 3, 3).contiguous()
        picked = torch.from_numpy(blur)
        x[picked] = F.conv2d(F.pad(x[picked], (1, 1, 1, 1), mode="replicate"), kernel2d, groups=3)
    return x.clamp_(0.0, 1.0)


def augment(batch: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    """uint8 NHWC pixels to an augmented, normalised, channels-last NCHW training batch."""
    x = torch.from_numpy(jpeg_roundtrip(batch, rng)).permute(0, 3, 1, 2).float().div_(255.0)
    x = colour(geometry(x, rng), rng)
    return ((x - MEAN) / STD).contiguous(memory_format=torch.channels_last)
