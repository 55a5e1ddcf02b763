"""Training and evaluation data as uint8 pixels, through the production preprocessing path.

Two sources: the seeded synthetic generator (every image is encoded to JPEG/PNG and decoded again,
so training sees compression artefacts as production does), and a labelled folder
`DIR/<style>/*.<any format of core/formats.py>` — the real corpus (`stylecat dataset build`), or human reviews
exported by `stylecat reviews export`. A file named `<source>--<name>.<ext>` belongs to that source
(the corpus names its files so); leave-source-out evaluation groups by it.
"""

import hashlib
import multiprocessing
import multiprocessing.pool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.formats import SUFFIXES
from core.styles import STYLES
from model import synthetic
from model.preprocess import ImageDecodeError, load_image, to_uint8_array

TEST_SEED = 2_000_003
"""The held-out split's seed; training refuses it, so evaluation never sees training images."""
SOURCE_SEPARATOR = "--"
UNNAMED_SOURCE = "unnamed"


class DatasetError(ValueError):
    """A data source that cannot be used as it is; the message says why."""


def _pool(workers: int) -> multiprocessing.pool.Pool:
    """Worker processes started from a fresh server process, not forked from this one: a process that
    predicts holds ONNX Runtime's threads, and a child forked while another thread holds a lock
    waits for it forever (seen here: a pool forked after a 2-thread session hung)."""
    return multiprocessing.get_context("forkserver").Pool(workers)


def _synthetic_one(job: tuple[int, int, int]) -> np.ndarray:
    index, seed, size = job
    image, _ = synthetic.sample(index, seed)
    data = synthetic.encode(image, np.random.default_rng([seed, index, 1]))
    return to_uint8_array(load_image(data, draft_size=size), size)


def synthetic_split(n: int, seed: int, size: int, workers: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """`n` generated images (NHWC uint8) and their labels; the same (n, seed, size) gives the same data."""
    jobs = [(i, seed, size) for i in range(n)]
    if workers > 1:
        with _pool(workers) as pool:
            pixels = pool.map(_synthetic_one, jobs, chunksize=32)
    else:
        pixels = [_synthetic_one(job) for job in jobs]
    labels = np.array([STYLES.index(synthetic.style_of(i, seed)) for i in range(n)], dtype=np.int64)
    return np.stack(pixels), labels


def folder_files(folder: Path) -> list[tuple[Path, int]]:
    """(file, label) for DIR/<style>/*; unknown class folders are an error, not silently skipped."""
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [name for name in classes if name not in STYLES]
    if unknown:
        raise DatasetError(f"unknown class folder(s) {unknown} in {folder}: expected only {list(STYLES)}")
    files = [
        (path, STYLES.index(style))
        for style in classes
        for path in sorted((folder / style).iterdir())
        if path.suffix.lower() in SUFFIXES
    ]
    if not files:
        raise DatasetError(f"no images under {folder}/<style>/ (expected {sorted(SUFFIXES)})")
    return files


def folder_split(folder: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Pixels and labels of a labelled folder, and the files that could not be decoded (skipped)."""
    pixels, labels, skipped = [], [], []
    for path, label in folder_files(folder):
        try:
            pixels.append(to_uint8_array(load_image(path.read_bytes(), draft_size=size), size))
            labels.append(label)
        except ImageDecodeError as exc:
            skipped.append(f"{path}: {exc.code}")
    if not pixels:
        raise DatasetError(f"none of the images under {folder} could be decoded")
    return np.stack(pixels), np.array(labels, dtype=np.int64), skipped


def source_of(path: Path) -> str:
    """The source a labelled file belongs to: the part of its name before `--`."""
    head, separator, _ = path.stem.partition(SOURCE_SEPARATOR)
    return head if separator else UNNAMED_SOURCE


@dataclass(frozen=True)
class LabelledPixels:
    """A labelled folder decoded at one size: pixels (NHWC uint8), labels, and each image's source."""

    pixels: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    skipped: list[str]


def _decode_one(job: tuple[Path, int]) -> np.ndarray | str:
    path, size = job
    try:
        return to_uint8_array(load_image(path.read_bytes(), draft_size=size), size)
    except ImageDecodeError as exc:
        return f"{path}: {exc.code}"


def labelled_pixels(folder: Path, size: int, workers: int = 2) -> LabelledPixels:
    """Decode a labelled folder through the production path, in `workers` processes, and keep the
    result in `folder/.cache/` keyed by the file list and sizes, so a second run starts at once."""
    files = folder_files(folder)
    key = hashlib.sha256(
        repr([(str(p.relative_to(folder)), p.stat().st_size, label) for p, label in files]).encode()
    ).hexdigest()[:16]
    cache = folder / ".cache" / f"pixels-{size}-{key}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return LabelledPixels(stored["pixels"], stored["labels"], stored["sources"], list(stored["skipped"]))
    jobs = [(path, size) for path, _ in files]
    with _pool(workers) as pool:
        decoded = pool.map(_decode_one, jobs, chunksize=64)
    keep = [i for i, item in enumerate(decoded) if isinstance(item, np.ndarray)]
    skipped = [item for item in decoded if isinstance(item, str)]
    if not keep:
        raise DatasetError(f"none of the images under {folder} could be decoded")
    result = LabelledPixels(
        pixels=np.stack([decoded[i] for i in keep]),
        labels=np.array([files[i][1] for i in keep], dtype=np.int64),
        sources=np.array([source_of(files[i][0]) for i in keep]),
        skipped=skipped,
    )
    cache.parent.mkdir(exist_ok=True)
    np.savez(
        cache, pixels=result.pixels, labels=result.labels, sources=result.sources, skipped=np.array(skipped, dtype=str)
    )
    return result
