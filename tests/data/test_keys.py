"""Rotating the server's secret key re-seals every connection's secrets under the new key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.accounts.tables import UserRow
from modelyard.app import create_app
from modelyard.config import Settings
from modelyard.data.connections import create_connection
from modelyard.data.keys import rotate_key, secret_box
from modelyard.data.schemas import ConnectionCreate
from modelyard.data.secrets import SecretBox
from modelyard.data.tables import ConnectionRow
from modelyard.errors import InvalidInputError, ModelyardError
from tests.conftest import SECRET_KEY, Person
from tests.data.conftest import LeakGuard, SourceServer, secret


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The key in `<home>/secret.key`, generated at first start as `modelyard up` does."""
    return Settings(home=tmp_path / "home", database_url=database_url, secret_key="").prepare_home()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sealed(db: Session, name: str) -> str:
    db.expire_all()
    return db.scalars(
        select(ConnectionRow.secrets_encrypted).where(ConnectionRow.name == name)
    ).one()


def test_rotating_a_home_file_key_reseals_secrets_and_a_restart_still_reads_them(
    settings: Settings,
    app: FastAPI,
    admin: Person,
    db: Session,
    mariadb_source: SourceServer,
    leak_guard: LeakGuard,
) -> None:
    api = admin.client
    assert (
        api.post("/api/v1/connections", json=mariadb_source.connection("maria")).status_code == 201
    )
    api.post(
        "/api/v1/connections",
        json={"name": "local", "kind": "sqlite", "settings": {"path": "/x.db"}},
    )
    assert api.post("/api/v1/connections/maria/test").json()["ok"] is True
    old_key = settings.secret_key
    before = sealed(db, "maria")
    stale = settings.home / "secret.key.old"  # a backup of an earlier rotation, restored 0644
    stale.write_text("an-older-key")
    stale.chmod(0o644)

    assert rotate_key(settings, app.state.session_factory) == 1  # `local` has no secrets

    key_file = settings.home / "secret.key"
    new_key = key_file.read_text().strip()
    assert new_key != old_key and len(new_key) >= 32
    assert (settings.home / "secret.key.old").read_text() == old_key
    assert not (settings.home / "secret.key.new").exists()
    assert mode(key_file) == mode(settings.home / "secret.key.old") == 0o600

    after = sealed(db, "maria")
    assert after != before
    with pytest.raises(ModelyardError, match="cannot be decrypted"):
        SecretBox(old_key).open(after)
    restarted = Settings(home=settings.home, database_url=settings.database_url, secret_key="")
    restarted = restarted.prepare_home()
    assert restarted.secret_key == new_key
    assert secret_box(restarted).open(after) == {"password": mariadb_source.password}

    fresh = create_app(restarted)
    try:
        with TestClient(fresh, headers={"Authorization": f"Bearer {admin.token}"}) as client:
            client.event_hooks["response"].append(leak_guard.on_response)
            tested = client.post("/api/v1/connections/maria/test")
            assert tested.json()["ok"] is True, tested.text
    finally:
        fresh.state.engine.dispose()
    events = api.get("/api/v1/audit", params={"action": "secret_key.rotated"}).json()["items"]
    assert [e["detail"] for e in events] == [{"connections": 1}]


def test_with_the_key_in_the_environment_rotation_needs_the_new_key(
    tmp_path: Path, app: FastAPI, admin: Person, db: Session, database_url: str
) -> None:
    env = Settings(home=tmp_path / "env", database_url=database_url, secret_key=SECRET_KEY)
    env = env.prepare_home()
    root = Actor.of(db.scalars(select(UserRow).where(UserRow.username == "root")).one(), "system")
    password = secret("Env-rotated-pw:0404")
    create_connection(
        db,
        root,
        SecretBox(SECRET_KEY),
        ConnectionCreate(
            name="warehouse",
            kind="postgresql",
            settings={"host": "db", "database": "d", "user": "u"},
            secrets={"password": password},
        ),
    )
    factory = app.state.session_factory

    with pytest.raises(InvalidInputError, match="MODELYARD_SECRET_KEY") as refused:
        rotate_key(env, factory)
    assert refused.value.field == "new_key"
    with pytest.raises(InvalidInputError, match="at least 32 characters"):
        rotate_key(env, factory, new_key="too-short")
    assert SecretBox(SECRET_KEY).open(sealed(db, "warehouse")) == {"password": password}

    new_key = "the-next-environment-key-" + "y" * 20
    assert rotate_key(env, factory, new_key=new_key) == 1
    assert SecretBox(new_key).open(sealed(db, "warehouse")) == {"password": password}
    with pytest.raises(ModelyardError, match="cannot be decrypted"):
        SecretBox(SECRET_KEY).open(sealed(db, "warehouse"))
    assert sorted(p.name for p in env.home.iterdir() if p.name.startswith("secret")) == []


def test_a_server_started_mid_rotation_opens_secrets_of_both_keys(tmp_path: Path) -> None:
    home = Settings(home=tmp_path / "home", secret_key="").prepare_home()
    pending = "the-key-being-rotated-to-" + "z" * 20
    (home.home / "secret.key.new").write_text(pending)
    box = secret_box(home)
    for key in (home.secret_key, pending):
        assert box.open(SecretBox(key).seal({"password": "p"})) == {"password": "p"}
    with pytest.raises(ModelyardError, match="cannot be decrypted"):
        box.open(SecretBox("some-other-key-entirely-" + "q" * 20).seal({"password": "p"}))
