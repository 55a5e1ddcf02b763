"""Stable shares of ids: where an id falls in [0, 1) for one purpose (which images the challenger
sees, which reviews are held out), the same on every machine and run."""

import hashlib


def share(key: int, salt: str) -> float:
    """Uniform over keys, and independent across salts."""
    digest = hashlib.blake2b(f"{salt}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
