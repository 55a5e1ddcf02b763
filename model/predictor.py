"""The loaded CNN: a folder of weights and config in, style probabilities out.

Shared by the worker's local backend, the MLflow pyfunc and the inference server, so that all of
them preprocess and predict in exactly one way.
"""

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.styles import STYLES
from model.net import StyleNet, fused_for_inference
from model.preprocess import ImageDecodeError, load_image, normalize, to_uint8_array

WEIGHTS = "weights.pt"
CONFIG = "config.json"
FORWARD_CHUNK = 16


@dataclass(frozen=True)
class StyleResult:
    pred: str
    probs: dict[str, float]

    def as_contract(self) -> dict[str, Any]:
        return {"pred": self.pred, "probs": self.probs}


class StylePredictor:
    def __init__(self, net: StyleNet, image_size: int, temperature: float = 1.0) -> None:
        self.net = net.eval().to(memory_format=torch.channels_last)
        self._serving = fused_for_inference(self.net)
        self.image_size = image_size
        self.temperature = temperature
        """Logits are divided by it before the softmax (calibration, see model.calibration)."""
        # Decoding runs in parallel (Pillow releases the GIL): a batch in `decode`'s own threads,
        # and concurrent callers in theirs; forward passes take turns, each with all of torch's
        # threads, instead of oversubscribing the cores.
        self._forward = threading.Lock()

    @classmethod
    def load(cls, folder: Path) -> "StylePredictor":
        config = json.loads((folder / CONFIG).read_text())
        if tuple(config["styles"]) != STYLES:
            raise ValueError(f"model styles {config['styles']} differ from {list(STYLES)}")
        net = StyleNet(
            widths=tuple(config["widths"]),
            stats=int(config.get("stats", 0)),
            stats_width=int(config.get("stats_width", 64)),
            branch_dropout=float(config.get("branch_dropout", 0.0)),
        )
        net.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        return cls(net, int(config["image_size"]), float(config.get("temperature", 1.0)))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.net.state_dict(), folder / WEIGHTS)
        config = {
            "styles": list(STYLES),
            "widths": list(self.net.widths),
            "stats": self.net.stats,
            "stats_width": self.net.stats_width,
            "branch_dropout": self.net.branch_dropout,
            "image_size": self.image_size,
            "temperature": self.temperature,
        }
        (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")

    def pixels(self, data: bytes, max_pixels: int) -> np.ndarray:
        """Decode untrusted bytes into the model's uint8 HWC input; raises ImageDecodeError."""
        return to_uint8_array(load_image(data, max_pixels=max_pixels, draft_size=self.image_size), self.image_size)

    @staticmethod
    def tensor(batch_hwc: np.ndarray) -> torch.Tensor:
        """uint8 NHWC pixels to the normalised, channels-last input tensor."""
        return torch.from_numpy(normalize(batch_hwc)).contiguous(memory_format=torch.channels_last)

    def probabilities(self, batch_hwc: np.ndarray) -> np.ndarray:
        """Forward passes over uint8 NHWC pixels, FORWARD_CHUNK images at a time (activations of
        that many stay in the CPU's caches: 1.7x the rate of one pass over 64, measured in
        bench.model_throughput); returns N x len(STYLES) probabilities."""
        if len(batch_hwc) == 0:
            return np.zeros((0, len(STYLES)), dtype=np.float32)
        with self._forward, torch.inference_mode():
            logits = torch.cat(
                [
                    self._serving(self.tensor(batch_hwc[i : i + FORWARD_CHUNK]))
                    for i in range(0, len(batch_hwc), FORWARD_CHUNK)
                ]
            )
            return torch.softmax(logits.float() / self.temperature, dim=1).numpy()

    def predict(self, items: Sequence[bytes], max_pixels: int = 40_000_000) -> list[StyleResult | ImageDecodeError]:
        """Per item, a result or the decode error that names what is wrong with that image."""
        return self.predict_decoded(self.decode(items, max_pixels))

    def decode(self, items: Sequence[bytes], max_pixels: int) -> list[np.ndarray | ImageDecodeError]:
        """Per item, its pixels at this model's input size or the error that names what is wrong.

        Decodes in as many threads as torch runs the forward pass in (Pillow releases the GIL while
        it decodes), so a process that owns two cores decodes on both: 761 -> 991 img/s for a batch
        of 64 with 2 threads, side by side in one run. A worker child that owns one core
        decodes in its own thread, as before."""

        def one(data: bytes) -> np.ndarray | ImageDecodeError:
            try:
                return self.pixels(data, max_pixels)
            except ImageDecodeError as exc:
                return exc

        threads = min(torch.get_num_threads(), len(items))
        if threads <= 1:
            return [one(data) for data in items]
        pool = ThreadPoolExecutor(threads, thread_name_prefix="decode")
        try:
            return list(pool.map(one, items))
        finally:  # a task's time limit interrupts the wait: drop the images not yet started (the
            # one each thread is decoding finishes in the background, and is thrown away)
            pool.shutdown(wait=False, cancel_futures=True)

    def predict_decoded(self, decoded: Sequence[np.ndarray | ImageDecodeError]) -> list[StyleResult | ImageDecodeError]:
        """`predict` over what `decode` gave (another model of the same input size may reuse it)."""
        good = [d for d in decoded if isinstance(d, np.ndarray)]
        probs = iter(self.probabilities(np.stack(good)) if good else [])
        return [d if isinstance(d, ImageDecodeError) else to_result(next(probs)) for d in decoded]


def to_result(row: np.ndarray) -> StyleResult:
    probs = {style: round(float(p), 6) for style, p in zip(STYLES, row, strict=True)}
    return StyleResult(pred=STYLES[int(np.argmax(row))], probs=probs)
