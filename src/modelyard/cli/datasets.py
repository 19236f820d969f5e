"""`modelyard datasets`: browse the catalog and pull data, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from modelyard.client import connect, dataset
from modelyard.errors import InvalidInputError, ModelyardError

app = typer.Typer(
    help="The dataset catalog: list, inspect, pull, profile, snapshot.", no_args_is_help=True
)
console = Console()


def _fail(exc: ModelyardError) -> typer.Exit:
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error:[/red] {exc}{field}")
    return typer.Exit(1)


@app.command("list")
def list_datasets(
    q: Annotated[str, typer.Option(help="search names, descriptions and tags")] = "",
    tag: Annotated[str, typer.Option(help="only datasets with this tag")] = "",
) -> None:
    """The datasets you can read. Example: `modelyard datasets list --q churn`"""
    try:
        with connect() as client:
            items = client.datasets.list(q=q, tag=tag)
    except ModelyardError as exc:
        raise _fail(exc) from None
    table = Table("name", "rows", "tags", "owner", "description")
    for d in items:
        rows = "" if d["row_count"] is None else f"{d['row_count']:,}"
        first = (d["description"].strip().splitlines() or [""])[0][:60]
        table.add_row(d["name"], rows, ", ".join(d["tags"]), d["owner"] or "", first)
    console.print(
        table if items else "No datasets visible to you: ask an admin to grant one to your project."
    )


@app.command("show")
def show(name: str) -> None:
    """A dataset's description and columns. Example: `modelyard datasets show customers`"""
    try:
        info = dataset(name).info()
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(f"[bold]{info['name']}[/bold]  ({info['kind']} via {info['connection']})")
    if info["description"]:
        console.print(info["description"])
    table = Table("column", "type", "PII", "description")
    for c in info["columns"]:
        table.add_row(c["name"], c["type"], "yes" if c["pii"] else "", c["description"])
    console.print(table)
    console.print(f'Read it: modelyard.dataset("{info["name"]}").to_pandas()')


def _conditions(text: str | None) -> list[Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInputError(
            '--filter must be JSON, e.g. [["age", ">=", 30]]', field="filter"
        ) from None
    return value if isinstance(value, list) else None


@app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="dataset name, or name@SNAPSHOT")],
    output: Annotated[Path, typer.Option("-o", "--output", help=".parquet, .csv or .arrow file")],
    columns: Annotated[str, typer.Option(help="comma-separated columns")] = "",
    limit: Annotated[int | None, typer.Option(min=0)] = None,
    filter: Annotated[str | None, typer.Option(help='JSON: [["age", ">=", 30]]')] = None,
) -> None:
    """Download a dataset to a file, streaming. Example: `modelyard datasets pull customers -o c.parquet`"""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".csv", ".arrow"):
        raise _fail(
            InvalidInputError("the output must end in .parquet, .csv or .arrow", field="output")
        )
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    writer: Any = None
    rows = 0
    try:
        handle = dataset(name)
        with progress:
            task = progress.add_task(name, total=None)

            def advance(done: int, expected: int | None) -> None:
                progress.update(task, completed=done, total=expected)

            batches = handle.iter_batches(
                columns=[c.strip() for c in columns.split(",") if c.strip()] or None,
                limit=limit,
                filter=_conditions(filter),
                progress=advance,
            )
            for batch in batches:
                if writer is None:
                    writer = _writer(suffix, output, batch.schema, pa, pq, pacsv)
                writer.write_batch(batch)
                rows += batch.num_rows
            progress.update(task, total=rows, completed=rows)
    except ModelyardError as exc:
        raise _fail(exc) from None
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        table = handle.to_arrow(limit=0)
        _writer(suffix, output, table.schema, pa, pq, pacsv).close()
    console.print(f"Wrote {rows:,} rows to {output}")


def _writer(suffix: str, output: Path, schema: Any, pa: Any, pq: Any, pacsv: Any) -> Any:
    if suffix == ".parquet":
        return pq.ParquetWriter(str(output), schema, compression="zstd")
    if suffix == ".csv":
        return pacsv.CSVWriter(str(output), schema)
    return pa.ipc.new_file(str(output), schema)


@app.command("profile")
def profile(
    name: str,
    refresh: Annotated[bool, typer.Option(help="recompute it on the server now")] = False,
) -> None:
    """Per-column statistics. Example: `modelyard datasets profile customers --refresh`"""
    try:
        with console.status("profiling on the server…" if refresh else "loading the profile…"):
            data = dataset(name).profile(refresh=refresh)
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(
        f"[bold]{name}[/bold]: {data['row_count']:,} rows, computed {data['computed_at']} "
        f"in {data['seconds']} s"
    )
    table = Table("column", "type", "nulls", "distinct", "min", "max", "mean")
    for c in data["columns"]:
        mean = "" if c["mean"] is None else f"{c['mean']:.4g}"
        table.add_row(
            c["name"],
            c["type"],
            f"{c['null_fraction']:.1%}",
            f"{c['distinct']:,}",
            str(c["min"] or ""),
            str(c["max"] or ""),
            mean,
        )
    console.print(table)


@app.command("snapshot")
def snapshot(name: str, note: Annotated[str, typer.Option(help="why this snapshot")] = "") -> None:
    """Freeze a dataset to Parquet on the server. Example: `modelyard datasets snapshot customers`"""
    try:
        with console.status("freezing on the server…"):
            snap = dataset(name).snapshot(note=note)
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(
        f"Snapshot [bold]{name}@{snap.id}[/bold]: {snap.row_count:,} rows, sha256 {snap.sha256[:12]}"
    )
