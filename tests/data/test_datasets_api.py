"""/api/v1/datasets: the catalog, who sees what, reads as Arrow IPC, profiles, samples,
snapshots and usage. Most tests read the per-test SQLite source through the catalog of
conftest.py; PostgreSQL and MariaDB sources are each read, profiled and frozen once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import modelyard
from tests.conftest import Person
from tests.data.conftest import (
    Catalog,
    SourceServer,
    change_sqlite,
    customer_rows,
)

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def read_arrow(client: Any, name: str, **params: Any) -> pa.Table:
    """GET /data decoded from Arrow IPC."""
    response = client.get(f"/api/v1/datasets/{name}/data", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW_STREAM
    with pa.ipc.open_stream(response.content) as reader:
        return reader.read_all()


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


# --- creating datasets ---------------------------------------------------------------------


def test_admins_create_table_query_and_file_datasets(catalog: Catalog, tmp_path: Path) -> None:
    api = catalog.admin.client
    customers = api.get("/api/v1/datasets/customers").json()
    assert [(c["name"], c["type"]) for c in customers["columns"]] == [
        ("id", "int64"),
        ("name", "string"),
        ("country", "string"),
        ("age", "int64"),
        ("spend", "double"),
    ]
    assert customers["owner"] == "alice" and customers["grants"] == ["churn"]
    assert customers["kind"] == "sqlite" and customers["row_count"] is None

    query = api.post(
        "/api/v1/datasets",
        json={
            "name": "by-country",
            "connection": "local",
            "query": "SELECT country, count(*) AS n FROM customers GROUP BY country;",
        },
    )
    assert query.status_code == 201, query.text
    assert [c["name"] for c in query.json()["columns"]] == ["country", "n"]
    assert query.json()["owner"] == "root"  # the creator, when no owner is given
    assert read_arrow(api, "by-country").sort_by("country").to_pydict() == {
        "country": ["DE", "FR", "US"],
        "n": [15, 10, 5],
    }

    exports = tmp_path / "exports"
    exports.mkdir()
    pq.write_table(pa.table({"id": [1, 2], "plan": ["free", "pro"]}), exports / "plans.parquet")
    api.post(
        "/api/v1/connections",
        json={"name": "drop", "kind": "files", "settings": {"root": str(exports)}},
    )
    files = api.post(
        "/api/v1/datasets", json={"name": "plans", "connection": "drop", "path": "*.parquet"}
    )
    assert files.status_code == 201, files.text
    assert files.json()["path"] == "*.parquet"
    assert read_arrow(api, "plans").to_pydict() == {"id": [1, 2], "plan": ["free", "pro"]}

    assert names(api.get("/api/v1/datasets").json()["items"]) == [
        "by-country",
        "customers",
        "plans",
    ]


def test_what_a_dataset_reads_is_checked_before_it_is_stored(catalog: Catalog) -> None:
    api = catalog.admin.client

    def create(**body: Any) -> Any:
        return api.post("/api/v1/datasets", json={"name": "x", "connection": "local", **body})

    for query in ("DELETE FROM customers", "SELECT 1; DROP TABLE customers"):
        refused = create(query=query)
        assert refused.status_code == 422, query
        assert refused.json()["error"]["field"] == "query"
    assert "DELETE" in create(query="DELETE FROM customers").json()["error"]["message"]
    assert create(table="customers", query="SELECT 1").json()["error"]["field"] == "table"
    assert create(path="*.csv").json()["error"]["field"] == "path"

    unreadable = create(table="no_such_table")
    assert unreadable.status_code == 502
    assert unreadable.json()["error"]["code"] == "source_error"
    assert "dataset 'x'" in unreadable.json()["error"]["message"]
    assert "no such table: no_such_table" in unreadable.json()["error"]["message"]

    again = api.post(
        "/api/v1/datasets",
        json={"name": "customers", "connection": "local", "table": "customers"},
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "name"
    no_connection = api.post(
        "/api/v1/datasets", json={"name": "y", "connection": "nope", "table": "customers"}
    )
    assert no_connection.status_code == 404
    assert no_connection.json()["error"]["field"] == "connection"

    made = catalog.alice.client.post(
        "/api/v1/datasets", json={"name": "mine", "connection": "local", "table": "customers"}
    )
    assert made.status_code == 403
    assert names(api.get("/api/v1/datasets").json()["items"]) == ["customers"]


# --- the catalog and who sees what ---------------------------------------------------------


def test_the_catalog_searches_names_tags_and_descriptions(catalog: Catalog) -> None:
    api = catalog.admin.client
    made = api.post(
        "/api/v1/datasets",
        json={
            "name": "spend-by-country",
            "connection": "local",
            "query": "SELECT country, sum(spend) AS spend FROM customers GROUP BY country",
            "description": "Revenue per market",
            "tags": ["finance", "sales"],
        },
    )
    assert made.status_code == 201, made.text

    def search(**params: str) -> list[str]:
        return names(api.get("/api/v1/datasets", params=params).json()["items"])

    assert search(q="BOUGHT") == ["customers"]  # description, any case
    assert search(q="by-country") == ["spend-by-country"]  # name
    assert search(q="financ") == ["spend-by-country"]  # tag
    assert search(tag="sales") == ["customers", "spend-by-country"]
    assert search(tag="finance", q="revenue") == ["spend-by-country"]
    assert search(tag="fin") == []  # a tag filter matches whole tags
    assert search(q="nothing like this") == []

    # members see only what their projects were granted
    assert names(catalog.bob.client.get("/api/v1/datasets").json()["items"]) == ["customers"]
    assert catalog.carol.client.get("/api/v1/datasets").json()["items"] == []


def test_only_members_of_granted_projects_see_a_dataset(catalog: Catalog) -> None:
    bob, carol = catalog.bob.client, catalog.carol.client
    catalog.admin.client.post("/api/v1/datasets/customers/profile")
    paths = [
        ("GET", ""),
        ("GET", "/data"),
        ("GET", "/sample"),
        ("GET", "/profile"),
        ("POST", "/profile"),
        ("GET", "/snapshots"),
        ("POST", "/snapshots"),
        ("GET", "/usage"),
    ]
    for method, path in paths:
        body: dict[str, Any] | None = {} if method == "POST" else None
        shown = bob.request(method, f"/api/v1/datasets/customers{path}", json=body)
        assert shown.status_code in (200, 201), (path, shown.text)
        hidden = carol.request(method, f"/api/v1/datasets/customers{path}", json=body)
        missing = carol.request(method, f"/api/v1/datasets/ghost{path}", json=body)
        assert hidden.status_code == missing.status_code == 404, path
        # no difference between "exists but not yours" and "does not exist"
        assert hidden.json()["error"]["message"] == missing.json()["error"]["message"].replace(
            "ghost", "customers"
        )

    # The owner cannot grant to a project she is not in; an admin can.
    refused = catalog.alice.client.put("/api/v1/datasets/customers/grants/hr")
    assert refused.status_code == 404 and refused.json()["error"]["field"] == "project"
    assert catalog.admin.client.put("/api/v1/datasets/customers/grants/hr").status_code == 204
    assert carol.get("/api/v1/datasets/customers/data").status_code == 200
    dataset = catalog.admin.client.get("/api/v1/datasets/customers").json()
    assert dataset["grants"] == ["churn", "hr"]

    assert catalog.alice.client.delete("/api/v1/datasets/customers/grants/churn").status_code == 204
    assert bob.get("/api/v1/datasets/customers").status_code == 404
    assert catalog.alice.client.get("/api/v1/datasets/customers").status_code == 200  # owner
    gone = catalog.alice.client.delete("/api/v1/datasets/customers/grants/churn")
    assert gone.status_code == 404 and gone.json()["error"]["field"] == "project"


def test_the_owner_documents_columns_but_cannot_change_the_source(catalog: Catalog) -> None:
    alice = catalog.alice.client
    edited = alice.patch(
        "/api/v1/datasets/customers",
        json={
            "description": "All customers, one row each",
            "tags": ["sales", "crm", "crm"],
            "columns": {
                "name": {"description": "full name", "pii": True},
                "spend": {"description": "lifetime spend in EUR"},
            },
        },
    )
    assert edited.status_code == 200, edited.text
    dataset = edited.json()
    assert dataset["can_edit"] is True
    assert dataset["tags"] == ["crm", "sales"]
    docs = {c["name"]: (c["description"], c["pii"]) for c in dataset["columns"]}
    assert docs["name"] == ("full name", True)
    assert docs["spend"] == ("lifetime spend in EUR", False)
    assert docs["id"] == ("", False)

    sneaky = alice.patch(
        "/api/v1/datasets/customers",
        json={"description": "changed", "query": "SELECT name FROM customers"},
    )
    assert sneaky.status_code == 403
    after = catalog.bob.client.get("/api/v1/datasets/customers").json()
    assert after["description"] == "All customers, one row each" and after["table"] == "customers"
    assert after["can_edit"] is False
    assert (
        catalog.bob.client.patch(
            "/api/v1/datasets/customers", json={"description": "x"}
        ).status_code
        == 403
    )
    bad_doc = alice.patch("/api/v1/datasets/customers", json={"columns": {"name": {"pii": "yes"}}})
    assert bad_doc.status_code == 422 and bad_doc.json()["error"]["field"] == "columns.name.pii"
    assert alice.delete("/api/v1/datasets/customers").status_code == 403

    half = catalog.admin.client.patch(
        "/api/v1/datasets/customers", json={"query": "SELECT id, name FROM customers"}
    )
    assert half.status_code == 422 and half.json()["error"]["field"] == "table"
    moved = catalog.admin.client.patch(
        "/api/v1/datasets/customers",
        json={"table": "", "query": "SELECT id, name FROM customers"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["table"] == "" and names(moved.json()["columns"]) == ["id", "name"]
    assert read_arrow(alice, "customers").column_names == ["id", "name"]
    assert catalog.admin.client.delete("/api/v1/datasets/customers").status_code == 204
    assert alice.get("/api/v1/datasets/customers").status_code == 404


# --- reading ------------------------------------------------------------------------------


def test_reads_push_down_columns_limit_and_filter(catalog: Catalog) -> None:
    bob = catalog.bob.client
    everything = read_arrow(bob, "customers")
    assert everything.num_rows == 30
    assert everything.to_pylist()[0] == {
        "id": 1,
        "name": "customer 1",
        "country": "DE",
        "age": 21,
        "spend": 10.0,
    }
    picked = read_arrow(
        bob,
        "customers",
        columns=["id", "country"],
        limit=3,
        filter=json.dumps([["country", "=", "FR"], ["age", ">", 36], ["spend", "<=", 500.5]]),
    )
    assert picked.to_pydict() == {"id": [17, 18, 19], "country": ["FR"] * 3}
    nulls = read_arrow(bob, "customers", columns=["id"], filter='[["spend", "is null"]]')
    assert nulls.column("id").to_pylist() == [5, 10, 15, 20, 25, 30]
    listed = read_arrow(bob, "customers", columns=["id"], filter='[["id", "in", [2, 29, 99]]]')
    assert listed.column("id").to_pylist() == [2, 29]
    texts = read_arrow(bob, "customers", columns=["id"], filter='[["country", "not in", ["DE"]]]')
    assert texts.num_rows == 15
    empty = read_arrow(bob, "customers", limit=0)
    assert empty.num_rows == 0 and empty.column_names == everything.column_names


def test_a_bad_read_request_names_the_field(catalog: Catalog) -> None:
    bob = catalog.bob.client
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"columns": ["id", "salary"]}, "columns", "no column 'salary'"),
        ({"filter": "age > 30"}, "filter", "must be JSON"),
        ({"filter": '[["age", ">=", "old"]]'}, "filter", "is not a number"),
        ({"filter": '[["country", ">=", 3]]'}, "filter", "is not text"),
        ({"filter": '[["age", "~", 3]]'}, "filter", "unknown filter operator"),
        ({"filter": '[["salary", "=", 3]]'}, "filter", "no column 'salary'"),
        ({"limit": -1}, "limit", ""),
        ({"snapshot": 99}, "snapshot", "has no snapshot 99"),
    ]
    for params, field, words in cases:
        response = bob.get("/api/v1/datasets/customers/data", params=params)
        assert response.status_code == (404 if field == "snapshot" else 422), params
        error = response.json()["error"]
        assert error["field"] == field and words in error["message"], error


def test_the_sample_answers_json_rows(catalog: Catalog) -> None:
    sample = catalog.bob.client.get("/api/v1/datasets/customers/sample", params={"limit": 5})
    assert sample.status_code == 200
    assert sample.json()["columns"] == ["id", "name", "country", "age", "spend"]
    assert sample.json()["rows"] == [list(row) for row in customer_rows()[:5]]
    assert sample.json()["rows"][4][4] is None
    too_many = catalog.bob.client.get("/api/v1/datasets/customers/sample", params={"limit": 10**6})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "limit"


# --- profiles -----------------------------------------------------------------------------


def test_a_profile_is_computed_stored_and_shown(catalog: Catalog) -> None:
    bob = catalog.bob.client
    missing = bob.get("/api/v1/datasets/customers/profile")
    assert missing.status_code == 404 and "POST to this URL" in missing.json()["error"]["message"]

    computed = bob.post("/api/v1/datasets/customers/profile")
    assert computed.status_code == 200, computed.text
    profile = computed.json()
    assert profile["row_count"] == 30 and profile["computed_by"] == "bob"
    assert profile["computed_at"] and "DuckDB" in profile["method"]
    columns = {c["name"]: c for c in profile["columns"]}
    spend = columns["spend"]
    assert (spend["nulls"], spend["null_fraction"]) == (6, 0.2)
    assert (spend["min"], spend["max"], spend["mean"]) == ("10.0", "290.0", 150.0)
    assert [(t["value"], t["count"]) for t in columns["country"]["top"]] == [
        ("DE", 15),
        ("FR", 10),
        ("US", 5),
    ]
    assert columns["country"]["distinct"] == 3 and columns["country"]["mean"] is None
    age = columns["age"]["histogram"]
    assert (age["edges"][0], age["edges"][-1]) == (21.0, 50.0)
    assert sum(age["counts"]) == 30 and len(age["counts"]) == len(age["edges"]) - 1

    assert bob.get("/api/v1/datasets/customers/profile").json() == profile
    shown = bob.get("/api/v1/datasets/customers").json()
    assert shown["row_count"] == 30 and shown["profiled_at"] == profile["computed_at"]

    change_sqlite(catalog.source, "DELETE FROM customers WHERE country = 'US'")
    assert bob.get("/api/v1/datasets/customers/profile").json()["row_count"] == 30  # stored
    assert bob.post("/api/v1/datasets/customers/profile").json()["row_count"] == 25


# --- snapshots ----------------------------------------------------------------------------


def test_snapshots_freeze_rows_and_unchanged_data_gives_the_same_snapshot(
    catalog: Catalog,
) -> None:
    alice = catalog.alice.client
    first = alice.post("/api/v1/datasets/customers/snapshots", json={"note": "training v1"})
    assert first.status_code == 201, first.text
    snap = first.json()
    assert (snap["row_count"], snap["note"], snap["created_by"]) == (30, "training v1", "alice")
    assert len(snap["sha256"]) == 64 and snap["size_bytes"] > 0
    assert [c["name"] for c in snap["columns"]] == ["id", "name", "country", "age", "spend"]

    same = alice.post("/api/v1/datasets/customers/snapshots", json={})
    assert same.status_code == 200
    assert (same.json()["id"], same.json()["sha256"]) == (snap["id"], snap["sha256"])

    change_sqlite(catalog.source, "UPDATE customers SET age = 99 WHERE id = 1")
    second = alice.post("/api/v1/datasets/customers/snapshots", json={})
    assert second.status_code == 201
    assert second.json()["id"] != snap["id"] and second.json()["sha256"] != snap["sha256"]
    listed = alice.get("/api/v1/datasets/customers/snapshots").json()["items"]
    assert [s["id"] for s in listed] == [second.json()["id"], snap["id"]]

    change_sqlite(catalog.source, "DELETE FROM customers WHERE id > 10")
    frozen = read_arrow(alice, "customers", snapshot=snap["id"])
    assert frozen.num_rows == 30 and frozen.column("age")[0].as_py() == 21
    narrowed = read_arrow(
        alice, "customers", snapshot=snap["id"], columns=["id"], filter='[["age", ">", 48]]'
    )
    assert narrowed.to_pydict() == {"id": [29, 30]}
    live = read_arrow(alice, "customers")
    assert live.num_rows == 10 and live.column("age")[0].as_py() == 99

    # a snapshot is read only through its own dataset
    catalog.admin.client.post(
        "/api/v1/datasets",
        json={"name": "ids", "connection": "local", "query": "SELECT id FROM customers"},
    )
    crossed = catalog.admin.client.get("/api/v1/datasets/ids/data", params={"snapshot": snap["id"]})
    assert crossed.status_code == 404 and crossed.json()["error"]["field"] == "snapshot"


def test_usage_lists_who_read_how_many_rows(catalog: Catalog) -> None:
    read_arrow(catalog.bob.client, "customers", limit=5)
    read_arrow(catalog.bob.client, "customers", filter='[["country", "=", "US"]]')
    read_arrow(catalog.alice.client, "customers")
    catalog.admin.client.get("/api/v1/datasets/customers/sample", params={"limit": 3})
    snap = catalog.admin.client.post("/api/v1/datasets/customers/snapshots", json={}).json()
    read_arrow(catalog.bob.client, "customers", snapshot=snap["id"], limit=7)
    catalog.carol.client.get("/api/v1/datasets/customers/data")  # refused: not a read

    usage = catalog.alice.client.get("/api/v1/datasets/customers/usage").json()
    readers = {r["username"]: (r["reads"], r["rows"]) for r in usage["readers"]}
    assert readers == {"bob": (3, 17), "alice": (1, 30), "root": (2, 33)}
    assert usage["projects"] == ["churn"]
    recent = [
        (r["username"], r["purpose"], r["row_count"], r["snapshot_id"]) for r in usage["recent"]
    ]
    assert recent == [
        ("bob", "read", 7, snap["id"]),
        ("root", "snapshot", 30, snap["id"]),
        ("root", "sample", 3, None),
        ("alice", "read", 30, None),
        ("bob", "read", 5, None),
        ("bob", "read", 5, None),
    ]
    assert all(r["complete"] for r in usage["recent"])


# --- PostgreSQL and MariaDB sources -------------------------------------------------------


def grant_to_churn(
    admin: Person, people: Callable[..., Person], server: SourceServer, query: str = ""
) -> Person:
    """Connection and dataset 'remote' on `server`, granted to alice's project 'churn'."""
    alice = people("alice")
    alice.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    made = admin.client.post("/api/v1/connections", json=server.connection("remote"))
    assert made.status_code == 201, made.text
    source = {"query": query} if query else {"table": "customers"}
    made = admin.client.post(
        "/api/v1/datasets",
        json={"name": "remote", "connection": "remote", "grants": ["churn"], **source},
    )
    assert made.status_code == 201, made.text
    return alice


def test_a_postgresql_dataset_through_the_sdk(
    admin: Person,
    people: Callable[..., Person],
    pg_source: SourceServer,
    sdk: Callable[[Person], modelyard.Client],
) -> None:
    alice = grant_to_churn(admin, people, pg_source)
    remote = modelyard.dataset("remote", client=sdk(alice))
    assert [(c["name"], c["type"]) for c in remote.info()["columns"]][::4] == [
        ("id", "int32"),
        ("spend", "double"),
    ]
    us = remote.to_arrow(columns=["id", "spend"], filter=[["country", "=", "US"]], limit=4)
    assert us.to_pydict() == {"id": [26, 27, 28, 29], "spend": [260.0, 270.0, 280.0, 290.0]}
    profile = remote.profile(refresh=True)
    spend = next(c for c in profile["columns"] if c["name"] == "spend")
    assert (profile["row_count"], spend["nulls"], spend["mean"]) == (30, 6, 150.0)
    assert "ADBC" in profile["method"]
    snap = remote.snapshot(note="pg")
    assert snap.row_count == 30 and remote.snapshot().id == snap.id
    assert remote.at(snap.id).to_arrow(columns=["id"]).num_rows == 30


def test_a_mariadb_dataset_reads_profiles_and_snapshots(
    admin: Person, people: Callable[..., Person], mariadb_source: SourceServer
) -> None:
    alice = grant_to_churn(
        admin, people, mariadb_source, "SELECT id, country, spend FROM customers WHERE age > 40"
    )
    columns = alice.client.get("/api/v1/datasets/remote").json()["columns"]
    assert columns[0]["type"].startswith("int")
    assert [c["type"] for c in columns[1:]] == ["string", "double"]
    rows = read_arrow(
        alice.client,
        "remote",
        columns=["id", "spend"],
        filter='[["spend", "is not null"], ["id", "<", 27]]',
    )
    assert rows.to_pydict() == {
        "id": [21, 22, 23, 24, 26],
        "spend": [210.0, 220.0, 230.0, 240.0, 260.0],
    }
    profile = alice.client.post("/api/v1/datasets/remote/profile").json()
    assert profile["row_count"] == 10 and "PyMySQL" in profile["method"]
    top = next(c for c in profile["columns"] if c["name"] == "country")["top"]
    assert [(t["value"], t["count"]) for t in top] == [("FR", 5), ("US", 5)]
    snap = alice.client.post("/api/v1/datasets/remote/snapshots", json={})
    assert snap.status_code == 201 and snap.json()["row_count"] == 10
    frozen = read_arrow(alice.client, "remote", snapshot=snap.json()["id"])
    assert frozen.num_rows == 10
