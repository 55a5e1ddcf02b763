"""A trained torch network to the folder that serves it: its weights and config (to train on from
them again) and its ONNX export, which every process that predicts runs in ONNX Runtime
(:mod:`model.predictor`) without importing torch.

The export is the network with its batch norms folded into the convolutions, the style statistics
included: one graph, pixels in, logits out, for any batch size.
"""

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnxscript import opset18

from core.styles import STYLES
from model.folder import CONFIG, ONNX, WEIGHTS, read_config
from model.net import StyleNet, fused_for_inference
from model.preprocess import normalize

OPSET = 18
op: Any = opset18
"""ONNX operators, as the translations below call them on the exporter's values (the stubs' element
types do not follow them through Shape and Gather)."""


def as_input(batch_hwc: np.ndarray) -> torch.Tensor:
    """uint8 NHWC pixels to the network's normalised, channels-last input tensor."""
    return torch.from_numpy(normalize(batch_hwc)).contiguous(memory_format=torch.channels_last)


def load_net(folder: Path) -> tuple[StyleNet, dict[str, Any]]:
    """The torch network of a model folder (to fine-tune or to export), and its config."""
    config = read_config(folder)
    net = StyleNet(
        widths=tuple(config["widths"]),
        stats=int(config.get("stats", 0)),
        stats_width=int(config.get("stats_width", 64)),
        branch_dropout=float(config.get("branch_dropout", 0.0)),
        experts=bool(config.get("experts", False)),
        linear_expert=bool(config.get("linear_expert", False)),
    )
    net.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
    return net.eval(), config


def save(net: StyleNet, folder: Path, *, image_size: int, temperature: float) -> None:
    """Write the model folder: weights, config and the ONNX export."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / WEIGHTS)
    config = {
        "styles": list(STYLES),
        "widths": list(net.widths),
        "stats": net.stats,
        "stats_width": net.stats_width,
        "branch_dropout": net.branch_dropout,
        "experts": net.experts,
        "linear_expert": net.linear_expert,
        "image_size": image_size,
        "temperature": temperature,
    }
    (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    (folder / ONNX).write_bytes(onnx_bytes(net, image_size))


def onnx_bytes(net: StyleNet, image_size: int) -> bytes:
    """The network (batch norms folded, evaluation mode) as an ONNX model with a dynamic batch size."""
    example = torch.zeros(2, 3, image_size, image_size)
    # Its notes that torchvision's operators are not there: the network uses none.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on the statistics' empty-batch branch
        program = torch.onnx.export(
            fused_for_inference(net),
            (example,),
            input_names=["pixels"],
            output_names=["logits"],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            opset_version=OPSET,
            custom_translation_table={
                torch.ops.aten.median.dim: _lower_median,
                torch.ops.aten.view.dtype: _bool_bytes,
            },
            optimize=True,
            verbose=False,
        )
    assert program is not None
    return bytes(program.model_proto.SerializeToString())


def _lower_median(values: Any, dim: int, keepdim: bool = False) -> tuple[Any, Any]:
    """`torch.median(values, dim)` (the lower of the two middle values, as torch gives it) in ONNX,
    which has no median: the smallest (n + 1) // 2 values in order, and the last of them."""
    count = op.Gather(op.Shape(values), op.Constant(value_ints=[dim]), axis=0)
    keep = op.Div(op.Add(count, op.Constant(value_ints=[1])), op.Constant(value_ints=[2]))
    smallest, indices = op.TopK(values, keep, axis=dim, largest=0, sorted=1)
    last = op.Sub(keep, op.Constant(value_ints=[1]))
    median, index = op.Gather(smallest, last, axis=dim), op.Gather(indices, last, axis=dim)
    if keepdim:
        return median, index
    axis = op.Constant(value_ints=[dim])
    return op.Squeeze(median, axis), op.Squeeze(index, axis)


def _bool_bytes(values: Any, dtype: int) -> Any:
    """A boolean tensor viewed as bytes (what the statistics count, see model.stats._count): the same
    values cast to uint8."""
    return op.Cast(values, to=2)  # onnx.TensorProto.UINT8
