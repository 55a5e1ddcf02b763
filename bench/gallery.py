"""The web gallery's server time at catalogue size: N categorized images indexed through the
project's indexer, then the gallery's first page and a filtered deep page rendered by the API
in-process (routing, the search, the template; the thumbnails are requests of their own).

    .venv/bin/python -m bench.gallery [--images 10000] [--runs 50]   (needs `stylecat stack up`)

Ends with one JSON line: p50 and p95 of each page in milliseconds.
"""

import argparse
import json
import time

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert

from bench.harness import bench_environment
from core.styles import STYLES

PAGES = {"first_page": "/", "filtered_page_20": "/?style=flat&style=3d&min_confidence=0.5&page=20"}


def catalogue(n: int) -> None:
    from db.models import Image
    from db.session import session_scope

    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        style = STYLES[i % len(STYLES)]
        confidence = float(rng.uniform(0.4, 1.0))
        rest = (1 - confidence) / 3
        rows.append(
            {
                "storage_ref": "local:00/" + "0" * 64 + ".png",
                "title": f"illustration {i}",
                "status": "categorized",
                "style": style,
                "style_probs": {name: confidence if name == style else rest for name in STYLES},
                "confidence": confidence,
                "model_name": "style-cnn",
                "model_version": "2",
                "style_source": "model",
            }
        )
    with session_scope() as session:
        session.execute(insert(Image), rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    bench_environment()
    from core.settings import get_settings
    from db.session import session_scope
    from search.client import get_client
    from search.indexer import index_pending
    from stylecat.api import app

    catalogue(args.images)
    alias = get_settings().opensearch_index
    index_pending(session_factory=session_scope, client=get_client(), alias=alias)
    get_client().indices.refresh(index=alias)
    client = TestClient(app)
    figures: dict[str, object] = {"bench": "gallery", "images": args.images}
    for name, url in PAGES.items():
        assert client.get(url).status_code == 200  # warm: connections, templates, caches
        seconds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            answer = client.get(url)
            seconds.append(time.perf_counter() - started)
            assert answer.status_code == 200 and "grid" in answer.text
        ms = np.array(seconds) * 1000
        figures[f"{name}_p50_ms"] = round(float(np.percentile(ms, 50)), 1)
        figures[f"{name}_p95_ms"] = round(float(np.percentile(ms, 95)), 1)
        print(f"{url}: p50 {figures[f'{name}_p50_ms']} ms, p95 {figures[f'{name}_p95_ms']} ms over {args.runs}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
