"""The `modelyard` command. Server-side modules are imported only inside `up` and `admin`,
so `modelyard --help` and the client commands start fast."""

from __future__ import annotations

import typer

from modelyard.cli import (
    admin,
    alerts,
    auth,
    code,
    datasets,
    deploy,
    endpoints,
    models,
    projects,
    runs,
    up,
)

app = typer.Typer(
    name="modelyard",
    help="modelyard: code, data, experiments, models and live services in one place.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("up")(up.up)
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("init")(code.init)
app.command("clone")(code.clone)
app.command("push")(code.push)
app.command("git-credential", hidden=True)(code.git_credential)
app.command("run")(runs.run)
app.command("deploy")(deploy.deploy)
app.add_typer(projects.app, name="projects")
app.add_typer(datasets.app, name="datasets")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(alerts.app, name="alerts")
app.add_typer(admin.app, name="admin")
