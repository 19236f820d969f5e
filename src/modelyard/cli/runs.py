"""`modelyard run` and `modelyard runs`: run a project's script on the server and watch it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.client import connect
from modelyard.client.runs import Runs
from modelyard.errors import InvalidInputError, ModelyardError

app = typer.Typer(help="Runs: list them, read their output, cancel them.", no_args_is_help=True)
# Our own lines go to stderr, so stdout carries exactly what the script printed.
console = Console(stderr=True, highlight=False)


def _fail(exc: ModelyardError) -> typer.Exit:
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error:[/red] {escape(str(exc))}{field}")
    return typer.Exit(1)


def resolve_project(project: str | None) -> str:
    """--project, else $MODELYARD_PROJECT, else `project:` of ./modelyard.yaml."""
    return project or os.environ.get("MODELYARD_PROJECT") or _project_from_folder()


def _project_from_folder() -> str:
    """`project:` of ./modelyard.yaml, which `modelyard init` writes."""
    try:
        text = Path("modelyard.yaml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    found = re.search(r"^project:\s*([a-z0-9-]+)\s*$", text, re.MULTILINE)
    if found is None:
        raise InvalidInputError(
            "say which project: --project SLUG (or run it in a folder with a modelyard.yaml)",
            field="project",
        )
    return found.group(1)


def run(
    entrypoint: Annotated[str, typer.Argument(help="a .py file in the project's repository")],
    arguments: Annotated[
        list[str] | None, typer.Argument(help="arguments for the script, after --")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="project slug (default: from ./modelyard.yaml)"),
    ] = None,
    ref: Annotated[str, typer.Option(help="branch, tag or commit to run")] = "HEAD",
    name: Annotated[str, typer.Option(help="the run's name (default: run-ID)")] = "",
) -> None:
    """Run a script of the project's repository on the server and stream its output here.

    The code is what is pushed (at --ref), not your working copy. Ctrl-C asks whether to
    cancel the run; answer no and it goes on without you. Exits 0 when the run finishes.

    Example: `modelyard run train.py --project churn -- --C 0.5`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            created = client.runs.submit(slug, entrypoint, ref, arguments or [], name)
            run_id = int(created["id"])
            commit = str(created["commit"] or "")[:12]
            console.print(
                f"Run [bold]{run_id}[/bold] ({escape(created['name'])}): "
                f"{escape(created['entrypoint'])} at {escape(ref)} ({commit}) in {slug}"
            )
            console.print(f"  {client.url}/runs/{run_id}")
            final = _watch(client.runs, run_id)
    except ModelyardError as exc:
        raise _fail(exc) from None
    raise typer.Exit(_report(final))


def _watch(runs: Runs, run_id: int) -> dict[str, Any]:
    """Print the run's output until it ends; Ctrl-C offers to cancel it or to leave it."""
    offset = 0
    while True:
        try:
            for chunk in runs.follow(run_id, offset=offset):
                offset = chunk.offset
                _write(chunk.text)
            return runs.get(run_id)
        except KeyboardInterrupt:
            if not _confirm(f"\ncancel run {run_id}?"):
                console.print(
                    f"Left run {run_id} running. Follow it: `modelyard runs logs {run_id} "
                    f"--follow`; cancel it: `modelyard runs cancel {run_id}`"
                )
                raise typer.Exit(0) from None
            runs.cancel(run_id)
            console.print(f"Cancelling run {run_id}…")


def _confirm(question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except click.Abort:  # a second Ctrl-C, or no terminal to answer from
        return False


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _report(run: dict[str, Any]) -> int:
    seconds = run.get("duration_seconds")
    took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    if run["status"] == "finished":
        console.print(f"[green]Run {run['id']} finished{took}.[/green]")
        return 0
    if run["status"] == "killed":
        console.print(f"[yellow]Run {run['id']} was cancelled{took}.[/yellow]")
        return 1
    first = (str(run.get("error") or "").strip().splitlines() or [""])[0]
    console.print(f"[red]Run {run['id']} {run['status']}{took}:[/red] {escape(first)}")
    return 1


@app.command("list")
def list_runs(
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="project slug (default: from ./modelyard.yaml)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """The project's newest runs. Example: `modelyard runs list --project churn`"""
    try:
        project = resolve_project(project)
        with connect() as client:
            page = client.runs.list(project, limit=limit)
    except ModelyardError as exc:
        raise _fail(exc) from None
    table = Table("id", "name", "status", "user", "where", "started", "seconds", "metrics")
    for r in page["items"]:
        metrics = ", ".join(f"{k}={_number(v)}" for k, v in list(r["metrics"].items())[:3])
        seconds = "" if r["duration_seconds"] is None else f"{r['duration_seconds']:.1f}"
        table.add_row(
            str(r["id"]),
            escape(r["name"]),
            r["status"],
            r["user"] or "",
            r["source"],
            r["started_at"][:19].replace("T", " "),
            seconds,
            escape(metrics),
        )
    out = Console(highlight=False)
    if page["items"]:
        out.print(table)
        out.print(f"{len(page['items'])} of {page['total']} runs")
    else:
        out.print(f"No runs in {project} yet: `modelyard run train.py --project {project}`")


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command("logs")
def logs(
    run_id: Annotated[int, typer.Argument(help="the run's id")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="go on until it ends")] = False,
) -> None:
    """A remote run's output. Example: `modelyard runs logs 12 --follow`"""
    try:
        with connect() as client:
            for chunk in client.runs.follow(run_id, follow=follow):
                _write(chunk.text)
    except ModelyardError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command("cancel")
def cancel(run_id: Annotated[int, typer.Argument(help="the run's id")]) -> None:
    """Stop a remote run (its processes get SIGTERM, then SIGKILL). Example: `modelyard runs cancel 12`"""
    try:
        with connect() as client:
            result = client.runs.cancel(run_id)
    except ModelyardError as exc:
        raise _fail(exc) from None
    if result["status"] == "killed":
        console.print(f"Run {run_id} cancelled.")
    elif result["status"] in ("finished", "failed"):
        console.print(f"Run {run_id} had already ended ({result['status']}).")
    else:
        console.print(f"Run {run_id} is stopping (cancel sent; it is still {result['status']}).")
