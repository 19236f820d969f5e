"""`modelyard models`: the registry from the terminal: models, versions, aliases."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelyard.cli.endpoint_views import resolve_project
from modelyard.client import Client, connect
from modelyard.errors import InvalidInputError, ModelyardError, NotFoundError

app = typer.Typer(
    help="The model registry: list models and versions, move aliases.", no_args_is_help=True
)
console = Console()
Project = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="the project's slug (default: $MODELYARD_PROJECT, or ./modelyard.yaml's project)",
    ),
]


def _fail(exc: ModelyardError) -> typer.Exit:
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error:[/red] {exc}{field}")
    return typer.Exit(1)


@app.command("list")
def list_models(project: Project = None) -> None:
    """The project's models. Example: `modelyard models list -p churn`"""
    try:
        project = resolve_project(project)
        with connect() as client:
            items = client.models.list(project)
    except ModelyardError as exc:
        raise _fail(exc) from None
    if not items:
        console.print(
            f'No models in {project} yet: call run.log_model(model, name="...") in a run.'
        )
        return
    table = Table("model", "latest", "versions", "aliases", "updated")
    for m in items:
        aliases = ", ".join(f"{a}→v{v}" for a, v in m["aliases"].items())
        table.add_row(
            m["name"],
            f"v{m['latest_version']}",
            str(m["version_count"]),
            aliases,
            m["updated_at"][:19],
        )
    console.print(table)


@app.command("versions")
def versions(name: str, project: Project = None) -> None:
    """A model's versions, newest first. Example: `modelyard models versions churn-clf -p churn`"""
    try:
        project = resolve_project(project)
        with connect() as client:
            items = client.models.versions(project, name)
    except ModelyardError as exc:
        raise _fail(exc) from None
    table = Table("version", "aliases", "flavor", "run", "commit", "datasets", "metrics")
    for v in items:
        shown = ", ".join(
            f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}"
            for k, val in list(v.metrics.items())[:3]
        )
        table.add_row(
            f"v{v.version}",
            ", ".join(v.aliases),
            v.flavor,
            str(v.run_id or ""),
            (v.commit or "")[:10],
            ", ".join(v.datasets),
            shown,
        )
    console.print(table)


@app.command("alias")
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS", help="champion, challenger, …")],
    version: Annotated[
        str,
        typer.Argument(
            metavar="VERSION", help="a version number, or another alias to copy (e.g. candidate)"
        ),
    ],
    project: Project = None,
) -> None:
    """Point an alias at a version (audited).

    Examples: `modelyard models alias churn-clf champion 3 -p churn`;
    `modelyard models alias churn-clf champion candidate` (promote what `candidate` points at)
    """
    try:
        project = resolve_project(project)
        with connect() as client:
            number = _version_number(client, project, name, version)
            moved = client.models.set_alias(project, name, alias_name, number)
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(f"{name}@{alias_name} → version {moved.version}")


def _version_number(client: Client, project: str, name: str, given: str) -> int:
    """The version another alias of that name points at, else `3` or `v3`."""
    text = given.strip()
    if not text:
        raise InvalidInputError("give a version number or an alias", field="version")
    for v in client.models.versions(project, name):
        if text in v.aliases:
            return int(v.version)
    number = text.removeprefix("v")
    if number.isascii() and number.isdecimal():
        return int(number)
    raise NotFoundError(f"{name} has no version number {given!r} nor an alias of that name")
