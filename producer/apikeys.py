"""API keys: issue, verify, list and revoke. Keys are random 256-bit secrets, so one SHA-256 is a
safe way to store them (no salt or slow hash is needed for secrets nobody chose)."""

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.models import ApiKey, Scope
from db.session import session_scope

PREFIX = "sc_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, session: Session, name: str, scopes: Sequence[Scope]) -> tuple[ApiKey, str]:
    """Store a new key's hash; return the row and the key itself, which is never stored."""
    if not scopes:
        raise ValueError("a key needs at least one scope")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, key_hash=_hash(key), scopes=sorted({Scope(s).value for s in scopes}))
    session.add(row)
    session.flush()
    return row, key


def issue_key(name: str, scopes: Sequence[Scope] = tuple(Scope)) -> str:
    """Create a key in a transaction of its own and return it (the demo, benchmarks and tests)."""
    with session_scope() as session:
        return create_key(session=session, name=name, scopes=scopes)[1]


def authenticate(*, session: Session, key: str) -> ApiKey | None:
    """The live (unrevoked) key row for `key`, or None."""
    if not key.startswith(PREFIX) or len(key) > 100:
        return None
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key), ApiKey.revoked_at.is_(None)))


def list_keys(*, session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(*, session: Session, key_id: int) -> bool:
    """Revoke a key from now on; False if there is no such live key."""
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
