"""Access control: uploads, registrations, reviews and the review queue need a live API key with
the right scope; search and health are public; keys are stored hashed; Flower needs basic auth."""

import hashlib
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from db.models import ApiKey, Scope
from db.session import session_scope
from producer.apikeys import create_key, revoke
from stylecat.api import app
from stylecat.cli import app as cli
from tests.factories import plain_png
from tests.processes import responds, serving


def _key(*scopes: Scope) -> str:
    with session_scope() as session:
        return create_key(session=session, name="access test", scopes=scopes)[1]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(clean_tables: None) -> TestClient:
    return TestClient(app)


@pytest.fixture
def image_id(api: TestClient, auth: dict[str, str]) -> int:
    response = api.post("/images", files={"file": ("a.png", plain_png(), "image/png")}, headers=auth)
    assert response.status_code == 202
    return int(response.json()["id"])


def _call(api: TestClient, route: str, image_id: int, headers: dict[str, str]) -> httpx.Response:
    if route == "upload":
        return api.post("/images", files={"file": ("b.png", plain_png(), "image/png")}, headers=headers)
    if route == "register":
        return api.post("/images/register", json={"source": "s3://illustrations/cats/x.png"}, headers=headers)
    if route == "review queue":
        return api.get("/reviews/queue", headers=headers)
    return api.post(f"/images/{image_id}/review", json={"style": "flat", "reviewer": "ana"}, headers=headers)


ROUTES = {"upload": Scope.UPLOAD, "register": Scope.UPLOAD, "review": Scope.REVIEW, "review queue": Scope.REVIEW}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_protected_routes_refuse_missing_and_wrong_credentials(api: TestClient, image_id: int, route: str) -> None:
    wrong_scope = _key(*(set(Scope) - {ROUTES[route]}))
    revoked = _key(ROUTES[route])
    with session_scope() as session:
        key_id = session.scalar(
            select(ApiKey.id).where(ApiKey.key_hash == hashlib.sha256(revoked.encode()).hexdigest())
        )
        assert key_id is not None and revoke(session=session, key_id=key_id)
    refusals = {
        "no header": ({}, 401, "unauthenticated"),
        "basic scheme": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "unauthenticated"),
        "unknown key": (_bearer("sc_" + "x" * 43), 401, "invalid_key"),
        "not a key": (_bearer("' OR 1=1 --"), 401, "invalid_key"),
        "revoked key": (_bearer(revoked), 401, "invalid_key"),
        "wrong scope": (_bearer(wrong_scope), 403, "forbidden"),
    }
    for name, (headers, status, code) in refusals.items():
        response = _call(api, route, image_id, headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), name
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer", name
    allowed = _call(api, route, image_id, _bearer(_key(ROUTES[route])))
    assert allowed.status_code in (200, 202), allowed.text


def test_a_refused_upload_stores_nothing(api: TestClient) -> None:
    response = api.post("/images", files={"file": ("b.png", plain_png(), "image/png")})
    assert response.status_code == 401
    with session_scope() as session:
        assert session.execute(text("SELECT count(*) FROM images")).scalar() == 0


def test_search_health_and_reading_an_image_are_public(api: TestClient, image_id: int) -> None:
    assert api.get("/search").status_code == 200
    assert api.get("/health").status_code == 200
    assert api.get(f"/images/{image_id}").status_code == 200


def test_keys_create_prints_the_key_last_and_stores_only_its_hash(api: TestClient, image_id: int) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--scope", "review", "--name", "reviewers"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("sc_") and len(key) > 40
    with session_scope() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.name == "reviewers")).one()
        stored = session.execute(
            text("SELECT row_to_json(k)::text FROM api_keys k WHERE id = :id"), {"id": row.id}
        ).scalar_one()
    assert key not in stored and row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.scopes == ["review"]
    assert _call(api, "review", image_id, _bearer(key)).status_code == 200
    assert _call(api, "upload", image_id, _bearer(key)).status_code == 403

    listed = CliRunner().invoke(cli, ["keys", "list"]).stdout
    assert "reviewers" in listed and key not in listed
    assert CliRunner().invoke(cli, ["keys", "revoke", str(row.id)]).exit_code == 0
    assert _call(api, "review", image_id, _bearer(key)).status_code == 401
    assert CliRunner().invoke(cli, ["keys", "revoke", str(row.id)]).exit_code == 1


def test_keys_create_refuses_an_unknown_scope() -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--scope", "admin"])
    assert result.exit_code == 2 and "admin" in result.output


def test_the_database_refuses_a_key_without_scopes_or_with_an_unknown_one() -> None:
    from sqlalchemy.exc import IntegrityError

    for scopes in ([], ["admin"]):
        with pytest.raises(IntegrityError), session_scope() as session:
            session.add(ApiKey(name="bad", key_hash=hashlib.sha256(str(scopes).encode()).hexdigest(), scopes=scopes))
            session.flush()


@pytest.fixture
def flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("flower") / "flower.log"
    credentials = {"STYLECAT_FLOWER_USER": "ops", "STYLECAT_FLOWER_PASSWORD": "a-long-test-secret"}
    with serving(["flower"], log, responds, credentials) as base:
        yield base


def test_flower_requires_basic_auth(flower: str) -> None:
    assert httpx.get(f"{flower}/api/workers", timeout=10).status_code == 401
    assert httpx.get(f"{flower}/api/workers", auth=("ops", "wrong"), timeout=10).status_code == 401
    assert httpx.get(f"{flower}/api/workers", auth=("ops", "a-long-test-secret"), timeout=10).status_code == 200
