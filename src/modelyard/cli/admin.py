"""Commands run on the server machine itself, against its home folder and database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Server administration (run on the server machine).", no_args_is_help=True)
console = Console()

HomeOption = Annotated[Path | None, typer.Option(help="data folder (default: $MODELYARD_HOME)")]


def _settings(home: Path | None):  # type: ignore[no-untyped-def]
    from modelyard.config import Settings

    return Settings(**({"home": home} if home else {})).prepare_home()  # type: ignore[arg-type]


@app.command("create-user")
def create_user(
    username: str,
    home: HomeOption = None,
    admin: Annotated[bool, typer.Option("--admin", help="give the global admin role")] = False,
    password: Annotated[str | None, typer.Option(envvar="MODELYARD_NEW_PASSWORD")] = None,
) -> None:
    """Create a user directly in the database. Example: `modelyard admin create-user ana --admin`"""
    from modelyard.accounts.actors import Actor
    from modelyard.accounts.passwords import Passwords
    from modelyard.accounts.schemas import UserCreate
    from modelyard.accounts.service import create_user as create
    from modelyard.db import make_engine, make_session_factory, migrate
    from modelyard.errors import ModelyardError
    from modelyard.validation import parse

    settings = _settings(home)
    password = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    system = Actor(id=0, username="system", is_admin=True, via="system")
    try:
        with make_session_factory(engine)() as session:
            data = parse(
                UserCreate, {"username": username, "password": password, "is_admin": admin}
            )
            create(session, system, data, passwords=Passwords.from_settings(settings))
    except ModelyardError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"Created user [bold]{username}[/bold]" + (" (admin)." if admin else "."))


@app.command("rotate-key")
def rotate_key(
    home: HomeOption = None,
    new_key_file: Annotated[
        Path | None,
        typer.Option(help="file holding the new key (needed when MODELYARD_SECRET_KEY is set)"),
    ] = None,
) -> None:
    """Re-encrypt every connection secret under a new secret key. Stop the server first.

    Example: `modelyard admin rotate-key --home /srv/modelyard`
    """
    from modelyard.data.keys import rotate_key as rotate
    from modelyard.db import make_engine, make_session_factory, migrate
    from modelyard.errors import ModelyardError

    settings = _settings(home)
    new_key = new_key_file.read_text().strip() if new_key_file else None
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        count = rotate(settings, make_session_factory(engine), new_key=new_key)
    except ModelyardError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    console.print(f"Re-encrypted the secrets of {count} connection(s) under the new key.")
    if new_key_file:
        console.print("Now set MODELYARD_SECRET_KEY to the new key and start the server.")
    else:
        console.print(f"The previous key is kept in {settings.home / 'secret.key.old'} (0600).")
