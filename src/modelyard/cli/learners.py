"""`modelyard endpoints learners | learn | quality | feedback`: online learning from the
terminal — the learners of an endpoint's online variants, pausing, checkpointing and rolling
them back, how well the endpoint predicts, and labels sent from a JSON-lines file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelyard.cli.endpoint_views import KEY_VARIABLE, console, fail, out, resolve_project
from modelyard.client import connect
from modelyard.client.online_types import (
    Comparison,
    FeedbackTotals,
    Learner,
    Quality,
    VariantQuality,
)
from modelyard.errors import InvalidInputError, ModelyardError

learn_app = typer.Typer(
    help="Steer an online variant's learner: pause, resume, checkpoint, rollback.",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="the endpoint's name")]
VariantName = Annotated[str, typer.Argument(help="the online variant's name")]
Project = Annotated[
    str | None,
    typer.Option(
        "--project", "-p", help="project slug (default: $MODELYARD_PROJECT, ./modelyard.yaml)"
    ),
]
_DURATION = re.compile(r"^([0-9]+)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ITEM_FIELD = re.compile(r"^feedback\[(\d+)\]")
WINDOW_MIN, WINDOW_MAX = 60, 7 * 86400


def register(app: typer.Typer) -> None:
    """Add these commands to `modelyard endpoints`."""
    app.command("learners")(learners)
    app.add_typer(learn_app, name="learn")
    app.command("quality")(quality)
    app.command("feedback")(feedback)


def parse_window(text: str) -> int:
    """Seconds from `15m`, `1h`, `24h`, `7d` or `900`; InvalidInputError when out of range."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        raise InvalidInputError(
            f"{text!r} is not a duration: write e.g. 15m, 1h, 24h or 7d", field="window"
        )
    seconds = int(found[1]) * _UNIT_SECONDS[found[2]]
    if not WINDOW_MIN <= seconds <= WINDOW_MAX:
        raise InvalidInputError("the window is 1m to 7d", field="window")
    return seconds


def _figure(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _prequential(learner: Learner) -> str:
    p = learner.prequential
    if "accuracy" in p:
        return _figure(p["accuracy"])
    return f"MAE {_figure(p.get('mae'))} · RMSE {_figure(p.get('rmse'))}"


def _checkpoint(learner: Learner) -> str:
    return "—" if learner.checkpoint_version is None else f"v{learner.checkpoint_version}"


def _state(learner: Learner) -> str:
    colour = {"learning": "green", "paused": "yellow", "starting": "yellow"}.get(
        learner.state, "dim"
    )
    paused = " (paused)" if learner.paused and learner.state != "paused" else ""
    return f"[{colour}]{learner.state}[/{colour}]{paused}"


def learners_table(items: list[Learner]) -> Table:
    """One row per learner; in an 80-column terminal long figures fold rather than a column
    being dropped (seven columns fit only without the vertical rules)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("variant", overflow="fold", min_width=7, max_width=16)
    table.add_column("state", min_width=8, max_width=10)  # "(paused)" on a line of its own
    table.add_column("cursor/head", justify="right", overflow="fold", min_width=11, max_width=13)
    table.add_column("lag", justify="right", min_width=7, max_width=10)
    table.add_column("prequential", justify="right", min_width=11, max_width=13)
    table.add_column("drifts", justify="right", no_wrap=True)
    table.add_column("checkpoint", no_wrap=True)
    for learner in items:
        table.add_row(
            escape(learner.variant),
            _state(learner),
            f"{learner.cursor}/{learner.head}",
            f"{learner.lag_events} ({learner.lag_seconds:.0f} s)",
            _prequential(learner),
            str(learner.drifts),
            _checkpoint(learner),
        )
    return table


def learners(name: Name, project: Project = None) -> None:
    """The learners of an endpoint's online variants: state, lag, prequential accuracy.

    Example: `modelyard endpoints learners churn`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            items = client.endpoints.online.learners(slug, name)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not items:
        out.print(
            f"No learners on {escape(slug)}/{escape(name)}: only online variants learn (a River "
            "model, or a predict.py whose Predictor has `learn`), once the endpoint has run."
        )
        return
    out.print(learners_table(items))
    for learner in items:
        when = learner.checkpointed_at
        at = f", checkpointed {when.isoformat(sep=' ', timespec='seconds')}" if when else ""
        out.print(
            f"[dim]{escape(learner.variant)} serves {escape(learner.serving)}; "
            f"{learner.learned} learned, {learner.scored} scored{at}[/dim]"
        )
        if learner.error:
            console.print(f"[red]{escape(learner.variant)}:[/red] {escape(learner.error)}")


def _done(slug: str, name: str, learner: Learner, what: str) -> None:
    console.print(
        f"{escape(slug)}/{escape(name)} {escape(learner.variant)}: {what} "
        f"(state {learner.state}, serving {escape(learner.serving)})."
    )


@learn_app.command("pause")
def pause(name: Name, variant: VariantName, project: Project = None) -> None:
    """Stop learning (labels wait); the variant serves on. Example: `modelyard endpoints learn pause churn online`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            learner = client.endpoints.online.pause_learning(slug, name, variant)
    except ModelyardError as exc:
        raise fail(exc) from None
    _done(slug, name, learner, "learning paused")


@learn_app.command("resume")
def resume(name: Name, variant: VariantName, project: Project = None) -> None:
    """Learn again, the waiting labels first. Example: `modelyard endpoints learn resume churn online`"""
    try:
        slug = resolve_project(project)
        with connect() as client:
            learner = client.endpoints.online.resume_learning(slug, name, variant)
    except ModelyardError as exc:
        raise fail(exc) from None
    _done(slug, name, learner, "learning resumed")


@learn_app.command("checkpoint")
def checkpoint(name: Name, variant: VariantName, project: Project = None) -> None:
    """Register the learned state as a new model version now.

    Example: `modelyard endpoints learn checkpoint churn online`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            version = client.endpoints.online.checkpoint(slug, name, variant)
    except ModelyardError as exc:
        raise fail(exc) from None
    console.print(
        f"Checkpointed {escape(slug)}/{escape(name)} {escape(variant)} as version {version}; "
        f"roll back to it with `modelyard endpoints learn rollback {escape(name)} "
        f"{escape(variant)} --version {version}`."
    )


@learn_app.command("rollback")
def rollback(
    name: Name,
    variant: VariantName,
    version: Annotated[
        int, typer.Option("--version", min=1, help="the model version (checkpoint) to serve")
    ],
    project: Project = None,
) -> None:
    """Serve a registered version (a checkpoint) of the variant's model and learn on from it.

    Example: `modelyard endpoints learn rollback churn online --version 7`
    """
    try:
        slug = resolve_project(project)
        with connect() as client:
            learner = client.endpoints.online.rollback_learner(slug, name, variant, version)
    except ModelyardError as exc:
        raise fail(exc) from None
    _done(slug, name, learner, f"rolled back to version {version}")


def _score(q: VariantQuality) -> str:
    if q.accuracy is not None:
        return f"accuracy {q.accuracy:.3f} vs baseline {_figure(q.baseline_accuracy)}"
    if q.mae is not None:
        return (
            f"MAE {q.mae:.4g} · RMSE {_figure(q.rmse, 4)} "
            f"vs baseline {_figure(q.baseline_mae, 4)} · {_figure(q.baseline_rmse, 4)}"
        )
    return "—"


def quality_table(quality: Quality) -> Table:
    table = Table()
    table.add_column("variant", no_wrap=True)
    table.add_column("labels", justify="right", no_wrap=True)
    table.add_column("score", overflow="fold")
    table.add_column("coverage", justify="right", no_wrap=True)
    table.add_column("delay", justify="right", no_wrap=True)
    for q in quality.summary:
        coverage = "—" if q.label_coverage is None else f"{q.label_coverage:.0%}"
        delay = "—" if q.label_delay_seconds is None else f"{q.label_delay_seconds:.1f} s"
        late = f" ({q.late} late)" if q.late else ""
        table.add_row(escape(q.variant), f"{q.labels}{late}", _score(q), coverage, delay)
    return table


def readout(c: Comparison) -> str:
    """One A/B line: the difference with its 95% interval, and whether it is settled."""
    better = c.difference > 0 if c.metric == "accuracy" else c.difference < 0
    if c.significant:
        verdict = (
            f"[green]{escape(c.challenger)} is better[/green]"
            if better
            else (f"[red]{escape(c.challenger)} is worse[/red]")
        )
    else:
        verdict = "not significant yet"
    return (
        f"A/B {escape(c.challenger)} vs {escape(c.champion)}: {c.metric} {c.difference:+.3f} "
        f"(95% CI {c.low:+.3f} to {c.high:+.3f}, p={c.p_value:.3g}, "
        f"{c.labels[1]} vs {c.labels[0]} labels): {verdict}"
    )


def quality(
    name: Name,
    project: Project = None,
    window: Annotated[str, typer.Option("--window", "-w", help="15m, 1h, 24h, 7d …")] = "15m",
) -> None:
    """Is it predicting correctly? Accuracy or MAE per variant vs the baseline, and A/B.

    Per variant: labels, accuracy against the trivial baseline (or MAE and RMSE), label
    coverage and delay over the window; then the A/B read-out against the heaviest variant.

    Example: `modelyard endpoints quality churn --window 24h`
    """
    try:
        seconds = parse_window(window)
        slug = resolve_project(project)
        with connect() as client:
            found = client.endpoints.online.quality(slug, name, window=seconds)
    except ModelyardError as exc:
        raise fail(exc) from None
    if not any(q.labels for q in found.summary):
        out.print(
            f"No labels for {escape(slug)}/{escape(name)} in the last {escape(window)}: send "
            f"them with `modelyard endpoints feedback {escape(name)} --file labels.jsonl`."
        )
        if not found.summary:
            return
    out.print(quality_table(found))
    for comparison in found.comparisons:
        out.print(readout(comparison))
    if not found.comparisons and sum(1 for q in found.summary if q.labels) > 1:
        out.print("A/B: too few labels per variant to compare yet.")
    if found.duplicates:
        out.print(f"[dim]{found.duplicates} duplicate labels ignored in the window.[/dim]")


def _read_labels(path: Path, lines: list[int]) -> Iterator[dict[str, Any]]:
    """The labels of a JSON-lines file, lazily; `lines` gets each one's line number."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", field="file") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(
                    f"{path} line {number} is not JSON ({exc.msg}): write one "
                    '{"prediction_id": "...", "label": ...} per line',
                    field="file",
                ) from None
            if not isinstance(entry, dict):
                raise InvalidInputError(
                    f'{path} line {number}: a line is an object {{"prediction_id", "label"}}',
                    field="file",
                )
            lines.append(number)
            yield entry


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None  # reading it says why


def _with_line(exc: ModelyardError, path: Path, lines: list[int]) -> ModelyardError:
    """The server names a label by its place (`feedback[12].label`): say its line instead."""
    found = _ITEM_FIELD.match(exc.field or "")
    if found is None or int(found[1]) >= len(lines):
        return exc
    return type(exc)(f"{path} line {lines[int(found[1])]}: {exc.message}", field=exc.field)


def feedback(
    name: Name,
    file: Annotated[
        Path, typer.Option("--file", "-f", help='JSON lines: {"prediction_id": ..., "label": ...}')
    ],
    project: Project = None,
    token: Annotated[
        str | None,
        typer.Option(envvar=KEY_VARIABLE, help="an endpoint key (mye_…); default: your login"),
    ] = None,
) -> None:
    """Send labels for logged predictions from a JSON-lines file.

    Labels go 1000 a request, with a progress bar. Labels already given are counted as
    duplicates, so sending a file again is harmless.

    Example: `modelyard endpoints feedback churn --file labels.jsonl`
    """
    lines: list[int] = []
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("labels"),
        TimeElapsedColumn(),
        console=console,
    )
    totals = FeedbackTotals()
    try:
        slug = resolve_project(project)
        with connect() as client, progress:
            task = progress.add_task(f"{slug}/{name}", total=_count_lines(file))

            def advance(sent: int, _: FeedbackTotals) -> None:
                progress.advance(task, sent)

            totals = client.endpoints.online.feedback_many(
                slug, name, _read_labels(file, lines), token=token, on_batch=advance
            )
    except ModelyardError as exc:
        raise fail(_with_line(exc, file, lines)) from None
    sent = totals.accepted + totals.duplicates
    late = f" ({totals.late} late: scored, not learned from)" if totals.late else ""
    console.print(
        f"Sent {sent} labels to {escape(slug)}/{escape(name)}: {totals.accepted} accepted{late}, "
        f"{totals.duplicates} duplicates."
    )
