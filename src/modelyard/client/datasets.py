"""`modelyard.dataset(name)`: read a dataset through the server, never seeing a credential.

pyarrow (and pandas / polars) are imported only when data is read, so `import modelyard`
stays fast.
"""

from __future__ import annotations

import builtins
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from modelyard.client.runs import run_header
from modelyard.client.transport import Transport
from modelyard.errors import ModelyardError

if TYPE_CHECKING:
    import pandas
    import polars
    import pyarrow

Condition = Sequence[Any]
Progress = Callable[[int, int | None], None]  # (rows so far, expected rows or None)
# Gives the transport for one call: a client's shared one, or one opened and closed per call.
Opener = Callable[[], AbstractContextManager[Transport]]


@dataclass(frozen=True)
class Snapshot:
    id: int
    dataset: str
    sha256: str
    row_count: int
    size_bytes: int
    columns: list[dict[str, str]]
    note: str
    created_by: str | None
    created_at: datetime

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = memoryview(chunk)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


class Dataset:
    """A named dataset in the catalog.

    Example:
        >>> import modelyard
        >>> customers = modelyard.dataset("customers")  # doctest: +SKIP
        >>> df = customers.to_pandas(columns=["age", "plan"], filter=[["age", ">=", 30]])  # doctest: +SKIP
        >>> snap = customers.snapshot(note="training set for v2")  # doctest: +SKIP
        >>> same = customers.at(snap.id).to_pandas()  # doctest: +SKIP
    """

    def __init__(
        self, transport: Transport | Opener, name: str, *, snapshot: int | None = None
    ) -> None:
        if isinstance(transport, Transport):
            shared = transport
            self._open: Opener = lambda: nullcontext(shared)
        else:
            self._open = transport
        self.name = name
        self.snapshot_id = snapshot

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._open() as transport:
            return transport.request(method, path, **kwargs)

    def __repr__(self) -> str:
        at = f" @snapshot {self.snapshot_id}" if self.snapshot_id else ""
        return f"<modelyard.Dataset {self.name}{at}>"

    @property
    def _path(self) -> str:
        return f"/api/v1/datasets/{self.name}"

    def info(self) -> dict[str, Any]:
        """Description, owner, tags, columns (with docs and PII flags) and grants."""
        result: dict[str, Any] = self._request("GET", self._path)
        return result

    def iter_batches(
        self,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        filter: Sequence[Condition] | None = None,
        progress: Progress | None = None,
    ) -> Iterator[pyarrow.RecordBatch]:
        """Stream the dataset as Arrow record batches (columns, filter and limit are pushed
        down to the source). `filter` is ANDed conditions like `[["age", ">=", 30]]`."""
        import pyarrow as pa

        params: dict[str, Any] = {}
        if columns:
            params["columns"] = list(columns)
        if limit is not None:
            params["limit"] = limit
        if filter:
            params["filter"] = json.dumps([list(c) for c in filter])
        if self.snapshot_id is not None:
            params["snapshot"] = self.snapshot_id
        with (
            self._open() as t,
            t.stream("GET", f"{self._path}/data", params=params, headers=run_header()) as response,
        ):
            estimate = response.headers.get("x-modelyard-row-estimate")
            expected = int(estimate) if estimate and estimate.isdigit() else None
            raw = _ChunkReader(response.iter_bytes(1 << 20))
            try:
                reader = pa.ipc.open_stream(io.BufferedReader(raw, 1 << 20))
                rows = 0
                for batch in reader:
                    rows += batch.num_rows
                    if progress:
                        progress(rows, expected)
                    yield batch
            except (httpx.HTTPError, pa.ArrowInvalid) as exc:
                raise ModelyardError(f"reading dataset {self.name!r} was cut off: {exc}") from None

    def to_arrow(
        self,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        filter: Sequence[Condition] | None = None,
        progress: Progress | None = None,
    ) -> pyarrow.Table:
        """The dataset as a pyarrow Table."""
        import pyarrow as pa

        batches = builtins.list(
            self.iter_batches(columns=columns, limit=limit, filter=filter, progress=progress)
        )
        if batches:
            return pa.Table.from_batches(batches)
        return self._empty(columns)

    def _empty(self, columns: Sequence[str] | None) -> pyarrow.Table:
        import pyarrow as pa

        params: dict[str, Any] = {"limit": 0}
        if columns:
            params["columns"] = builtins.list(columns)
        if self.snapshot_id is not None:
            params["snapshot"] = self.snapshot_id
        with self._open() as t, t.stream("GET", f"{self._path}/data", params=params) as response:
            data = response.read()
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()

    def to_pandas(
        self,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        filter: Sequence[Condition] | None = None,
    ) -> pandas.DataFrame:
        """The dataset as a pandas DataFrame."""
        return self.to_arrow(columns=columns, limit=limit, filter=filter).to_pandas()

    def to_polars(
        self,
        *,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        filter: Sequence[Condition] | None = None,
    ) -> polars.DataFrame:
        """The dataset as a polars DataFrame (needs `pip install polars`)."""
        try:
            import polars as pl
        except ImportError:
            raise ModelyardError("to_polars needs polars: pip install polars") from None
        frame = pl.from_arrow(self.to_arrow(columns=columns, limit=limit, filter=filter))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def profile(self, *, refresh: bool = False) -> dict[str, Any]:
        """The stored profile (row count, per-column statistics); `refresh` recomputes it."""
        result: dict[str, Any] = self._request(
            "POST" if refresh else "GET", f"{self._path}/profile"
        )
        return result

    def sample(self, n: int = 20) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"{self._path}/sample", params={"limit": n})
        return result

    def snapshot(self, note: str = "") -> Snapshot:
        """Freeze the dataset to Parquet on the server; unchanged data gives the same snapshot."""
        data = self._request("POST", f"{self._path}/snapshots", json={"note": note})
        return Snapshot.from_json(data)

    def snapshots(self) -> builtins.list[Snapshot]:
        data = self._request("GET", f"{self._path}/snapshots")
        return [Snapshot.from_json(s) for s in data["items"]]

    def at(self, snapshot: int) -> Dataset:
        """The same dataset, read from one of its snapshots."""
        return Dataset(self._open, self.name, snapshot=snapshot)


class Datasets:
    """`client.datasets`: the catalog the caller can see, and (for admins) its management.

    Example:
        >>> client.datasets.list(q="churn")  # doctest: +SKIP
        >>> client.datasets.get("customers").to_pandas()  # doctest: +SKIP
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, *, q: str = "", tag: str = "") -> builtins.list[dict[str, Any]]:
        data = self._t.request("GET", "/api/v1/datasets", params={"q": q, "tag": tag})
        items: builtins.list[dict[str, Any]] = data["items"]
        return items

    def get(self, name: str, *, snapshot: int | None = None) -> Dataset:
        return Dataset(self._t, name, snapshot=snapshot)

    def create(self, name: str, connection: str, **fields: Any) -> dict[str, Any]:
        """Admins: `create("customers", "warehouse", table="public.customers", grants=["churn"])`."""
        body = {"name": name, "connection": connection, **fields}
        result: dict[str, Any] = self._t.request("POST", "/api/v1/datasets", json=body)
        return result

    def update(self, name: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._t.request("PATCH", f"/api/v1/datasets/{name}", json=fields)
        return result

    def grant(self, name: str, project: str) -> None:
        self._t.request("PUT", f"/api/v1/datasets/{name}/grants/{project}")

    def revoke(self, name: str, project: str) -> None:
        self._t.request("DELETE", f"/api/v1/datasets/{name}/grants/{project}")


class Connections:
    """`client.connections` (admins): data sources; secrets go in, never come back out."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self) -> builtins.list[dict[str, Any]]:
        items: builtins.list[dict[str, Any]] = self._t.request("GET", "/api/v1/connections")[
            "items"
        ]
        return items

    def create(
        self,
        name: str,
        kind: str,
        settings: dict[str, Any],
        secrets: dict[str, str] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "kind": kind,
            "settings": settings,
            "secrets": secrets or {},
            "description": description,
        }
        result: dict[str, Any] = self._t.request("POST", "/api/v1/connections", json=body)
        return result

    def test(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._t.request("POST", f"/api/v1/connections/{name}/test")
        return result
