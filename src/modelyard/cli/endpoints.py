"""`modelyard endpoints`: list, watch, start, stop, split traffic, remove a variant, roll back,
call."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli import endpoint_keys, learners
from modelyard.cli.endpoint_views import (
    KEY_VARIABLE,
    console,
    fail,
    headline,
    last_minute,
    out,
    replicas_table,
    resolve_project,
    share_bar,
    show_call,
    variants_table,
    wait_ready,
)
from modelyard.client import connect
from modelyard.client.endpoint_types import Endpoint
from modelyard.errors import AuthenticationError, InvalidInputError, ModelyardError

app = typer.Typer(
    help="Endpoints: status, start/stop, traffic split, rollback, keys, predict, learning.",
    no_args_is_help=True,
)
app.add_typer(endpoint_keys.app, name="keys")
Name = Annotated[str, typer.Argument(help="the endpoint's name")]
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-p", help="project slug (default: $MODELYARD_PROJECT, ./modelyard.yaml)"
    ),
]
_WEIGHT = re.compile(r"^([a-z][a-z0-9_-]{0,63})=([0-9]+(?:\.[0-9]+)?)$")


@app.command("list")
def list_endpoints(project: Project = None) -> None:
    """The project's endpoints with their status and traffic. Example: `modelyard endpoints list -p churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            items = client.endpoints.list(slug)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not items:
        out.print(f"No endpoints in {slug} yet: `modelyard deploy MODEL@ALIAS --endpoint NAME`")
        return
    table = Table("endpoint", "status", "traffic", "replicas")
    table.add_column("url", overflow="fold")  # whole, to copy, even in a narrow terminal
    for e in items:
        traffic = ", ".join(
            f"{escape(v.name)} {v.share:.0%}" if v.mode == "live" else f"{escape(v.name)} (shadow)"
            for v in e.variants
        )
        ready = sum(1 for r in e.replicas if r.state == "ready")
        replicas = f"{ready}/{len(e.replicas)}" if e.state == "running" else "-"
        table.add_row(escape(e.name), e.status, traffic, replicas, e.url)
    out.print(table)


@app.command("status")
def status(name: Name, project: Project = None) -> None:
    """Variants and traffic shares, replicas, last minute's req/s, p99 and errors.

    Example: `modelyard endpoints status churn`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            endpoint = client.endpoints.get(slug, name)
            summary = client.endpoints.metrics(slug, name, window=60, step=60)["summary"]
            events = client.endpoints.events(slug, name)[:3]
    except ModelyardError as exc:
        raise fail(exc) from None
    out.print(headline(endpoint))
    out.print(variants_table(endpoint, summary["variant_share"] if summary["requests"] else None))
    out.print(last_minute(summary))
    if endpoint.replicas:
        out.print(replicas_table(endpoint))
    for event in events:
        when = event.at.isoformat(sep=" ", timespec="seconds")
        out.print(f"[dim]{when}  {event.kind}: {escape(event.message)}[/dim]")


@app.command("start")
def start(
    name: Name,
    project: Project = None,
    wait: Annotated[bool, typer.Option(help="wait until its replicas answer")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="seconds to wait")] = 120.0,
) -> None:
    """Start an endpoint's replicas. Example: `modelyard endpoints start churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            endpoint = client.endpoints.start(slug, name)
            if wait:
                endpoint = wait_ready(client, slug, name, timeout)
            console.print(headline(endpoint))
            if endpoint.status == "running":
                show_call(client, endpoint)
    except ModelyardError as exc:
        raise fail(exc) from None


@app.command("stop")
def stop(name: Name, project: Project = None) -> None:
    """Stop an endpoint: it answers 503 until started again. Example: `modelyard endpoints stop churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            client.endpoints.stop(slug, name)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Stopped {escape(slug)}/{escape(name)}.")


def parse_weights(pairs: list[str]) -> dict[str, float]:
    """{"a": 90, "b": 10} from ["a=90", "b=10"], or InvalidInputError naming the bad one."""
    if not pairs:
        raise InvalidInputError("give VARIANT=WEIGHT pairs, e.g. champion=90 challenger=10")
    weights: dict[str, float] = {}
    for pair in pairs:
        found = _WEIGHT.match(pair.strip())
        if found is None:
            raise InvalidInputError(
                f"{pair!r} is not VARIANT=WEIGHT: write e.g. champion=90 (a variant name, "
                "'=', a number ≥ 0)",
                field="weights",
            )
        if found[1] in weights:
            raise InvalidInputError(f"variant {found[1]!r} is given twice", field="weights")
        weights[found[1]] = float(found[2])
    return weights


def _show_split(endpoint: Endpoint) -> None:
    for v in endpoint.variants:
        if v.mode == "live":
            console.print(f"  {escape(v.name):<20} {share_bar(v.share)}  (weight {v.weight:g})")


@app.command("split")
def split(
    name: Name,
    weights: Annotated[list[str], typer.Argument(metavar="VARIANT=WEIGHT...")],
    project: Project = None,
) -> None:
    """Set every live variant's weight at once (those not named get 0).

    Replicas follow within a second, without a failed request.

    Example: `modelyard endpoints split churn champion=90 challenger=10`
    """
    try:
        parsed = parse_weights(weights)
        slug = resolve_project(project)
        with connect() as client:
            endpoint = client.endpoints.split(slug, name, parsed)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Traffic of {escape(slug)}/{escape(name)}:")
    _show_split(endpoint)


@app.command("remove-variant")
def remove_variant(
    name: Name,
    variant: Annotated[str, typer.Argument(help="the variant to take off the endpoint")],
    project: Project = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Take a variant off the endpoint: replicas unload it within a second, and its share goes
    to the others in proportion. A running endpoint keeps at least one live variant with
    traffic, so its last one cannot be removed.

    Example: `modelyard endpoints remove-variant churn challenger`
    """
    try:
        slug = resolve_project(project)
        if not yes and not typer.confirm(f"Remove variant {variant} from {slug}/{name}?", err=True):
            raise typer.Exit(1)
        with connect() as client:
            endpoint = client.endpoints.remove_variant(slug, name, variant)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Removed {escape(variant)} from {escape(slug)}/{escape(name)}. Traffic:")
    _show_split(endpoint)


@app.command("rollback")
def rollback(name: Name, project: Project = None) -> None:
    """Put back the traffic split the endpoint had before. Example: `modelyard endpoints rollback churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            endpoint = client.endpoints.rollback(slug, name)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Rolled back {escape(slug)}/{escape(name)} to:")
    _show_split(endpoint)


@app.command("delete")
def delete(
    name: Name,
    project: Project = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Delete an endpoint, its variants, keys and prediction logs. Example: `modelyard endpoints delete churn --yes`"""
    try:
        slug = resolve_project(project)
        if not yes and not typer.confirm(
            f"Delete endpoint {slug}/{name}? Apps calling it will get 404.", err=True
        ):
            raise typer.Exit(1)
        with connect() as client:
            client.endpoints.delete(slug, name)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Deleted {escape(slug)}/{escape(name)}.")


def read_inputs(given: str | None) -> Any:
    """The JSON inputs: given inline, as @file.json, or on stdin (no argument, or '-')."""
    if given is None or given == "-":
        text, where = sys.stdin.read(), "stdin"
    elif given.startswith("@"):
        try:
            text, where = Path(given[1:]).read_text(encoding="utf-8"), given[1:]
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {given[1:]}: {exc.strerror}", field="inputs"
            ) from None
    else:
        text, where = given, "the inputs"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{where} is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
            """give one record like '{"tenure": 3}' or a list of them""",
            field="inputs",
        ) from None


@app.command("predict")
def predict(
    name: Name,
    inputs: Annotated[
        str | None,
        typer.Argument(help="""JSON: '{"x": 1}', a list of records, @file.json, or - for stdin"""),
    ] = None,
    project: Project = None,
    token: Annotated[
        str | None,
        typer.Option(envvar=KEY_VARIABLE, help="an endpoint key (mye_…); not needed if public"),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="route sticky: a key always gets one variant")
    ] = None,
) -> None:
    """Call an endpoint and print its answer as JSON.

    Example: `modelyard endpoints predict churn '{"tenure": 3, "charges": 42.5}' --token mye_…`
    """
    try:
        slug = resolve_project(project)
        records = read_inputs(inputs)
    except ModelyardError as exc:
        raise fail(exc) from None
    try:
        with connect() as client:
            answer = client.endpoints.predict(slug, name, records, key=key, token=token)
    except AuthenticationError:
        make = f"`modelyard endpoints keys create {escape(name)} -p {escape(slug)}`"
        problem = (
            f"needs an endpoint key: pass --token mye_… or set {KEY_VARIABLE} (make one: {make})"
            if token is None
            else "refused that key (revoked, another endpoint's, or made less than a second "
            f"ago); make one: {make}"
        )
        console.print(f"[red]error:[/red] {escape(slug)}/{escape(name)} {problem}")
        raise typer.Exit(1) from None
    except ModelyardError as exc:
        raise fail(exc) from None
    shown: dict[str, Any] = {"outputs": answer.outputs, "variant": answer.variant}
    if isinstance(records, dict):
        shown["prediction_id"] = answer.prediction_id
    else:
        shown["prediction_ids"] = answer.prediction_ids
    typer.echo(json.dumps(shown, indent=2))


learners.register(app)  # learners, learn, quality, feedback: after these in --help
