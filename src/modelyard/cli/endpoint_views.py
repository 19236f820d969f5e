"""How endpoints look in the terminal: variants with share bars, replicas, last minute's
figures, a curl example; and the parts every endpoint command shares (the project, errors,
the wait for replicas)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelyard.cli.runs import resolve_project as resolve_project  # shared by the commands
from modelyard.client import Client
from modelyard.client.endpoint_types import Endpoint, Variant
from modelyard.errors import ModelyardError

# Our own lines go to stderr, so stdout carries only what scripts want (answers, tokens).
console = Console(stderr=True, highlight=False)
out = Console(highlight=False)
BAR_WIDTH = 10
EXAMPLE_VALUES: dict[str, object] = {
    "number": 0.0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "datetime": "2024-01-01T00:00:00",
}
KEY_VARIABLE = "MODELYARD_ENDPOINT_KEY"


def fail(exc: ModelyardError) -> typer.Exit:
    field = f" (field: {exc.field})" if exc.field else ""
    console.print(f"[red]error:[/red] {escape(str(exc))}{field}")
    return typer.Exit(1)


def share_bar(share: float) -> str:
    filled = round(share * BAR_WIDTH)
    return f"[green]{'█' * filled}[/green][dim]{'░' * (BAR_WIDTH - filled)}[/dim] {share:>4.0%}"


def _serves(variant: Variant) -> str:
    served = f"v{variant.version}" if variant.version is not None else "nothing (alias unset)"
    return f"{variant.model}@{variant.alias} → {served}" if variant.alias else variant.ref


def _code(variant: Variant) -> str:
    """Which prediction code serves: the project's predict.py at a commit, or built in."""
    if not variant.commit:
        return "built-in"
    return f"{variant.code_ref or 'HEAD'}@{variant.commit[:7]}"


def variants_table(endpoint: Endpoint, served: dict[str, float] | None = None) -> Table:
    """Variants with weights and share bars; `served` adds the share each really got
    (over the last minute)."""
    # only "serves" may wrap, so names, bars and figures stay whole in a narrow terminal
    table = Table()
    table.add_column("variant", no_wrap=True)
    table.add_column("serves", overflow="fold")
    table.add_column("weight", justify="right", no_wrap=True)
    table.add_column("share", no_wrap=True)
    if served is not None:
        table.add_column("served", justify="right", no_wrap=True)
    table.add_column("code", no_wrap=True)
    for v in endpoint.variants:
        live = v.mode == "live"
        row = [
            escape(v.name),
            escape(_serves(v)),
            f"{v.weight:g}" if live else "",
            share_bar(v.share) if live else "[dim]shadow: a copy[/dim]",
        ]
        if served is not None:
            row.append(f"{served.get(v.name, 0.0):.0%}" if live else "")
        table.add_row(*row, escape(_code(v)))
    return table


def headline(endpoint: Endpoint) -> str:
    colour = {"running": "green", "starting": "yellow", "degraded": "yellow"}.get(
        endpoint.status, "dim"
    )
    ready = sum(1 for r in endpoint.replicas if r.state == "ready")
    replicas = (
        f" · {ready}/{len(endpoint.replicas)} replicas ready" if endpoint.state == "running" else ""
    )
    access = "public" if endpoint.public else "API key required"
    return (
        f"[bold]{escape(endpoint.project)}/{escape(endpoint.name)}[/bold] "
        f"[{colour}]{endpoint.status}[/{colour}]{replicas} · {access}\n  {endpoint.url}"
    )


def replicas_table(endpoint: Endpoint) -> Table:
    table = Table("replica", "pid", "state", "restarts", "in flight", "started")
    for r in endpoint.replicas:
        table.add_row(
            r.id,
            str(r.pid or ""),
            r.state,
            str(r.restarts),
            str(r.inflight),
            r.started_at.isoformat(sep=" ", timespec="seconds"),
        )
    return table


def last_minute(summary: dict[str, Any]) -> str:
    if not summary["requests"]:
        return "last minute: no requests"
    p99 = "-" if summary["p99_ms"] is None else f"{summary['p99_ms']:.1f} ms"
    rate = summary["error_rate"] or 0.0
    return (
        f"last minute: {summary['requests_per_second']:.1f} req/s · p99 {p99} · "
        f"errors {rate:.1%} ({summary['errors']} of {summary['requests']})"
    )


def example_record(client: Client, endpoint: Endpoint) -> dict[str, object]:
    """A record shaped like the first live variant's signature (zeros), for examples."""
    live = [v for v in endpoint.variants if v.mode == "live"] or endpoint.variants
    if live and live[0].version is not None:
        try:
            version = client.models.get(f"{endpoint.project}/{live[0].model}@{live[0].version}")
        except ModelyardError:
            version = None
        if version is not None and version.signature:
            return {f["name"]: EXAMPLE_VALUES.get(f["type"], 0) for f in version.signature}
    return {"feature": 0.0}


def curl_example(endpoint: Endpoint, record: dict[str, object]) -> str:
    body = json.dumps({"inputs": record})
    auth = "" if endpoint.public else f' \\\n  -H "Authorization: Bearer ${KEY_VARIABLE}"'
    return f"curl {endpoint.url}{auth} \\\n  -H 'Content-Type: application/json' -d '{body}'"


def show_call(client: Client, endpoint: Endpoint) -> None:
    """The URL and a curl example (with a key hint for a non-public endpoint)."""
    console.print("\nCall it:")
    # soft_wrap: no line breaks of ours inside the command, so it pastes as it is
    curl = curl_example(endpoint, example_record(client, endpoint))
    console.print(curl, markup=False, soft_wrap=True)
    if not endpoint.public:
        console.print(
            f"[dim]{KEY_VARIABLE}: an endpoint key, from "
            f"`{KEY_VARIABLE}=$(modelyard endpoints keys create {escape(endpoint.name)} "
            f"-p {escape(endpoint.project)})`[/dim]",
            soft_wrap=True,
        )


def wait_ready(client: Client, project: str, name: str, timeout: float) -> Endpoint:
    """Wait for the replicas with a spinner that says how far they are."""
    with console.status(f"Starting {project}/{name}…") as status:

        def progress(endpoint: Endpoint) -> None:
            ready = sum(1 for r in endpoint.replicas if r.state == "ready")
            status.update(
                f"Starting {project}/{name}: {ready}/{endpoint.min_replicas} replicas ready "
                f"({endpoint.status})…"
            )

        return client.endpoints.wait_ready(project, name, timeout, on_status=progress)
