"""`modelyard endpoints keys`: the API keys apps send with prediction requests."""

from __future__ import annotations

import socket
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli.endpoint_views import KEY_VARIABLE, console, fail, out, resolve_project
from modelyard.client import Client, connect
from modelyard.client.endpoint_types import EndpointKey
from modelyard.errors import InvalidInputError, ModelyardError, NotFoundError

app = typer.Typer(help="Endpoint API keys: create, list, revoke.", no_args_is_help=True)
Endpoint = Annotated[str, typer.Argument(help="the endpoint's name")]
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-p", help="project slug (default: $MODELYARD_PROJECT, ./modelyard.yaml)"
    ),
]


def _default_name() -> str:
    return f"cli@{socket.gethostname()}"[:100]


@app.command("create")
def create(
    endpoint: Endpoint,
    project: Project = None,
    name: Annotated[
        str | None, typer.Option("--name", help="what uses it (default: cli@this-machine)")
    ] = None,
) -> None:
    """Make a key and print its token: on stdout alone, so scripts can keep it. It is shown
    only now.

    Example: `export MODELYARD_ENDPOINT_KEY=$(modelyard endpoints keys create churn --name billing)`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            key = client.endpoints.keys.create(slug, endpoint, name or _default_name())
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(
        f"Key {key.id} ({escape(key.name)}) for {escape(slug)}/{escape(endpoint)}; "
        "its token is shown only now, and replicas accept it within a second. Send it as "
        f"`Authorization: Bearer <token>` (the CLI reads ${KEY_VARIABLE}):"
    )
    typer.echo(key.token)


@app.command("list")
def list_keys(endpoint: Endpoint, project: Project = None) -> None:
    """An endpoint's keys (never their tokens). Example: `modelyard endpoints keys list churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            keys = client.endpoints.keys.list(slug, endpoint)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not keys:
        out.print(f"No keys yet: `modelyard endpoints keys create {escape(endpoint)} -p {slug}`")
        return
    table = Table("id", "name", "starts with", "created by", "created", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            escape(k.name),
            k.prefix,
            k.created_by or "",
            k.created_at.isoformat(sep=" ", timespec="seconds"),
            k.revoked_at.isoformat(sep=" ", timespec="seconds") if k.revoked_at else "",
        )
    out.print(table)


def _find(client: Client, slug: str, endpoint: str, which: str) -> EndpointKey:
    """A key by id, or by name among the keys not yet revoked."""
    keys = client.endpoints.keys.list(slug, endpoint)
    if which.isdigit():
        found = [k for k in keys if k.id == int(which)]
    else:
        found = [k for k in keys if k.name == which and k.revoked_at is None]
    if not found:
        raise NotFoundError(f"{slug}/{endpoint} has no key {which!r}", field="key")
    if len(found) > 1:
        raise InvalidInputError(
            f"{len(found)} keys are named {which!r}: revoke one by its id "
            f"(`modelyard endpoints keys list {endpoint}`)",
            field="key",
        )
    return found[0]


@app.command("revoke")
def revoke(
    endpoint: Endpoint,
    key: Annotated[str, typer.Argument(help="the key's id or name")],
    project: Project = None,
) -> None:
    """Revoke a key: replicas refuse it within a second. Example: `modelyard endpoints keys revoke churn 3`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            revoked = client.endpoints.keys.revoke(
                slug, endpoint, _find(client, slug, endpoint, key).id
            )
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Revoked key {revoked.id} ({escape(revoked.name)}) of {slug}/{endpoint}.")
