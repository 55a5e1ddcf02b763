"""A small catalogue for the web interface's tests: stored generated illustrations of every style,
categorized through the domain functions (no worker needed) and indexed; and a history of served
predictions at given times, for drift."""

import hashlib
from datetime import datetime

from sqlalchemy import insert

from core.settings import Settings
from core.styles import STYLES
from db.models import Image, StylePrediction
from db.session import session_scope
from db.writes import ModelRef, Prediction, claim, record_predictions
from images.storage import store
from search.client import get_client
from search.indexer import index_pending
from tests.factories import illustration, image_row

MODEL = ModelRef(name="style-cnn", version="2", backend="local")


def probabilities(style: str, confidence: float) -> dict[str, float]:
    rest = (1 - confidence) / (len(STYLES) - 1)
    return {name: confidence if name == style else rest for name in STYLES}


def seeded_catalogue(settings: Settings, per_style: int = 4) -> dict[int, str]:
    """`per_style` categorized images of each style (the generator's own label), indexed; id → style."""
    client = get_client()
    for name in client.indices.get(index=f"{settings.opensearch_index}*"):
        client.indices.delete(index=name)
    made: dict[int, str] = {}
    wanted = dict.fromkeys(STYLES, per_style)
    index = 0
    with session_scope() as session:
        while any(wanted.values()):
            data, style = illustration(index, seed=404)
            index += 1
            if not wanted[style]:
                continue
            wanted[style] -= 1
            ref = store(data, sha256=hashlib.sha256(data).hexdigest(), extension="png", content_type="image/png")
            made[image_row(session, ref, title=f"{style} sample {len(made)}")] = style
    with session_scope() as session:
        claim(session=session, image_ids=list(made), model=MODEL, max_attempts=5)
        record_predictions(
            session=session,
            model=MODEL,
            predictions=[
                Prediction(image_id, style, probabilities(style, 0.55 + 0.4 * (image_id % 5) / 4))
                for image_id, style in made.items()
            ],
        )
    index_pending(session_factory=session_scope, client=client, alias=settings.opensearch_index)
    client.indices.refresh(index=settings.opensearch_index)
    return made


def served_history(styles: list[str], at: datetime, brightness: float = 0.8) -> None:
    """Served predictions by version 2 made at `at`, one new image each (not indexed)."""
    with session_scope() as session:
        ids = session.scalars(
            insert(Image).returning(Image.id),
            [
                {
                    "storage_ref": "local:x",
                    "status": "categorized",
                    "style": style,
                    "width": 512,
                    "height": 512,
                    "brightness": brightness,
                    "colourfulness": 0.3,
                }
                for style in styles
            ],
        ).all()
        session.execute(
            insert(StylePrediction),
            [
                {
                    "image_id": image_id,
                    "model_name": MODEL.name,
                    "model_version": MODEL.version,
                    "role": "served",
                    "backend": "local",
                    "style": style,
                    "probs": probabilities(style, 0.9),
                    "confidence": 0.9,
                    "created_at": at,
                }
                for image_id, style in zip(ids, styles, strict=True)
            ],
        )
