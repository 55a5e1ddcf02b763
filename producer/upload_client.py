"""The client side of `stylecat upload`: find image files, post them to the API."""

from collections.abc import Callable
from pathlib import Path

import httpx

from core.formats import SUFFIXES


def collect(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            files.append(path)
    return files


def upload_all(
    client: httpx.Client, files: list[Path], on_done: Callable[[], None], titles: bool = False
) -> tuple[list[int], list[tuple[Path, str]]]:
    """Post each file; with `titles`, its name without extension is sent as its public title."""
    accepted: list[int] = []
    rejected: list[tuple[Path, str]] = []
    for path in files:
        with path.open("rb") as handle:
            form = {"title": path.stem} if titles else None
            response = client.post("/images", files={"file": (path.name, handle)}, data=form)
        if response.status_code == 202:
            accepted.append(response.json()["id"])
        else:
            detail = response.json().get("error", response.text) if response.content else response.reason_phrase
            rejected.append((path, f"{response.status_code} {detail}"))
        on_done()
    return accepted, rejected
