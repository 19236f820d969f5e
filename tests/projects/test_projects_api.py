from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.tables import AuditEventRow
from tests.conftest import Person


@pytest.fixture
def team(people: Callable[..., Person]) -> dict[str, Person]:
    """owner owns 'churn'; editor and viewer are members; outsider is not."""
    team = {name: people(name) for name in ("owner", "editor", "viewer", "outsider")}
    created = team["owner"].client.post(
        "/api/v1/projects", json={"slug": "churn", "name": "Churn", "description": "# Churn"}
    )
    assert created.status_code == 201, created.text
    for name in ("editor", "viewer"):
        response = team["owner"].client.put(
            f"/api/v1/projects/churn/members/{name}", json={"role": name}
        )
        assert response.status_code == 200
    return team


def test_creator_owns_the_project(team: dict[str, Person]) -> None:
    project = team["owner"].client.get("/api/v1/projects/churn").json()
    assert project["owners"] == ["owner"] and project["my_role"] == "owner"
    assert {m["username"]: m["role"] for m in project["members"]} == {
        "owner": "owner",
        "editor": "editor",
        "viewer": "viewer",
    }
    assert project["counts"]["members"] == 3


def test_members_see_it_in_their_list_outsiders_do_not(team: dict[str, Person]) -> None:
    assert [p["slug"] for p in team["viewer"].client.get("/api/v1/projects").json()["items"]] == [
        "churn"
    ]
    assert team["outsider"].client.get("/api/v1/projects").json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/projects/churn", None),
        ("PATCH", "/api/v1/projects/churn", {"name": "x"}),
        ("GET", "/api/v1/projects/churn/members", None),
        ("PUT", "/api/v1/projects/churn/members/outsider", {"role": "owner"}),
        ("DELETE", "/api/v1/projects/churn/members/viewer", None),
        ("POST", "/api/v1/projects/churn/archive", None),
    ],
)
def test_non_members_get_404_for_everything_under_a_project(
    team: dict[str, Person], method: str, path: str, body: object
) -> None:
    response = team["outsider"].client.request(method, path, json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = team["outsider"].client.request(method, path.replace("churn", "nope"), json=body)
    assert (
        missing.json()["error"]["message"].replace("nope", "churn")
        == response.json()["error"]["message"]
    )
    assert len(team["owner"].client.get("/api/v1/projects/churn/members").json()["items"]) == 3


def test_viewer_cannot_change_the_project(team: dict[str, Person]) -> None:
    viewer = team["viewer"].client
    assert viewer.patch("/api/v1/projects/churn", json={"name": "Hacked"}).status_code == 403
    assert (
        viewer.put("/api/v1/projects/churn/members/outsider", json={"role": "viewer"}).status_code
        == 403
    )
    assert (
        viewer.put("/api/v1/projects/churn/members/viewer", json={"role": "owner"}).status_code
        == 403
    )
    assert viewer.post("/api/v1/projects/churn/archive").status_code == 403
    project = team["owner"].client.get("/api/v1/projects/churn").json()
    assert project["name"] == "Churn" and project["my_role"] == "owner"
    assert {m["username"]: m["role"] for m in project["members"]}["viewer"] == "viewer"


def test_editor_edits_but_cannot_manage_members(team: dict[str, Person]) -> None:
    editor = team["editor"].client
    response = editor.patch("/api/v1/projects/churn", json={"description": "updated"})
    assert response.status_code == 200 and response.json()["description"] == "updated"
    assert (
        editor.put("/api/v1/projects/churn/members/outsider", json={"role": "viewer"}).status_code
        == 403
    )


def test_membership_changes_are_audited(team: dict[str, Person], db: Session) -> None:
    team["owner"].client.put("/api/v1/projects/churn/members/viewer", json={"role": "editor"})
    team["owner"].client.delete("/api/v1/projects/churn/members/viewer")
    events = db.scalars(select(AuditEventRow).where(AuditEventRow.target == "churn/viewer")).all()
    assert [(e.action, e.detail.get("role")) for e in events] == [
        ("project.member_set", "viewer"),
        ("project.member_set", "editor"),
        ("project.member_removed", None),
    ]


def test_the_last_owner_cannot_leave(team: dict[str, Person]) -> None:
    owner = team["owner"].client
    demote = owner.put("/api/v1/projects/churn/members/owner", json={"role": "viewer"})
    assert demote.status_code == 409 and demote.json()["error"]["field"] == "role"
    assert owner.delete("/api/v1/projects/churn/members/owner").status_code == 409
    owner.put("/api/v1/projects/churn/members/editor", json={"role": "owner"})
    assert owner.delete("/api/v1/projects/churn/members/owner").status_code == 204


def test_archive_hides_and_freezes_until_unarchived(team: dict[str, Person]) -> None:
    owner = team["owner"].client
    archived = owner.post("/api/v1/projects/churn/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert owner.get("/api/v1/projects").json()["items"] == []
    assert [p["slug"] for p in owner.get("/api/v1/projects?archived=true").json()["items"]] == [
        "churn"
    ]
    frozen = owner.patch("/api/v1/projects/churn", json={"name": "New"})
    assert frozen.status_code == 409 and "archived" in frozen.json()["error"]["message"]
    assert owner.post("/api/v1/projects/churn/unarchive").json()["archived"] is False
    assert owner.patch("/api/v1/projects/churn", json={"name": "New"}).status_code == 200


def test_admin_sees_and_manages_every_project(team: dict[str, Person], admin: Person) -> None:
    project = admin.client.get("/api/v1/projects/churn").json()
    assert project["my_role"] is None
    response = admin.client.put("/api/v1/projects/churn/members/outsider", json={"role": "viewer"})
    assert response.status_code == 200
    assert team["outsider"].client.get("/api/v1/projects/churn").status_code == 200


def test_adding_an_unknown_user_names_the_field(team: dict[str, Person]) -> None:
    response = team["owner"].client.put(
        "/api/v1/projects/churn/members/ghost", json={"role": "viewer"}
    )
    assert response.status_code == 404 and response.json()["error"]["field"] == "username"
