"""The served CNN: a model folder in, style probabilities out.

Shared by the worker's local backend, the MLflow pyfunc and the inference server, so that all of
them preprocess and predict in exactly one way. The network runs as its ONNX export
(:mod:`model.export`) in ONNX Runtime: a process that only predicts never imports torch (ONNX
Runtime imports and loads the champion in 0.15 s and 90 MiB, torch alone takes 1.4 s and 740 MiB
with the CUDA libraries of PyPI's wheel), and a forward pass is one call that releases the GIL
instead of ~200 torch calls that each win it back.
"""

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from core.styles import STYLES
from model.calibration import softmax
from model.folder import ONNX, read_config
from model.preprocess import ImageDecodeError, load_image, normalize, to_uint8_array

log = logging.getLogger(__name__)


def pass_size(threads: int) -> int:
    """Images per forward pass. The session keeps the memory of its largest pass: 4 images add
    13 MiB to a process, 8 add 33 MiB, 16 add 74 MiB. On one thread, as in a worker child, 4 images
    keep the child under 300 MiB at 0.96x the rate of 8; on more, 8 a thread (on two, 16 images run
    1.1x as fast as 8)."""
    return 4 if threads <= 1 else 8 * threads


@dataclass(frozen=True)
class StyleResult:
    pred: str
    probs: dict[str, float]

    def as_contract(self) -> dict[str, Any]:
        return {"pred": self.pred, "probs": self.probs}


class StylePredictor:
    """`threads`: the cores one forward pass runs on, and how many images `decode` decodes at once."""

    def __init__(self, onnx: bytes, image_size: int, temperature: float = 1.0, threads: int = 1) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that spin between passes would take the cores from decoding and the database.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        self.image_size = image_size
        self.temperature = temperature
        """Logits are divided by it before the softmax (calibration, see model.calibration)."""
        self.threads = threads
        # Decoding runs in parallel (Pillow releases the GIL): a batch in `decode`'s own threads,
        # and concurrent callers in theirs; forward passes take turns, each with all of the
        # session's threads, instead of oversubscribing the cores.
        self._forward = threading.Lock()

    @classmethod
    def load(cls, folder: Path, threads: int = 1) -> "StylePredictor":
        """The model in `folder`; a folder saved before the ONNX export existed (weights and config
        only) is exported in memory first, which imports torch and takes seconds."""
        config = read_config(folder)
        image_size = int(config["image_size"])
        if (folder / ONNX).exists():
            onnx = (folder / ONNX).read_bytes()
        else:
            try:
                from model.export import load_net, onnx_bytes
            except ImportError as exc:  # the inference image installs no torch
                raise ValueError(
                    f"{folder} has no {ONNX}, and exporting its weights needs torch "
                    f"(pip install 'stylecat[training]'); versions registered since the export exist "
                    f"carry it: {exc}"
                ) from exc
            log.warning("%s has no %s: exporting its weights (a version registered since carries it)", folder, ONNX)
            onnx = onnx_bytes(load_net(folder)[0], image_size)
        return cls(onnx, image_size, float(config.get("temperature", 1.0)), threads)

    def pixels(self, data: bytes, max_pixels: int) -> np.ndarray:
        """Decode untrusted bytes into the model's uint8 HWC input; raises ImageDecodeError."""
        return to_uint8_array(load_image(data, max_pixels=max_pixels, draft_size=self.image_size), self.image_size)

    def probabilities(self, batch_hwc: np.ndarray) -> np.ndarray:
        """Forward passes over uint8 NHWC pixels, `pass_size` images at a time (their
        activations stay in the CPU's caches); returns N x len(STYLES) probabilities."""
        if len(batch_hwc) == 0:
            return np.zeros((0, len(STYLES)), dtype=np.float32)
        chunk = pass_size(self.threads)
        with self._forward:
            logits = np.concatenate(
                [
                    self._session.run(None, {"pixels": normalize(batch_hwc[i : i + chunk])})[0]
                    for i in range(0, len(batch_hwc), chunk)
                ]
            )
        return softmax(logits, self.temperature)

    def predict(self, items: Sequence[bytes], max_pixels: int = 40_000_000) -> list[StyleResult | ImageDecodeError]:
        """Per item, a result or the decode error that names what is wrong with that image."""
        return self.predict_decoded(self.decode(items, max_pixels))

    def decode(self, items: Sequence[bytes], max_pixels: int) -> list[np.ndarray | ImageDecodeError]:
        """Per item, its pixels at this model's input size or the error that names what is wrong.

        Decodes in as many threads as the forward pass runs in (Pillow releases the GIL while it
        decodes), so a process that owns two cores decodes on both: 761 -> 991 img/s for a batch
        of 64 with 2 threads, side by side in one run. A worker child that owns one core
        decodes in its own thread, as before."""

        def one(data: bytes) -> np.ndarray | ImageDecodeError:
            try:
                return self.pixels(data, max_pixels)
            except ImageDecodeError as exc:
                return exc

        threads = min(self.threads, len(items))
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
