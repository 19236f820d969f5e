"""`modelyard alerts`: what needs attention on a project's endpoints, and the rules that
decide it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from modelyard.cli.endpoint_views import console, fail, out, resolve_project
from modelyard.client import connect
from modelyard.client.alerts import Alert
from modelyard.errors import ModelyardError

app = typer.Typer(help="Alerts: list, acknowledge, resolve; and their rules.", no_args_is_help=True)
rules_app = typer.Typer(help="Alert rules of an endpoint: add, list, rm.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-p", help="project slug (default: $MODELYARD_PROJECT, ./modelyard.yaml)"
    ),
]
Endpoint = Annotated[str, typer.Argument(help="the endpoint's name")]
AlertId = Annotated[int, typer.Argument(help="the alert's id (`modelyard alerts list`)")]


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@app.command("list")
def list_alerts(
    project: Project = None,
    state: Annotated[
        str | None, typer.Option("--state", help="firing, acknowledged or resolved")
    ] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", "-e", help="one endpoint")] = None,
) -> None:
    """The project's alerts, newest first. Example: `modelyard alerts list --state firing`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            alerts = client.alerts.list(slug, state=state, endpoint=endpoint)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not alerts:
        out.print(f"No {state + ' ' if state else ''}alerts in {escape(slug)}.")
        return
    table = Table("id", "state", "severity", "endpoint", "rule", "fired at", "now", "started")
    for a in alerts:
        table.add_row(
            str(a.id),
            a.state,
            a.severity,
            escape(a.endpoint),
            escape(a.rule),
            _value(a.value),
            _value(a.last_value),
            a.started_at.isoformat(sep=" ", timespec="seconds"),
        )
    out.print(table)


def _done(alert: Alert) -> None:
    console.print(
        f"Alert {alert.id} ({escape(alert.rule)} on {escape(alert.endpoint)}) is {alert.state}."
    )


@app.command("ack")
def acknowledge(alert_id: AlertId, project: Project = None) -> None:
    """Say someone is on it. Example: `modelyard alerts ack 7`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            _done(client.alerts.acknowledge(slug, alert_id))
    except ModelyardError as exc:
        raise fail(exc) from None


@app.command("resolve")
def resolve(alert_id: AlertId, project: Project = None) -> None:
    """Close an alert; it fires again if its figure stays bad. Example: `modelyard alerts resolve 7`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            _done(client.alerts.resolve(slug, alert_id))
    except ModelyardError as exc:
        raise fail(exc) from None


@rules_app.command("add")
def add_rule(
    endpoint: Endpoint,
    figure: Annotated[str, typer.Argument(help="error_rate, latency_p99_ms, accuracy, …")],
    op: Annotated[str, typer.Argument(help="> >= < <=")],
    threshold: Annotated[float, typer.Argument(help="the value the figure is compared with")],
    project: Project = None,
    name: Annotated[str | None, typer.Option("--name", help="default: the figure")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="one variant only")] = None,
    window: Annotated[int, typer.Option("--window", help="seconds the figure covers")] = 300,
    for_seconds: Annotated[int, typer.Option("--for", help="seconds it must hold")] = 0,
    severity: Annotated[str, typer.Option("--severity", help="warning or critical")] = "warning",
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="URL to POST alerts to; '-' reads it from stdin"),
    ] = None,
) -> None:
    """Add a rule. Example: `modelyard alerts rules add churn error_rate '>' 0.05 --for 60`"""
    if webhook == "-":
        webhook = sys.stdin.readline().strip()
    try:
        slug = resolve_project(project)
        with connect() as client:
            rule = client.alerts.add_rule(
                slug,
                endpoint,
                name or figure,
                figure,
                op,
                threshold,
                variant=variant,
                window_seconds=window,
                for_seconds=for_seconds,
                severity=severity,
                webhook=webhook,
            )
    except ModelyardError as exc:
        raise fail(exc) from None
    hook = f"; webhook on {rule.webhook_host}" if rule.webhook_host else ""
    console.print(
        f"Rule {rule.id} ({escape(rule.name)}): {rule.figure} {rule.op} {rule.threshold:g} "
        f"on {escape(slug)}/{escape(endpoint)} ({rule.severity}){hook}."
    )


@rules_app.command("list")
def list_rules(endpoint: Endpoint, project: Project = None) -> None:
    """An endpoint's rules. Example: `modelyard alerts rules list churn`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            rules = client.alerts.rules(slug, endpoint)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not rules:
        out.print(
            f"No rules yet: `modelyard alerts rules add {escape(endpoint)} error_rate '>' 0.05`"
        )
        return
    table = Table("id", "name", "condition", "window", "for", "severity", "webhook", "enabled")
    for r in rules:
        of = f" ({r.variant})" if r.variant else ""
        table.add_row(
            str(r.id),
            escape(r.name),
            escape(f"{r.figure}{of} {r.op} {r.threshold:g}"),
            f"{r.window_seconds} s",
            f"{r.for_seconds} s",
            r.severity,
            escape(r.webhook_host or ("set" if r.webhook_set else "")),
            "yes" if r.enabled else "no",
        )
    out.print(table)


@rules_app.command("rm")
def remove_rule(
    endpoint: Endpoint,
    rule_id: Annotated[int, typer.Argument(help="the rule's id")],
    project: Project = None,
) -> None:
    """Delete a rule and its alerts' history. Example: `modelyard alerts rules rm churn 3`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            client.alerts.remove_rule(slug, endpoint, rule_id)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(f"Deleted rule {rule_id} of {escape(slug)}/{escape(endpoint)}.")
