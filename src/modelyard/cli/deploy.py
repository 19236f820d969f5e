"""`modelyard deploy`: a registered model version onto an endpoint, live in one command."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from modelyard.cli.endpoint_views import (
    console,
    fail,
    headline,
    resolve_project,
    show_call,
    variants_table,
)
from modelyard.client import connect
from modelyard.client.deploy import Deployed
from modelyard.client.endpoint_types import Endpoint
from modelyard.client.models import parse_ref
from modelyard.errors import InvalidInputError, ModelyardError


def deploy(
    model_ref: Annotated[
        str,
        typer.Argument(
            metavar="MODEL@REF", help="churn-clf@champion, churn-clf@3 or churn/churn-clf@…"
        ),
    ],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", "-e", help="default: the model's name")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            "-p",
            help="default: from MODEL@REF, $MODELYARD_PROJECT or ./modelyard.yaml",
        ),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="the variant's name (default: the alias, or v3)")
    ] = None,
    weight: Annotated[
        float | None,
        typer.Option(min=0, help="default: 100 on a new endpoint, 0 on one with traffic"),
    ] = None,
    shadow: Annotated[
        bool, typer.Option("--shadow", help="get a copy of live traffic; answers only logged")
    ] = False,
    code: Annotated[
        str | None,
        typer.Option(
            help="branch, tag or commit whose predict.py serves ('' = the flavor's default)"
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait until a started endpoint answers")] = True,
    timeout: Annotated[float, typer.Option(min=1, help="seconds to wait for it")] = 120.0,
) -> None:
    """Serve a model version from an endpoint (created and started when it is new).

    Deploying never silently moves traffic: on an endpoint that already serves traffic the
    new variant gets weight 0 until you `modelyard endpoints split` (or pass --weight).

    Example: `modelyard deploy churn-clf@champion --endpoint churn`
    """
    try:
        if "/" in model_ref:
            slug, model, ref = parse_ref(model_ref, None)
            if project and slug != project:
                raise InvalidInputError(
                    f"{model_ref!r} names project {slug!r} but --project says {project!r}",
                    field="project",
                )
        else:
            slug, model, ref = parse_ref(model_ref, resolve_project(project))
        name = endpoint or model
        with connect() as client:
            with console.status(f"Deploying {model}@{ref} to {slug}/{name}…") as status:
                deployed = client.endpoints.deploy(
                    model_ref,
                    endpoint=name,
                    project=slug,
                    variant=variant,
                    weight=weight,
                    mode="shadow" if shadow else "live",
                    code=code,
                    wait=wait,
                    timeout=timeout,
                    on_status=lambda e: status.update(_progress(e)),
                )
            _report(deployed)
            if deployed.endpoint.state == "running":
                show_call(client, deployed.endpoint)
    except ModelyardError as exc:
        raise fail(exc) from None


def _progress(endpoint: Endpoint) -> str:
    ready = sum(1 for r in endpoint.replicas if r.state == "ready")
    return (
        f"Starting {endpoint.project}/{endpoint.name}: "
        f"{ready}/{endpoint.min_replicas} replicas ready ({endpoint.status})…"
    )


def _report(deployed: Deployed) -> None:
    endpoint = deployed.endpoint
    new = endpoint.variant(deployed.variant)
    console.print(headline(endpoint))
    console.print(variants_table(endpoint))
    what = f"{escape(new.name)} ({escape(new.ref)})"
    if new.mode == "shadow":
        console.print(
            f"Added {what} as a shadow: it sees a copy of live traffic; its answers are "
            "logged (the endpoint page, `client.endpoints.predictions(..., shadow=True)`), "
            "never returned."
        )
    elif new.weight == 0:
        console.print(
            f"Added {what} with weight 0: it gets no traffic until you split. To give it 10% "
            "and keep the others' proportions:\n"
            f"  modelyard endpoints split {escape(endpoint.name)} -p {escape(endpoint.project)} "
            f"{escape(ten_percent_split(endpoint, new.name))}"
        )
    elif endpoint.state == "stopped":
        console.print(
            f"Added {what}; {escape(endpoint.name)} is stopped: "
            f"`modelyard endpoints start {escape(endpoint.name)} -p {escape(endpoint.project)}`"
        )
    elif endpoint.status == "running":
        created = "Created and started" if deployed.created else "Started"
        verb = created if deployed.started else "Added to"
        console.print(f"[green]{verb} {escape(endpoint.name)}: it is live.[/green]")
    else:
        console.print(
            f"{escape(endpoint.name)} is {endpoint.status}: follow it with "
            f"`modelyard endpoints status {escape(endpoint.name)} -p {escape(endpoint.project)}`"
        )


def ten_percent_split(endpoint: Endpoint, name: str) -> str:
    """`champion=81 challenger=9 nico=10`: the live variants' shares scaled to 90, plus 10."""
    parts = [
        f"{v.name}={round(v.share * 90, 1):g}"
        for v in endpoint.variants
        if v.mode == "live" and v.name != name and v.share > 0
    ]
    return " ".join([*parts, f"{name}=10"])
