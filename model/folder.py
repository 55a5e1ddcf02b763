"""A model folder's files: the weights and config that training writes (:mod:`model.export`), and
the ONNX export that every process that predicts loads (:mod:`model.predictor`)."""

import json
from pathlib import Path
from typing import Any

from core.styles import STYLES

WEIGHTS = "weights.pt"
CONFIG = "config.json"
ONNX = "model.onnx"


def read_config(folder: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((folder / CONFIG).read_text())
    if tuple(config["styles"]) != STYLES:
        raise ValueError(f"model styles {config['styles']} differ from {list(STYLES)}")
    return config
