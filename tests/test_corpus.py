"""The real-art corpus: sources that never name a reserved family, renders as uploads look, a build
from the registries' packages (npm here) and our own POV-Ray scenes, with manifest and credits."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.settings import get_settings
from core.styles import STYLES
from model.corpus import povray, render
from model.corpus.build import ATTRIBUTION, MANIFEST, CorpusError, build
from model.corpus.sheets import contact_sheets
from model.corpus.sources import RESERVED, SOURCES, Source, by_name
from model.dataset import folder_files, labelled_pixels, source_of

pytestmark = pytest.mark.unit


def test_every_class_has_several_sources_and_none_is_reserved() -> None:
    assert len({s.name for s in SOURCES}) == len(SOURCES)
    for style in STYLES:
        assert len([s for s in SOURCES if s.style == style]) >= 4, style
    assert not [s.name for s in SOURCES if s.reserved]
    for family in RESERVED:  # in any packaging: a scoped npm name, a variant, a Debian package
        # GNOME's own theme is reserved, not the themes drawn after it (gnome-icon-theme-<name>)
        variants = [] if family == "gnome-icon-theme" else [f"@someone/{family}-3d", f"fonts-{family}"]
        for package in (f"@iconify-json/{family}", family, *variants):
            assert Source("x", "flat", "iconify", package, "1", "MIT").reserved, package
    assert not Source("x", "3d", "files", "gnome-icon-theme-nuovo", "1", "GPL").reserved
    with pytest.raises(ValueError, match="unknown source"):
        by_name(["lucide", "no-such-set"])


def test_renders_look_like_uploads() -> None:
    rng = np.random.default_rng(3)
    wide = render.svg_to_image(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10">'
        '<rect width="20" height="10" fill="currentColor"/></svg>'.replace("currentColor", "#123456"),
        200,
    )
    assert wide.size == (200, 100) and wide.getpixel((100, 50)) == (0x12, 0x34, 0x56, 255)
    ground = (250, 240, 230)
    placed = render.place(wide, ground, rng)
    assert placed.width > 200 and placed.getpixel((0, 0)) == ground and placed.mode == "RGB"
    data, suffix = render.encode(placed, rng)
    assert Image.open(io.BytesIO(data)).format == {".png": "PNG", ".jpg": "JPEG"}[suffix]
    for seed in range(60):  # monochrome ink always reads against its ground
        r = np.random.default_rng(seed)
        g = render.background(r)
        colour = render.ink(g, r)
        ink = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        assert abs(sum(ink) - sum(g)) > 150, (g, colour)


def test_povray_scenes_are_3d_renders_and_deterministic() -> None:
    first, again = povray.render(7, size=64), povray.render(7, size=64)
    assert first.size == (64, 64) and first.tobytes() == again.tobytes()
    pixels = np.asarray(first, dtype=np.float32)
    assert pixels.std() > 10  # an object, shaded, not an empty ground


def test_build_writes_labelled_files_a_manifest_and_credits(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    sources = by_name(["lucide", "emojione", "rough", "povray"])
    written, failures = build(folder, sources, cache=get_settings().cache_dir, per_source=3, seed=5)
    assert written == 12 and failures == []
    files = folder_files(folder)
    assert sorted({source_of(path) for path, _ in files}) == ["emojione", "lucide", "povray", "rough"]
    with (folder / MANIFEST).open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 12 and {r["source"]: r["style"] for r in rows} == {
        "lucide": "line_art",
        "emojione": "flat",
        "rough": "hand_drawn",
        "povray": "3d",
    }
    assert all((folder / r["file"]).exists() and r["licence"] and r["version"] for r in rows)
    credits = (folder / ATTRIBUTION).read_text()
    assert "Emoji One" in credits and "CC-BY-4.0" in credits
    data = labelled_pixels(folder, 32, workers=1)
    assert data.pixels.shape == (12, 32, 32, 3) and sorted(set(data.sources)) == [
        "emojione",
        "lucide",
        "povray",
        "rough",
    ]
    assert [p.name for p in contact_sheets(folder, tmp_path / "sheets")] == [
        "emojione.png",
        "lucide.png",
        "povray.png",
        "rough.png",
    ]
    with pytest.raises(CorpusError, match="not empty"):
        build(folder, sources[:1], cache=get_settings().cache_dir, per_source=1, seed=5)
    again, _ = build(folder, sources[:1], cache=get_settings().cache_dir, per_source=2, seed=5, overwrite=True)
    assert again == 2 and len(folder_files(folder)) == 2
