"""`modelyard init`, `modelyard clone`, `modelyard push` and the git credential helper behind them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from modelyard.client import connect, resolve_login
from modelyard.client.config_file import load_login
from modelyard.errors import ModelyardError, NotFoundError

console = Console()


def _git(folder: Path, *args: str, identity: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if identity:
        env.setdefault("GIT_AUTHOR_NAME", identity)
        env.setdefault("GIT_AUTHOR_EMAIL", f"{identity}@modelyard")
        env.setdefault("GIT_COMMITTER_NAME", identity)
        env.setdefault("GIT_COMMITTER_EMAIL", f"{identity}@modelyard")
    result = subprocess.run(["git", *args], cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        console.print(
            f"[red]git {args[0]} failed:[/red] {result.stderr.strip() or result.stdout.strip()}"
        )
        raise typer.Exit(1)
    return result


def _has_identity(folder: Path) -> bool:
    return (
        subprocess.run(["git", "config", "user.email"], cwd=folder, capture_output=True).returncode
        == 0
    )


def _helper() -> str:
    # git runs a `!` helper through the shell: quote the interpreter's path
    return f"!{shlex.quote(sys.executable)} -m modelyard git-credential"


def _use_modelyard_credentials(folder: Path, url: str) -> None:
    """Let git ask modelyard for the token (never written into .git/config), and only
    modelyard: the empty helper first drops the user's own helpers for this server, which
    git would otherwise hand the token to keep (`store` writes it to ~/.git-credentials)."""
    _git(folder, "config", "--replace-all", f"credential.{url}.helper", "")
    _git(folder, "config", "--add", f"credential.{url}.helper", _helper())


def _empty_folder(path: Path) -> Path:
    """Where a project's code will go: a new or empty folder, never over someone's files."""
    folder = path.resolve()
    if folder.exists() and any(folder.iterdir()):
        console.print(f"[red]{folder} is not empty[/red]; choose another --dir")
        raise typer.Exit(1)
    return folder


def init(
    name: Annotated[str, typer.Argument(help="project slug, e.g. churn")],
    template: Annotated[
        str, typer.Option(help="starter code: online-classifier or batch-classifier")
    ] = "online-classifier",
    title: Annotated[str | None, typer.Option(help="display name (default: the slug)")] = None,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="where to create it (default: ./NAME)")
    ] = None,
) -> None:
    """Create a project on the server (or use yours), scaffold starter code, commit and push it.

    Example: `modelyard init churn --template online-classifier`
    """
    folder = _empty_folder(directory or Path(name))
    try:
        with connect() as client:
            with console.status("Preparing the project on the server…"):
                try:
                    display_name = client.projects.get(name).name
                except NotFoundError:
                    display_name = ""
                # Fetch the template before creating anything, so a typo creates no project.
                files = client.code.template(
                    template, project=name, display_name=title or display_name or name
                )
                if not display_name:
                    client.projects.create(name, title or name)
                refs = client.code.refs(name)
            me = client.me()["username"]
            server = client.url
    except ModelyardError as exc:
        field = f" (field: {exc.field})" if exc.field else ""
        console.print(f"[red]error:[/red] {exc}{field}")
        raise typer.Exit(1) from None
    if not refs["empty"]:
        console.print(
            f"[red]{name} already has code[/red]: `git clone {refs['clone_url']}` instead"
        )
        raise typer.Exit(1)
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    clone_url = f"{server}/git/{name}.git"
    _git(folder, "init", "--quiet", "--initial-branch=main")
    _git(folder, "remote", "add", "origin", clone_url)
    _use_modelyard_credentials(folder, server)
    identity = None if _has_identity(folder) else me
    _git(folder, "add", "-A")
    _git(
        folder, "commit", "--quiet", "-m", f"Start from the {template} template", identity=identity
    )
    with console.status("Pushing to modelyard…"):
        _git(folder, "push", "--quiet", "-u", "origin", "main")
    console.print(f"Created [bold]{name}[/bold] from {template} in {folder}")
    console.print(f'Next: cd {folder} && python train.py, then `modelyard push -m "..."`')


def clone(
    name: Annotated[str, typer.Argument(help="project slug, e.g. churn")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="where to clone it (default: ./NAME)")
    ] = None,
) -> None:
    """Clone a project's repository with your modelyard login: no password to type or store.

    Example: `modelyard clone churn && cd churn`
    """
    folder = _empty_folder(directory or Path(name))
    try:
        with connect() as client:
            refs = client.code.refs(name)
            me = client.me()
            server = client.url
    except ModelyardError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    folder.parent.mkdir(parents=True, exist_ok=True)
    with console.status(f"Cloning {name}…"):
        _git(
            folder.parent,
            "-c",
            f"credential.{server}.helper=",
            "-c",
            f"credential.{server}.helper={_helper()}",
            "clone",
            "--quiet",
            f"{server}/git/{name}.git",
            str(folder),
        )
    _use_modelyard_credentials(folder, server)
    if not _has_identity(folder):  # commits carry your modelyard name, not "unknown"
        _git(folder, "config", "user.name", me.get("display_name") or me["username"])
        _git(folder, "config", "user.email", f"{me['username']}@modelyard")
    what = "an empty repository" if refs["empty"] else f"branch {refs['default_branch']}"
    console.print(f"Cloned [bold]{name}[/bold] ({what}) into {folder}")
    console.print('Next: edit, then `modelyard push -m "what you changed"`')


def push(
    message: Annotated[
        str, typer.Option("--message", "-m", help="commit message")
    ] = "Update from modelyard push",
    directory: Annotated[Path, typer.Option("--dir", help="the project clone")] = Path(),
) -> None:
    """Commit every change in the working tree and push it to the project's repository.

    Example: `modelyard push -m "Try a deeper tree"`
    """
    folder = directory.resolve()
    _git(folder, "rev-parse", "--git-dir")
    saved = load_login()
    identity = None if _has_identity(folder) else (saved.username if saved else "modelyard")
    _git(folder, "add", "-A")
    staged = subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=folder).returncode
    if staged:
        _git(folder, "commit", "--quiet", "-m", message, identity=identity)
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
    with console.status(f"Pushing {branch}…"):
        _git(folder, "push", "--quiet", "origin", f"HEAD:{branch}")
    sha = _git(folder, "rev-parse", "--short", "HEAD").stdout.strip()
    console.print(f"Pushed {branch} at {sha}" + ("" if staged else " (nothing new to commit)"))


def git_credential(operation: Annotated[str, typer.Argument()] = "get") -> None:
    """git credential helper: answers with the username and token `modelyard login` saved."""
    if operation != "get":
        return
    try:
        url, token = resolve_login(None, None)  # as connect() does: environment, then saved
    except ModelyardError:
        return
    if token is None:
        return
    saved = load_login()
    if saved is not None and saved.token == token:
        username = saved.username
    else:  # a token from the environment: git must send its owner's name with it
        try:
            with connect(url, token) as client:
                username = str(client.me()["username"])
        except ModelyardError:
            return
    request = dict(line.split("=", 1) for line in sys.stdin.read().splitlines() if "=" in line)
    server = urlsplit(url)
    if (server.scheme, server.netloc) == (request.get("protocol"), request.get("host")):
        sys.stdout.write(f"username={username}\npassword={token}\n")
