"""Pinned packages from the registries, downloaded once into the cache and unpacked there.

npm packages arrive as `npm pack` tarballs, Debian packages as `.deb` files from `apt-get
download` (nothing is installed); node tools that render art (DiceBear, rough.js) are installed
with `npm install` into a folder of their own. A second build reads everything from the cache.
"""

import shutil
import subprocess
import tarfile
from pathlib import Path


class PackageError(RuntimeError):
    """A package could not be downloaded or unpacked; the message says which and why."""


def _run(command: list[str], cwd: Path) -> str:
    missing = shutil.which(command[0]) is None
    if missing:
        raise PackageError(f"{command[0]} is not installed (needed for: {' '.join(command)})")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise PackageError(f"{' '.join(command)} failed: {(done.stderr or done.stdout).strip()[-600:]}")
    return done.stdout


def npm_package(cache: Path, name: str, version: str) -> Path:
    """The unpacked `package/` folder of NAME@VERSION."""
    folder = cache / "npm" / f"{name.replace('/', '+')}@{version}"
    if not (folder / "package" / "package.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        tarball = _run(["npm", "pack", f"{name}@{version}", "--silent"], folder).strip().splitlines()[-1]
        with tarfile.open(folder / tarball) as archive:
            archive.extractall(folder, filter="data")
        (folder / tarball).unlink()
    return folder / "package"


def debian_package(cache: Path, name: str, version: str) -> Path:
    """The unpacked file tree of the Debian package NAME=VERSION (downloaded, not installed)."""
    folder = cache / "deb" / f"{name}_{version.replace(':', '%3a')}"
    tree = folder / "tree"
    if not tree.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        try:
            _run(["apt-get", "download", f"{name}={version}"], folder)
        except PackageError:  # the package lists may be missing or stale on a fresh machine
            _run(["apt-get", "update", "-qq"], folder)
            _run(["apt-get", "download", f"{name}={version}"], folder)
        deb = next(folder.glob("*.deb"))
        _run(["dpkg-deb", "-x", str(deb), str(folder / "tree.partial")], folder)
        (folder / "tree.partial").rename(tree)
        deb.unlink()
    return tree


def node_tools(cache: Path, packages: dict[str, str]) -> Path:
    """A folder with `node_modules/` holding exactly these npm packages (name -> version)."""
    key = "+".join(f"{name.replace('/', '_')}@{version}" for name, version in sorted(packages.items()))
    folder = cache / "node" / key
    if not (folder / "node_modules" / ".stylecat-complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private": true}\n')
        _run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                *[f"{name}@{version}" for name, version in packages.items()],
            ],
            folder,
        )
        (folder / "node_modules" / ".stylecat-complete").touch()
    return folder
