"""Which images the challenger sees: a share of ids for the canary (it serves them) and, among the
others, a share for the shadow (it predicts beside the champion, and nothing uses it).

The choice is a hash of the image id, so an image is in or out for good (a re-run, a retry or a
backfill puts it on the same side), and raising a fraction only adds images.
"""

from collections.abc import Iterable

from core.shares import share
from db.models import PredictionRole


def challenger_roles(image_ids: Iterable[int], *, shadow: float, canary: float) -> dict[int, PredictionRole]:
    """The challenger's role per image that gets one (`canary` or `shadow`); the others are absent."""
    roles: dict[int, PredictionRole] = {}
    for image_id in image_ids:
        if share(image_id, "canary") < canary:
            roles[image_id] = PredictionRole.CANARY
        elif share(image_id, "shadow") < shadow:
            roles[image_id] = PredictionRole.SHADOW
    return roles
