"""A corpus of hostile and unusual images through the real API and a real worker: each ends as a
clear 4xx at upload, `failed` with a code, or categorized; none crashes the API or the worker.
Bytes the API refuses are also put in the store directly (as an old catalogue might hold them) and
backfilled, so the worker meets them too."""

import hashlib
import io
import zipfile
from pathlib import Path

import httpx
import numpy as np
from PIL import Image as PILImage
from sqlalchemy import select

from core.settings import Settings
from db.models import Image
from db.session import session_scope
from images.storage import store
from model.preprocess import load_image
from tests.factories import encode, illustration, image_row
from tests.faults import end_state, pipeline
from tests.processes import api_answers
from worker.dispatch import enqueue_batch

PICTURE, _ = illustration(5, seed=8)
BASE = PILImage.open(io.BytesIO(PICTURE)).convert("RGB")
JPEG = encode(BASE, "JPEG", quality=90)
PNG = encode(BASE, "PNG")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def _exif_rotated() -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    return encode(BASE.resize((200, 120)), "JPEG", exif=exif)


def _animated(fmt: str) -> bytes:
    frames = [BASE.rotate(angle) for angle in (0, 90, 180)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _palette_with_transparency() -> bytes:
    image = BASE.convert("P", palette=PILImage.Palette.ADAPTIVE, colors=32)
    return encode(image, "PNG", transparency=0)


# name: (bytes, outcome): ("refused", HTTP status, code) | ("failed", code) | ("categorized",)
CORPUS: dict[str, tuple[bytes, tuple[object, ...]]] = {
    "zero bytes": (b"", ("refused", 422, "empty")),
    "text renamed to .jpg": (b"hello, this is plain text\n" * 20, ("refused", 415, "not_an_image")),
    "html renamed to .jpg": (
        b"<!doctype html><html><script>alert(1)</script></html>",
        ("refused", 415, "not_an_image"),
    ),
    "svg with script": (
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        ("refused", 415, "unsupported_format"),
    ),
    "truncated jpeg": (JPEG[: len(JPEG) // 2], ("failed", "truncated")),
    "truncated png": (PNG[: len(PNG) // 2], ("failed", "truncated")),
    "png decompression bomb": (encode(PILImage.new("1", (12000, 12000)), "PNG"), ("refused", 422, "too_many_pixels")),
    "1x100000 strip": (encode(PILImage.new("L", (1, 100_000), 128), "PNG"), ("refused", 422, "bad_dimensions")),
    "gif header then html": (b"GIF89a<html><script>alert(1)</script></html>", ("refused", 422, "truncated")),
    "16-bit png": (
        encode(PILImage.fromarray(np.asarray(BASE.convert("L"), dtype=np.uint16) * 257), "PNG"),
        ("categorized",),
    ),
    "cmyk jpeg": (encode(BASE.convert("CMYK"), "JPEG"), ("categorized",)),
    "palette with transparency": (_palette_with_transparency(), ("categorized",)),
    "animated gif": (_animated("GIF"), ("categorized",)),
    "animated webp": (_animated("WEBP"), ("categorized",)),
    "exif rotation": (_exif_rotated(), ("categorized",)),
    "polyglot png + html + zip": (PNG + b"<html><script>alert(1)</script></html>" + _zip(), ("categorized",)),
}


def test_every_hostile_image_ends_as_a_4xx_a_failure_with_a_code_or_categorized(
    settings: Settings, clean_tables: None, tmp_path: Path, auth: dict[str, str]
) -> None:
    failed_codes: dict[int, str] = {}
    uploaded: list[int] = []
    stored_directly: list[int] = []
    with pipeline(tmp_path) as running, httpx.Client(base_url=running.api(), timeout=30, headers=auth) as client:
        worker = running.worker("live", "categorize.live,index")
        running.worker("backfill", "categorize.backfill")
        for name, (data, outcome) in CORPUS.items():
            response = client.post("/images", files={"file": (f"{name}.jpg", data, "image/jpeg")}, data={"title": name})
            if outcome[0] == "refused":
                assert (response.status_code, response.json()["error"]["code"]) == outcome[1:], name
                ref = store(
                    data,
                    sha256=hashlib.sha256(data).hexdigest(),
                    extension="jpg",
                    content_type="image/jpeg",
                    settings=settings,
                )
                with session_scope() as session:
                    stored_directly.append(image_row(session, ref, title=name))
                failed_codes[stored_directly[-1]] = str(outcome[2])
                continue
            assert response.status_code == 202, (name, response.text)
            uploaded.append(response.json()["id"])
            if outcome[0] == "failed":
                failed_codes[uploaded[-1]] = str(outcome[1])
        enqueue_batch(stored_directly, "backfill")
        end_state(uploaded + stored_directly, failed_codes=failed_codes, timeout=180)
        assert worker.popen.poll() is None and api_answers(running.base), "the worker and the API kept running"

    with session_scope() as session:
        rows = {row.title: row for row in session.scalars(select(Image).where(Image.id.in_(uploaded)))}
    polyglot = rows["polyglot png + html + zip"]
    assert polyglot.storage_ref.endswith(".png") and polyglot.content_type == "image/png", "typed by content"


def test_exif_rotation_is_applied_before_the_model_sees_the_image() -> None:
    assert load_image(_exif_rotated()).size == (120, 200)
