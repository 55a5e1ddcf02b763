"""The layering the README draws: each package imports only from layers below it (no cycle, no
import that runs back up), and naming a queue does not build the Celery app."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parent.parent
LAYERS = {
    "core": 1,
    "db": 2,
    "images": 2,
    "migrations": 3,
    "model": 3,
    "search": 3,
    "worker": 4,
    "inference": 4,
    "producer": 5,
    "stylecat": 6,
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):  # lazy imports inside functions count too
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


def test_every_package_imports_only_from_the_layers_below() -> None:
    wrong = []
    for package, layer in LAYERS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in _imports(path) - {package}:
                if LAYERS[imported] >= layer:
                    wrong.append(f"{path.relative_to(ROOT)} imports {imported} (layer {LAYERS[imported]} >= {layer})")
    assert wrong == []


def test_naming_a_queue_does_not_build_the_celery_app() -> None:
    code = "import sys, core.queues; print('celery' in sys.modules, 'worker.app' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_public_surface_of_the_api_package_is_its_app() -> None:
    import stylecat.api

    assert stylecat.api.__all__ == ["app"] and all(hasattr(stylecat.api, name) for name in stylecat.api.__all__)
