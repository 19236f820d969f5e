from __future__ import annotations

import socket
from typing import Annotated

import typer
from rich.console import Console

from modelyard.client import connect
from modelyard.client.config_file import SavedLogin, forget_login, load_login, save_login
from modelyard.client.transport import Transport
from modelyard.errors import ModelyardError

console = Console()


def login(
    url: Annotated[str, typer.Argument(help="the server, e.g. http://127.0.0.1:8000")],
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="read from $MODELYARD_PASSWORD or asked", envvar="MODELYARD_PASSWORD"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="use an existing API token instead of a password")
    ] = None,
) -> None:
    """Sign in to a server and keep an API token in your config for the SDK and CLI.

    Example: `modelyard login http://127.0.0.1:8000 -u newhire`
    """
    url = url.rstrip("/")
    try:
        if token is None:
            username = username or typer.prompt("Username")
            password = password or typer.prompt("Password", hide_input=True)
            name = f"cli@{socket.gethostname()}"[:100]
            body = {"username": username, "password": password, "name": name}
            transport = Transport(url, None)
            try:
                answer = transport.request("POST", "/api/v1/auth/token", json=body)
            finally:
                transport.close()
            token = str(answer["token"])
        with connect(url, token) as client:
            me = client.me()
    except ModelyardError as exc:
        console.print(f"[red]login failed:[/red] {exc}")
        raise typer.Exit(1) from None
    path = save_login(SavedLogin(url=url, token=token, username=me["username"]))
    console.print(f"Signed in to {url} as [bold]{me['username']}[/bold]; token saved in {path}")


def logout() -> None:
    """Forget the saved token on this machine (revoke it in the portal to end it everywhere)."""
    console.print("Signed out." if forget_login() else "You were not signed in.")


def whoami() -> None:
    """Show who you are signed in as, and where."""
    saved = load_login()
    try:
        with connect() as client:
            me = client.me()
            console.print(
                f"{me['username']} on {client.url}" + (" (admin)" if me["is_admin"] else "")
            )
    except ModelyardError as exc:
        where = saved.url if saved else "no server"
        console.print(f"[red]not signed in[/red] ({where}): {exc}")
        raise typer.Exit(1) from None
