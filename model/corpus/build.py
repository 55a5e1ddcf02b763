"""`stylecat dataset build DIR`: the corpus as a labelled folder, a manifest and an attribution file.

    DIR/<style>/<source>--<n>.<png|jpg>   the images (the trainer's and evaluator's folder layout)
    DIR/manifest.csv                      file, style, source, package, version, licence, original
    DIR/ATTRIBUTION.md                    credits, per source, for the licences that require them

Artworks are rendered as uploads look (`model.corpus.render`); the work is spread over processes.
"""

import csv
import multiprocessing
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from core.styles import STYLES
from model.corpus import render
from model.corpus.art import Art, artworks
from model.corpus.sources import Source
from model.dataset import SOURCE_SEPARATOR

MANIFEST = "manifest.csv"
ATTRIBUTION = "ATTRIBUTION.md"
COLUMNS = ("file", "style", "source", "package", "version", "licence", "original")


class CorpusError(RuntimeError):
    """The corpus cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class Job:
    source: Source
    index: int
    art: Art
    seed: int


def _materialise(job: Job) -> tuple[bytes, str]:
    rng = np.random.default_rng([job.seed, job.index, sum(map(ord, job.source.name))])
    drawing = job.art.drawing()
    if job.art.framed:
        assert isinstance(drawing, Image.Image)
        return render.encode(drawing, rng)
    ground = render.background(rng)
    if isinstance(drawing, str):
        if job.art.monochrome:
            drawing = drawing.replace("currentColor", render.ink(ground, rng))
        image: Image.Image = render.svg_to_image(drawing, render.upload_size(rng))
    else:
        image = drawing
    return render.encode(render.place(image, ground, rng), rng)


def _write(job: Job, folder: Path) -> tuple[str, ...] | str:
    try:
        data, suffix = _materialise(job)
    except Exception as exc:  # one broken drawing must not stop the build; it is reported
        return f"{job.source.name} {job.art.original}: {type(exc).__name__}: {exc}"
    name = f"{job.source.name}{SOURCE_SEPARATOR}{job.index:05d}{suffix}"
    (folder / job.source.style / name).write_bytes(data)
    s = job.source
    return (f"{s.style}/{name}", s.style, s.name, s.package, s.version, s.licence, job.art.original)


def _prepare(folder: Path, overwrite: bool) -> None:
    leftovers = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []
    if leftovers and not overwrite:
        raise CorpusError(f"{folder} is not empty; pass --overwrite to replace the corpus in it")
    for style in STYLES:
        shutil.rmtree(folder / style, ignore_errors=True)
        (folder / style).mkdir(parents=True)


def _attribution(sources: list[Source], counts: dict[str, int]) -> str:
    lines = [
        "# Attribution",
        "",
        "The images in this corpus are renders of the artworks below (re-drawn by a renderer where",
        "the source says so). Each is used under its licence; CC BY works require this credit.",
        "",
        "| source | style | images | artwork | package | licence |",
        "|---|---|---|---|---|---|",
    ]
    for s in sources:
        lines.append(
            f"| {s.name} | {s.style} | {counts.get(s.name, 0)} | {s.credit} | {s.package} {s.version} | {s.licence} |"
        )
    return "\n".join(lines) + "\n"


def build(
    folder: Path,
    sources: list[Source],
    *,
    cache: Path,
    per_source: int,
    seed: int,
    overwrite: bool = False,
    workers: int = 2,
) -> tuple[int, list[str]]:
    """Render up to `per_source` images of every source into `folder`; returns the number written
    and the artworks that could not be rendered."""
    _prepare(folder, overwrite)
    jobs = [
        Job(source, index, art, seed)
        for source in tqdm(sources, desc="collecting art", unit="source")
        for index, art in enumerate(artworks(source, cache, per_source, seed))
    ]
    rows: list[tuple[str, ...]] = []
    failures: list[str] = []
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.imap(_WriteInto(folder), jobs, chunksize=8)
        for result in tqdm(results, total=len(jobs), desc="rendering", unit="image"):
            if isinstance(result, str):
                failures.append(result)
            else:
                rows.append(result)
    with (folder / MANIFEST).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(sorted(rows))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[2]] = counts.get(row[2], 0) + 1
    (folder / ATTRIBUTION).write_text(_attribution(sources, counts))
    return len(rows), failures


class _WriteInto:
    """A picklable `job -> _write(job, folder)` for the process pool."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, job: Job) -> tuple[str, ...] | str:
        return _write(job, self.folder)
