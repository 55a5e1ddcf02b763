"""Each kind of source as a list of artworks: SVG markup or a raster image, with its original name.

`iconify` reads an @iconify-json set's `icons.json`; `files` globs SVG or PNG files in a package
tree; `dicebear` and `sketch` run the node scripts in `js/`; `povray` renders stylecat's own
scenes (`model/corpus/povray.py`). Choices are seeded, so the same seed picks the same art.
"""

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from model.corpus import povray
from model.corpus.packages import PackageError, debian_package, node_tools, npm_package
from model.corpus.sources import Source

JS = Path(__file__).with_name("js")
T = TypeVar("T")


@dataclass(frozen=True)
class Art:
    original: str
    """Where it came from inside its package (a path, an icon name, a seed)."""
    svg: str | None = None
    image: Image.Image | None = None
    scene: int | None = None
    """`povray`: the scene's seed; rendered where the builder materialises the art."""

    @property
    def framed(self) -> bool:
        """A full picture with its own background (a rendered scene), not art to place on one."""
        return self.scene is not None

    def drawing(self) -> "str | Image.Image":
        """The SVG markup or the RGBA image (a POV-Ray scene is rendered here, 192-384 px)."""
        if self.scene is not None:
            return povray.render(self.scene, size=192 + self.scene % 193)
        if self.svg is not None:
            return self.svg
        assert self.image is not None
        return self.image

    @property
    def monochrome(self) -> bool:
        """Drawn in `currentColor`: the builder picks the ink against the background."""
        return self.svg is not None and "currentColor" in self.svg


def _keep(name: str, rules: tuple[str, ...]) -> bool:
    required = [rule[1:] for rule in rules if rule.startswith("+")]
    skipped = [rule for rule in rules if not rule.startswith("+")]
    return all(name.endswith(r) for r in required) and not any(name.endswith(s) for s in skipped)


def iconify_icons(cache: Path, package: str, version: str, rules: tuple[str, ...]) -> list[dict[str, object]]:
    """The set's icons (name, body, width, height) that the suffix `rules` keep, aliases excluded."""
    data = json.loads((npm_package(cache, package, version) / "icons.json").read_text())
    width, height = data.get("width", 16), data.get("height", 16)
    return [
        {"name": name, "body": icon["body"], "width": icon.get("width", width), "height": icon.get("height", height)}
        for name, icon in sorted(data["icons"].items())
        if not icon.get("hidden") and _keep(name, rules)
    ]


def _svg(icon: dict[str, object]) -> str:
    w, h = icon["width"], icon["height"]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}">{icon["body"]}</svg>'
    )


def _choose(items: list[T], n: int, rng: np.random.Generator) -> list[T]:
    return [items[i] for i in sorted(rng.permutation(len(items))[:n])]


def _node(folder: Path, script: str, args: list[str], stdin: str = "") -> list[dict[str, str]]:
    done = subprocess.run(
        ["node", str(JS / script), *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "NODE_PATH": str(folder / "node_modules")},
    )
    if done.returncode != 0:
        raise PackageError(f"node {script} {' '.join(args)} failed: {done.stderr.strip()[-600:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _files(source: Source, cache: Path, n: int, rng: np.random.Generator) -> Iterator[Art]:
    tree = debian_package(cache, source.package, source.version)
    seen: set[str] = set()
    unique: list[Path] = []
    for path in sorted({p for pattern in source.paths for p in tree.glob(pattern) if p.is_file()}):
        digest = hashlib.md5(path.read_bytes()).hexdigest()  # themes link one drawing under many names
        if digest not in seen:
            seen.add(digest)
            unique.append(path)
    for path in _choose(unique, n, rng):
        original = str(path.relative_to(tree))
        if path.suffix == ".svg":
            yield Art(original, svg=path.read_text(errors="replace"))
        else:
            yield Art(original, image=Image.open(path).convert("RGBA"))


def artworks(source: Source, cache: Path, n: int, seed: int) -> Iterator[Art]:
    """Up to `n` artworks of `source`, chosen with `seed`."""
    if source.reserved:
        raise ValueError(f"source {source.name} names an art family reserved for independent evaluation")
    rng = np.random.default_rng([seed, int(hashlib.sha256(source.name.encode()).hexdigest()[:8], 16)])
    if source.kind == "files":
        yield from _files(source, cache, n, rng)
    elif source.kind == "iconify":
        for icon in _choose(iconify_icons(cache, source.package, source.version, source.paths), n, rng):
            yield Art(str(icon["name"]), svg=_svg(icon))
    elif source.kind == "dicebear":
        style = source.package.removeprefix("@dicebear/")
        folder = node_tools(cache, {"@dicebear/core": source.version, source.package: source.version})
        for item in _node(folder, "dicebear.js", [style, str(n), str(seed)]):
            yield Art(item["name"], svg=item["svg"])
    elif source.kind == "sketch":
        icons = [
            icon for package, version in source.bases for icon in iconify_icons(cache, package, version, source.paths)
        ]
        folder = node_tools(cache, source.tools)
        chosen = _choose(icons, n, rng)
        mode = "pen" if source.package == "perfect-freehand" else "rough"
        for item in _node(folder, "sketch.js", [mode, str(seed)], json.dumps(chosen)):
            yield Art(item["name"], svg=item["svg"])
    elif source.kind == "povray":
        for index in range(n):
            yield Art(f"scene-{seed}-{index}", scene=seed * 100_003 + index)
