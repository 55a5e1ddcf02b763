"""Small factories for images and rows."""

import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import StylePrediction
from db.session import session_scope
from db.writes import NewImage, create_image
from model import synthetic
from model.registry import SHIPPED

CHAMPION = str(len(SHIPPED))
"""The champion's version on a fresh registry: the shipped weights are versions 1..n, the newest the champion."""
FIRST_TRAINED, SECOND_TRAINED = str(len(SHIPPED) + 1), str(len(SHIPPED) + 2)
"""The versions a test's first and second trained models get on a fresh registry."""

PROBS = {
    "3d": {"3d": 0.91, "flat": 0.03, "hand_drawn": 0.03, "line_art": 0.03},
    "flat": {"3d": 0.02, "flat": 0.94, "hand_drawn": 0.02, "line_art": 0.02},
    "hand_drawn": {"3d": 0.01, "flat": 0.03, "hand_drawn": 0.95, "line_art": 0.01},
    "line_art": {"3d": 0.05, "flat": 0.05, "hand_drawn": 0.1, "line_art": 0.8},
}


def encode(image: PILImage.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def plain_png(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    return encode(PILImage.new("RGB", size, color))


def illustration(index: int, seed: int = 77) -> tuple[bytes, str]:
    """A generated illustration of known style, encoded as the generator encodes it."""
    image, style = synthetic.sample(index, seed)
    return synthetic.encode(image, np.random.default_rng([seed, index, 1])), style


def labelled_folder(folder: Path, n: int, seed: int, sources: int = 1) -> Path:
    """`folder/<style>/<source>--<i>.<ext>` with `n` generated illustrations, `sources` per style."""
    for index in range(n):
        data, style = illustration(index, seed)
        (folder / style).mkdir(parents=True, exist_ok=True)
        (folder / style / f"{style}{index % sources}--{index}.png").write_bytes(data)
    return folder


def image_row(session: Session, ref: str = "local:00/" + "0" * 64 + ".png", title: str | None = None) -> int:
    return create_image(session=session, image=NewImage(storage_ref=ref, title=title))


def history_by_role(ids: list[int]) -> dict[int, dict[str, tuple[str, str]]]:
    """Each image's prediction history: role -> (model version, style)."""
    found: dict[int, dict[str, tuple[str, str]]] = {}
    with session_scope() as session:
        for row in session.scalars(select(StylePrediction).where(StylePrediction.image_id.in_(ids))):
            found.setdefault(row.image_id, {})[row.role] = (row.model_version, row.style)
    return found
