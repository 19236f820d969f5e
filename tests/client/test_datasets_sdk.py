"""`modelyard.dataset(...)` and `client.datasets` / `client.connections` against a live server."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import modelyard
from modelyard.client import Client
from tests.conftest import LiveServer, Person
from tests.data.conftest import Catalog, change_sqlite, create_catalog, make_sqlite_source

pytestmark = pytest.mark.usefixtures("isolated_config")


@pytest.fixture
def catalog(people: Callable[..., Person], admin: Person, tmp_path: Path) -> Catalog:
    return create_catalog(people, admin, make_sqlite_source(tmp_path / "source.db"))


@pytest.fixture
def connect(live_server: LiveServer) -> Iterator[Callable[[Person], Client]]:
    clients: list[Client] = []

    def make(person: Person) -> Client:
        client = modelyard.connect(live_server.url, person.token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_a_name_may_carry_a_snapshot_number(monkeypatch: pytest.MonkeyPatch) -> None:
    with modelyard.connect("http://127.0.0.1:9", "myd_x") as client:
        latest = modelyard.dataset("customers", client=client)
        assert (latest.name, latest.snapshot_id) == ("customers", None)
        frozen = modelyard.dataset("customers@3", client=client)
        assert (frozen.name, frozen.snapshot_id) == ("customers", 3)
        assert repr(frozen) == "<modelyard.Dataset customers @snapshot 3>"
        assert modelyard.dataset("customers", snapshot=4, client=client).snapshot_id == 4
        with pytest.raises(modelyard.InvalidInputError) as invalid:
            modelyard.dataset("customers@latest", client=client)
        assert invalid.value.field == "snapshot"

    # Without a client it connects like connect() does, when it first reads.
    monkeypatch.setenv("MODELYARD_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MODELYARD_TOKEN", "myd_x")
    unreachable = modelyard.dataset("customers@2")
    assert unreachable.snapshot_id == 2
    with pytest.raises(modelyard.ConnectionFailedError):
        unreachable.to_arrow()


def test_reads_as_arrow_pandas_and_polars(
    catalog: Catalog, connect: Callable[[Person], Client]
) -> None:
    customers = modelyard.dataset("customers", client=connect(catalog.bob))
    table = customers.to_arrow(
        columns=["id", "country"], filter=[["country", "=", "US"], ["age", ">=", 47]]
    )
    assert table.to_pydict() == {"id": [27, 28, 29, 30], "country": ["US"] * 4}

    frame = customers.to_pandas(limit=5)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["id", "name", "country", "age", "spend"]
    assert frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert frame["spend"].isna().tolist() == [False, False, False, False, True]

    nulls = customers.to_polars(columns=["id", "spend"], filter=[["spend", "is null"]])
    assert isinstance(nulls, pl.DataFrame)
    assert nulls.shape == (6, 2) and nulls["id"].to_list() == [5, 10, 15, 20, 25, 30]

    none = customers.to_arrow(columns=["id", "name"], filter=[["country", "=", "XX"]])
    assert none.num_rows == 0 and none.column_names == ["id", "name"]
    assert customers.info()["owner"] == "alice"
    assert customers.sample(2)["rows"][1][:3] == [2, "customer 2", "DE"]


def test_iter_batches_streams_with_progress(
    catalog: Catalog, connect: Callable[[Person], Client]
) -> None:
    with sqlite3.connect(catalog.source) as conn:
        conn.execute("CREATE TABLE events (n INTEGER)")
        conn.executemany("INSERT INTO events VALUES (?)", ((i,) for i in range(70_000)))
    conn.close()
    catalog.admin.client.post(
        "/api/v1/datasets",
        json={"name": "events", "connection": "local", "table": "events", "grants": ["churn"]},
    )
    events = modelyard.dataset("events", client=connect(catalog.bob))

    unknown: list[tuple[int, int | None]] = []
    sizes = [b.num_rows for b in events.iter_batches(progress=lambda *a: unknown.append(a))]
    assert sum(sizes) == 70_000 and len(sizes) > 1
    assert unknown[-1] == (70_000, None)  # no profile yet: the total is unknown

    assert events.profile(refresh=True)["row_count"] == 70_000
    known: list[tuple[int, int | None]] = []
    events.to_arrow(progress=lambda *a: known.append(a))
    assert known[-1] == (70_000, 70_000) and len(known) == len(sizes)
    assert [done for done, _ in known] == sorted(done for done, _ in known)
    limited: list[tuple[int, int | None]] = []
    list(events.iter_batches(limit=10, progress=lambda *a: limited.append(a)))
    assert limited == [(10, 10)]


def test_snapshots_freeze_what_a_run_trained_on(
    catalog: Catalog, connect: Callable[[Person], Client]
) -> None:
    client = connect(catalog.alice)
    customers = modelyard.dataset("customers", client=client)
    first = customers.snapshot(note="training v1")
    assert (first.row_count, first.note, first.created_by) == (30, "training v1", "alice")
    assert customers.snapshot().id == first.id  # unchanged data: the same snapshot

    change_sqlite(catalog.source, "DELETE FROM customers WHERE country = 'DE'")
    second = customers.snapshot()
    assert second.id != first.id and second.row_count == 15
    assert [s.id for s in customers.snapshots()] == [second.id, first.id]

    frozen = modelyard.dataset(f"customers@{first.id}", client=client)
    assert frozen.to_arrow(columns=["id"]).num_rows == 30
    assert customers.at(first.id).to_pandas(limit=2)["country"].tolist() == ["DE", "DE"]
    assert customers.to_arrow().num_rows == 15


def test_errors_arrive_as_modelyard_exceptions(
    catalog: Catalog, connect: Callable[[Person], Client]
) -> None:
    with pytest.raises(modelyard.NotFoundError):
        modelyard.dataset("customers", client=connect(catalog.carol)).to_arrow()
    bob = connect(catalog.bob)
    customers = modelyard.dataset("customers", client=bob)
    with pytest.raises(modelyard.InvalidInputError) as invalid:
        customers.to_arrow(columns=["salary"])
    assert invalid.value.field == "columns"
    with pytest.raises(modelyard.InvalidInputError) as invalid:
        customers.to_pandas(filter=[["country", "~", "DE"]])
    assert invalid.value.field == "filter"
    with pytest.raises(modelyard.NotFoundError) as missing:
        customers.at(999).to_arrow()
    assert missing.value.field == "snapshot"
    with pytest.raises(modelyard.PermissionDeniedError):
        bob.datasets.create("mine", "local", table="customers")
    with pytest.raises(modelyard.PermissionDeniedError):
        bob.connections.list()

    catalog.source.unlink()
    with pytest.raises(modelyard.ConnectorError, match="no SQLite database file"):
        customers.to_arrow()


def test_admins_manage_connections_and_datasets_from_the_sdk(
    catalog: Catalog, connect: Callable[[Person], Client]
) -> None:
    admin = connect(catalog.admin)
    made = admin.connections.create("copy", "sqlite", {"path": str(catalog.source)})
    assert made["secrets"] == {}
    assert admin.connections.test("copy")["ok"] is True
    assert [c["name"] for c in admin.connections.list()] == ["copy", "local"]
    admin.datasets.create("copied", "copy", table="customers", tags=["copy"])
    admin.datasets.update("copied", description="A copy")
    admin.datasets.grant("copied", "hr")
    assert [d["name"] for d in admin.datasets.list(tag="copy")] == ["copied"]

    carol = connect(catalog.carol)
    assert [d["description"] for d in carol.datasets.list()] == ["A copy"]
    assert carol.datasets.get("copied").to_arrow(limit=1).num_rows == 1
    admin.datasets.revoke("copied", "hr")
    assert carol.datasets.list() == []
