"""Human reviews as labelled training data: FOLDER/<style>/<image id>.<ext>, the newest review wins."""

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.formats import BY_MEDIA_TYPE
from core.settings import Settings
from db.models import Image, StyleSource
from images.fetch import FetchError, fetch


def export(*, session: Session, folder: Path, settings: Settings) -> tuple[int, list[str]]:
    """Write every reviewed image under its reviewed style; return how many were written and the
    images whose bytes could not be fetched (with why)."""
    written, missing = 0, []
    rows = session.execute(
        select(Image.id, Image.style, Image.storage_ref, Image.content_type)
        .where(Image.style_source == StyleSource.REVIEW)
        .order_by(Image.id)
    )
    for image_id, style, ref, content_type in rows:
        try:
            data = fetch(ref, settings)
        except FetchError as exc:
            missing.append(f"image {image_id}: {exc.code}: {exc.message}")
            continue
        known = BY_MEDIA_TYPE.get(content_type or "")
        target = folder / str(style) / f"{image_id}.{known.extension if known else 'jpg'}"
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"*/{image_id}.*"):  # a re-review moves the file to its new style
            stale.unlink()
        target.write_bytes(data)
        written += 1
    return written, missing
