from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from modelyard.code.service import record_code_ref
from modelyard.projects.tables import ProjectRow
from tests.code.conftest import seed_repo
from tests.conftest import Person

CODE = "/api/v1/projects/churn/code"


@pytest.fixture
def repo(app: FastAPI, project_team: dict[str, Person]) -> dict[str, str]:
    bare = app.state.repos.ensure("churn")
    first = seed_repo(
        bare,
        {
            "README.md": "# Churn\n\nPredicts churn.\n",
            "src/train.py": "def train_model(data):\n    return 42\n",
        },
        "Add the training script",
        author="Maya Mentor",
    )
    second = seed_repo(
        bare,
        {
            "src/train.py": "def train_model(data):\n    return 43\n",
            "model.bin": b"\x00\x01\x02binary",
            "big.txt": "x" * (600 * 1024),
        },
        "Tune the model",
        author="Nico Newhire",
        symlinks={"passwd": "/etc/passwd"},
    )
    return {"first": first, "second": second}


def test_tree_file_history_and_diff(project_team: dict[str, Person], repo: dict[str, str]) -> None:
    viewer = project_team["viewer"].client
    root = viewer.get(f"{CODE}/tree").json()
    assert root["commit"] == repo["second"]
    kinds = {e["name"]: e["kind"] for e in root["entries"]}
    assert kinds == {
        "src": "dir",
        "README.md": "file",
        "model.bin": "file",
        "big.txt": "file",
        "passwd": "symlink",
    }
    assert root["entries"][0]["name"] == "src"  # folders first

    at_first = viewer.get(
        f"{CODE}/file", params={"path": "src/train.py", "rev": repo["first"][:10]}
    )
    assert at_first.json()["text"].endswith("return 42\n")
    latest = viewer.get(f"{CODE}/file", params={"path": "src/train.py"}).json()
    assert latest["text"].endswith("return 43\n") and latest["binary"] is False

    commits = viewer.get(f"{CODE}/commits").json()["items"]
    assert [(c["subject"], c["author"]) for c in commits] == [
        ("Tune the model", "Nico Newhire"),
        ("Add the training script", "Maya Mentor"),
    ]
    only_train = viewer.get(f"{CODE}/commits", params={"path": "src/train.py"}).json()["items"]
    assert len(only_train) == 2

    detail = viewer.get(f"{CODE}/commits/{repo['second']}").json()
    files = {f["path"]: f for f in detail["files"]}
    assert files["src/train.py"]["status"] == "modified"
    assert (
        "-    return 42" in files["src/train.py"]["patch"]
        and "+    return 43" in files["src/train.py"]["patch"]
    )
    assert files["model.bin"]["binary"] is True and files["model.bin"]["status"] == "added"


def test_binary_large_and_symlinked_files_are_shown_as_such(
    project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    viewer = project_team["viewer"].client
    binary = viewer.get(f"{CODE}/file", params={"path": "model.bin"}).json()
    assert binary["binary"] is True and binary["text"] is None
    big = viewer.get(f"{CODE}/file", params={"path": "big.txt"}).json()
    assert big["too_large"] is True and big["text"] is None and big["size"] == 600 * 1024
    link = viewer.get(f"{CODE}/file", params={"path": "passwd"}).json()
    assert link["symlink_target"] == "/etc/passwd" and link["text"] is None
    raw = viewer.get(f"{CODE}/raw", params={"path": "model.bin"})
    assert raw.content == b"\x00\x01\x02binary"


ESCAPES = [
    "../../etc/passwd",
    "src/../../../etc/passwd",
    "./README.md",
    "src\\..\\x",
    "passwd/../../etc",
    "src/%2e%2e/x",
]


def test_paths_never_escape_the_repository(
    project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    viewer = project_team["viewer"].client
    for path in ESCAPES:
        for endpoint in ("file", "tree", "raw", "commits"):
            response = viewer.get(f"{CODE}/{endpoint}", params={"path": path})
            if endpoint == "commits" and response.status_code == 200:
                assert response.json()["items"] == []  # a literal name no commit touched
                continue
            assert response.status_code in (404, 422), (endpoint, path, response.text)
            assert "root:" not in response.text
    absolute = viewer.get(f"{CODE}/file", params={"path": "/etc/passwd"})
    assert absolute.status_code == 404 and absolute.json()["error"]["field"] == "path"


def test_missing_revisions_and_files_are_404_naming_the_field(
    project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    viewer = project_team["viewer"].client
    for params, field in (
        ({"rev": "nope"}, "rev"),
        ({"rev": "--all"}, "rev"),
        ({"rev": "main", "path": "missing"}, "path"),
    ):
        response = viewer.get(f"{CODE}/tree", params=params)
        assert response.status_code == 404 and response.json()["error"]["field"] == field
    assert viewer.get(f"{CODE}/commits/{'0' * 40}").status_code == 404


def test_empty_repository_says_how_to_start(project_team: dict[str, Person]) -> None:
    response = project_team["viewer"].client.get(f"{CODE}/tree")
    assert response.status_code == 404 and "modelyard init" in response.json()["error"]["message"]
    refs = project_team["viewer"].client.get(f"{CODE}/refs").json()
    assert refs["empty"] is True and refs["clone_url"].endswith("/git/churn.git")


def test_outsiders_get_404_for_the_code(
    project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    outsider = project_team["outsider"].client
    for path in (
        "tree",
        "file?path=README.md",
        "commits",
        f"commits/{repo['first']}",
        "refs",
        "live",
    ):
        assert outsider.get(f"{CODE}/{path}").status_code == 404


def test_search_spans_visible_projects_only(
    app: FastAPI,
    people: Callable[..., Person],
    project_team: dict[str, Person],
    repo: dict[str, str],
) -> None:
    owner = project_team["owner"]
    stranger = people("stranger")
    stranger.client.post("/api/v1/projects", json={"slug": "secret", "name": "Secret"})
    seed_repo(
        app.state.repos.ensure("secret"), {"hidden.py": "def train_model_secretly(): pass\n"}, "x"
    )

    found = owner.client.get("/api/v1/code/search", params={"q": "def train_model"}).json()
    assert [(h["project"], h["path"], h["line"]) for h in found["items"]] == [
        ("churn", "src/train.py", 1)
    ]
    assert found["projects_searched"] == 1
    mine = stranger.client.get("/api/v1/code/search", params={"q": "train_model"}).json()
    assert [h["project"] for h in mine["items"]] == ["secret"]

    regex = owner.client.get(
        "/api/v1/code/search", params={"q": r"return 4[0-9]", "regex": True}
    ).json()
    assert regex["items"][0]["text"].strip() == "return 43"
    bad = owner.client.get("/api/v1/code/search", params={"q": "(unclosed", "regex": True})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "q"
    assert owner.client.get("/api/v1/code/search", params={"q": "model.bin"}).json()["items"] == []


def test_live_markers_list_what_runs_which_commit(
    db: Session, project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    project = db.query(ProjectRow).filter_by(slug="churn").one()
    record_code_ref(
        db,
        project.id,
        kind="variant",
        object_id="churn/a",
        commit=repo["second"],
        label="endpoint churn, variant a",
        ref="main",
    )
    items = project_team["viewer"].client.get(f"{CODE}/live").json()["items"]
    assert [(i["kind"], i["commit"], i["label"]) for i in items] == [
        ("variant", repo["second"], "endpoint churn, variant a")
    ]


def test_hostile_history_and_search_inputs_are_handled(
    app: FastAPI, project_team: dict[str, Person], repo: dict[str, str]
) -> None:
    viewer = project_team["viewer"].client
    seed_repo(
        app.state.repos.ensure("churn"),
        {"a.txt": "a" * 30 + "!\n"},
        "subject \x1f with \x1e separators\n\nbody \x1e too",
    )
    commits = viewer.get(f"{CODE}/commits").json()["items"]
    assert commits[0]["subject"] == "subject \x1f with \x1e separators"
    for path in ("/", ":(glob)**/x", ":(bad"):
        assert viewer.get(f"{CODE}/commits", params={"path": path}).status_code in (200, 404, 422)
    slow = viewer.get("/api/v1/code/search", params={"q": "(a|aa)+$", "regex": True})
    assert slow.status_code == 200
    reflog = viewer.get(f"{CODE}/tree", params={"rev": "main@{1}"})
    assert reflog.status_code == 404 and reflog.json()["error"]["field"] == "rev"
    odd = viewer.get(f"{CODE}/raw", params={"path": "数据.csv"})
    assert odd.status_code == 404
