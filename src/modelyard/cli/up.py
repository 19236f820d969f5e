from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    home: Annotated[
        Path | None, typer.Option(help="data folder (default: $MODELYARD_HOME or ~/.modelyard)")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="load the demo users and project")] = False,
) -> None:
    """Start modelyard: migrate the database, create the first admin, serve API and portal.

    Example: `modelyard up --demo` then open http://127.0.0.1:8000
    """
    from pydantic import ValidationError

    from modelyard.config import Settings
    from modelyard.demo import DEMO_PASSWORD, DEMO_USERS
    from modelyard.errors import ModelyardError
    from modelyard.server import prepare, serve

    console = Console(stderr=True, soft_wrap=True)
    overrides: dict[str, object] = {}
    if home is not None:
        overrides["home"] = home
    if demo:
        overrides["demo"] = True
    try:
        prepared = prepare(Settings(**overrides))  # type: ignore[arg-type]
    except (ValidationError, ValueError, ModelyardError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    settings = prepared.settings
    console.print(f"modelyard home: {settings.home}")
    if prepared.generated_admin_password:
        console.print(
            "[bold]Created the first admin.[/bold] username: [cyan]admin[/cyan] "
            f"password: [cyan]{prepared.generated_admin_password}[/cyan]  (shown only this once)"
        )
    if settings.demo:
        users = ", ".join(DEMO_USERS)
        console.print(f"Demo loaded: users {users} with password [cyan]{DEMO_PASSWORD}[/cyan]")
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"Portal and API on [bold]http://{shown_host}:{port}[/bold]  (Ctrl-C stops)")
    serve(settings, host, port)
