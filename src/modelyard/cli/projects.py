from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelyard.client import connect
from modelyard.errors import ModelyardError

app = typer.Typer(help="List, create and share projects.", no_args_is_help=True)
console = Console()


def _fail(exc: ModelyardError) -> typer.Exit:
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error:[/red] {exc}{field}")
    return typer.Exit(1)


@app.command("list")
def list_projects(
    archived: Annotated[bool, typer.Option(help="include archived projects")] = False,
) -> None:
    """The projects you can see. Example: `modelyard projects list`"""
    try:
        with connect() as client:
            items = client.projects.list(archived=archived)
    except ModelyardError as exc:
        raise _fail(exc) from None
    table = Table("slug", "name", "owners", "members", "your role")
    for p in items:
        table.add_row(
            p.slug, p.name, ", ".join(p.owners), str(len(p.members)), p.my_role or "(admin)"
        )
    console.print(table if items else "No projects yet: `modelyard projects create SLUG NAME`.")


@app.command("create")
def create(
    slug: str,
    name: str,
    description: Annotated[str, typer.Option(help="markdown")] = "",
) -> None:
    """Create a project you own. Example: `modelyard projects create churn "Customer churn"`"""
    try:
        with connect() as client:
            project = client.projects.create(slug, name, description)
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(f"Created [bold]{project.slug}[/bold].")


@app.command("add-member")
def add_member(
    slug: str,
    username: str,
    role: Annotated[str, typer.Option(help="viewer, editor or owner")] = "viewer",
) -> None:
    """Add a teammate or change their role.

    Example: `modelyard projects add-member churn newhire --role editor`
    """
    try:
        with connect() as client:
            member = client.projects.set_member(slug, username, role)
    except ModelyardError as exc:
        raise _fail(exc) from None
    console.print(f"{member.username} is now {member.role} of {slug}.")
