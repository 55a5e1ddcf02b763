"""Contact sheets: a grid of one source's images, to look at before trusting its label."""

from pathlib import Path

from PIL import Image

from model.dataset import folder_files, source_of

CELL = 120


def contact_sheets(folder: Path, out: Path, per_sheet: int = 48) -> list[Path]:
    """Write `out/<source>.png` for every source in the labelled `folder`; returns the paths."""
    by_source: dict[str, list[Path]] = {}
    for path, _ in folder_files(folder):
        by_source.setdefault(source_of(path), []).append(path)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source, paths in sorted(by_source.items()):
        chosen = paths[:: max(1, len(paths) // per_sheet)][:per_sheet]
        columns = 8
        rows = (len(chosen) + columns - 1) // columns
        sheet = Image.new("RGB", (columns * CELL, rows * CELL), (128, 128, 128))
        for i, path in enumerate(chosen):
            with Image.open(path) as image:
                thumb = image.convert("RGB")
                thumb.thumbnail((CELL - 4, CELL - 4))
                sheet.paste(thumb, ((i % columns) * CELL + 2, (i // columns) * CELL + 2))
        target = out / f"{source}.png"
        sheet.save(target)
        written.append(target)
    return written
