"""Compact CNN for drawing-style classification on CPU.

A full 3x3 stem keeps the first layers at full/half resolution (stroke texture, hatching and
fill noise live in the finest scales), then depthwise-separable residual stages downsample to
global pooling.  Average pooling summarises how much of the picture is shaded/hatched; max
pooling catches small decisive cues (a specular highlight, one wobbly outline).  With `stats`,
fixed style statistics of the input (:mod:`model.stats`: colour counts, gradient and orientation
histograms, background share) enter the head beside the pooled convolutional features.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from core.styles import STYLES
from model.stats import StyleStats


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class SeparableBlock(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 (each with BN), ReLU, residual connection when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(cin, cin, 3, stride, groups=cin), nn.ReLU(inplace=True), *_conv_bn(cin, cout, 1)
        )
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.act(y + x if self.residual else y)


class Parts(NamedTuple):
    """What :meth:`StyleNet.parts` computes: `head`'s logits; with experts also `real_head`'s, the
    gate's logit (the generator's side) and, with the linear expert, its logits."""

    head: torch.Tensor
    real: torch.Tensor | None = None
    gate: torch.Tensor | None = None
    linear: torch.Tensor | None = None

    def map(self, f: Callable[[torch.Tensor], torch.Tensor]) -> Parts:
        """`f` of every part there is."""

        def apply(part: torch.Tensor | None) -> torch.Tensor | None:
            return None if part is None else f(part)

        return Parts(f(self.head), apply(self.real), apply(self.gate), apply(self.linear))

    @staticmethod
    def cat(chunks: Sequence[Parts]) -> Parts:
        """The parts of consecutive batches, joined."""

        def joined(column: list[torch.Tensor | None]) -> torch.Tensor | None:
            present = [part for part in column if part is not None]
            return torch.cat(present) if present else None

        return Parts(
            torch.cat([chunk.head for chunk in chunks]),
            joined([chunk.real for chunk in chunks]),
            joined([chunk.gate for chunk in chunks]),
            joined([chunk.linear for chunk in chunks]),
        )


class StyleNet(nn.Module):
    """Expects normalised float32 NCHW input (see preprocess.normalize). `stats` is the version of
    the :class:`StyleStats` branch: 0 none (model version 1), 1 (model version 2), 2 with the
    foreground statistics (model versions 3 to 6), projected to `stats_width` features.
    `branch_dropout` drops the convolutional features of a whole image at that rate in training,
    so that the statistics alone must carry every class (model version 4).

    With `experts` (model version 5) the network has two heads and a gate: `head` learns the
    synthetic generator's images alone, `real_head` (the same inputs, its own projection of the
    statistics) the real art alone, and the gate, from the statistics and the pooled features,
    whether an image is the generator's. The output is the log of the mixture (:meth:`output`):
    neither head has to fit the other's images beside its own.

    With `linear_expert` (model version 6) the real side also has a linear model of the statistics
    alone, `linear_statistics`, which training solves to its optimum after the rest (a multinomial
    logistic regression by full-batch L-BFGS, :mod:`model.linear_expert`); the real side's
    probabilities are `linear_share` of its and the rest `real_head`'s."""

    linear_share: torch.Tensor

    def __init__(
        self,
        num_classes: int = len(STYLES),
        widths: tuple[int, ...] = (24, 48, 96, 160, 256),
        stats: int = 0,
        dropout: float = 0.2,
        stats_width: int = 64,
        branch_dropout: float = 0.0,
        experts: bool = False,
        linear_expert: bool = False,
    ) -> None:
        super().__init__()
        self.widths = tuple(widths)
        self.stats = int(stats)
        self.stats_width = stats_width
        self.branch_dropout = branch_dropout
        self.experts = bool(experts)
        self.linear_expert = bool(linear_expert)
        if self.experts and not self.stats:
            raise ValueError("experts need the style statistics (stats > 0)")
        if self.linear_expert and not self.experts:
            raise ValueError("the linear expert is part of the experts (experts=True)")
        w0, *rest = widths
        layers: list[nn.Module] = [*_conv_bn(3, w0, 3, 2), nn.ReLU(inplace=True)]
        cin = w0
        for i, w in enumerate(rest):
            layers.append(SeparableBlock(cin, w, stride=2))
            if i < len(rest) - 1:
                layers.append(SeparableBlock(w, w))
            cin = w
        self.features = nn.Sequential(*layers)
        extra = size = 0
        if self.stats:
            statistics = StyleStats(self.stats)
            self.statistics = nn.Sequential(
                statistics,
                nn.BatchNorm1d(statistics.size),
                nn.Linear(statistics.size, stats_width),
                nn.ReLU(inplace=True),
            )
            extra, size = stats_width, statistics.size
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * cin + extra, num_classes))
        if self.experts:
            self.real_statistics = nn.Sequential(nn.Linear(size, stats_width), nn.ReLU(inplace=True))
            self.real_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * cin + stats_width, num_classes))
            self.gate = nn.Linear(2 * cin + size, 1)
        if self.linear_expert:
            self.linear_statistics = nn.Linear(size, num_classes)
            nn.init.zeros_(self.linear_statistics.weight)
            nn.init.zeros_(self.linear_statistics.bias)
            self.register_buffer("linear_share", torch.zeros(()))

    def forward(self, x: torch.Tensor, statistics: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of `x` (with `experts`, the log of the mixture's probabilities). Training passes
        the `statistics` of the images before augmentation (:meth:`style_statistics`), so that
        augmentations do not shift them; serving computes them from `x`."""
        return self.output(self.parts(x, statistics))

    def parts(self, x: torch.Tensor, statistics: torch.Tensor | None = None) -> Parts:
        """Each part's logits; training takes each loss from its own part."""
        f = self.features(x)
        pooled = torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1)
        dropped = pooled
        if self.training and self.branch_dropout:
            keep = torch.rand(len(pooled), 1) >= self.branch_dropout
            dropped = pooled * keep / (1.0 - self.branch_dropout)
        if not self.stats:
            return Parts(self.head(dropped))
        if statistics is None:
            statistics = self.style_statistics(x)
        normalised = self.statistics[1](statistics)
        logits = self.head(torch.cat([dropped, self.statistics[2:](normalised)], 1))
        if not self.experts:
            return Parts(logits)
        real = self.real_head(torch.cat([dropped, self.real_statistics(normalised)], 1))
        gate = self.gate(torch.cat([pooled, normalised], 1))
        linear = self.linear_statistics(statistics) if self.linear_expert else None
        return Parts(logits, real, gate, linear)

    def output(self, parts: Parts) -> torch.Tensor:
        """The network's logits from its parts (:func:`mix`)."""
        return mix(parts, self.linear_share if self.linear_expert else 0.0)

    def style_statistics(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed statistics of normalised input `x`, before the learned projection."""
        return self.statistics[0](x)


def mix(parts: Parts, linear_share: torch.Tensor | float = 0.0) -> torch.Tensor:
    """`head`'s logits alone or, with experts, the log of gate × softmax(head) + (1 − gate) × the
    real side's probabilities: `real_head`'s, and `linear_share` of them the linear expert's."""
    if parts.real is None or parts.gate is None:
        return parts.head
    real = torch.softmax(parts.real, 1)
    if parts.linear is not None:
        real = (1.0 - linear_share) * real + linear_share * torch.softmax(parts.linear, 1)
    share = torch.sigmoid(parts.gate)
    return torch.log((share * torch.softmax(parts.head, 1) + (1.0 - share) * real).clamp_min(1e-12))


def fused_for_inference(net: nn.Module) -> nn.Module:
    """An evaluation-mode copy of `net` with every batch norm that follows a convolution folded
    into that convolution's weights: the same outputs (to float rounding), one pass fewer per layer.
    The copy is what the ONNX export serves (model/export.py); train and save the original."""
    fused = copy.deepcopy(net).eval()
    for module in fused.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                conv, norm = module[i], module[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                    module[i], module[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    return fused
