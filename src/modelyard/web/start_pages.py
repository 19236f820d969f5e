"""A project's "Start here" page: a guided tour for someone who has just joined it. What the
project is for, its code and which commit is live, the datasets it uses, its best runs, its
models and its endpoints with their health, each a link, all read from the project's state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.code import service as code_service
from modelyard.code.deps import RepoStoreDep
from modelyard.code.schemas import CommitPublic, RefsPublic
from modelyard.code.service import DEFAULT_BRANCH, RepoStore
from modelyard.data import service as data_service
from modelyard.data.schemas import DatasetPublic
from modelyard.errors import NotFoundError
from modelyard.experiments import service as run_service
from modelyard.projects import service as project_service
from modelyard.projects.schemas import ProjectPublic
from modelyard.registry import service as registry_service
from modelyard.registry.schemas import ModelPublic
from modelyard.serving.views import ReplicasOf
from modelyard.web.deps import PortalUser
from modelyard.web.endpoint_traffic import EndpointLine, recent_endpoints
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

BEST_RUNS = 5
LIVE_PER_KIND = 5
RUNS_PER_DATASET = 3
MAX_ENDPOINTS = 50
# Which runs read a dataset is looked up among this many of the newest runs: a tour, not an audit.
LINEAGE_RUNS = 1000
README_NAMES = ("README.md", "README.markdown", "README.txt", "README")


@dataclass(frozen=True)
class LiveCode:
    """One run, model version or endpoint variant and the commit it runs."""

    kind: str
    label: str
    commit: str
    live: bool
    at_head: bool
    href: str | None


@dataclass(frozen=True)
class Code:
    refs: RefsPublic
    head: CommitPublic | None = None
    readme_path: str | None = None
    entrypoint: str = "train.py"
    live: list[LiveCode] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetUse:
    """A dataset the project may read or its runs read; `dataset` is None when the reader can
    no longer see it (its grant to the project was withdrawn)."""

    name: str
    dataset: DatasetPublic | None
    granted: bool
    runs: list[tuple[int, str]]
    more_runs: int


@dataclass(frozen=True)
class Tour:
    project: ProjectPublic
    code: Code
    datasets: list[DatasetUse]
    best: run_service.BestRuns
    models: list[ModelPublic]
    endpoints: list[EndpointLine]


def datasets_of(session: Session, actor: Actor, project_id: int, slug: str) -> list[DatasetUse]:
    """Datasets granted to the project, then others its runs read, with the runs that read each."""
    names = run_service.newest_run_names(session, project_id, LINEAGE_RUNS)
    readers: dict[str, list[int]] = {}
    for run_id, inputs in data_service.inputs_of_runs(session, list(names)).items():
        for used in inputs:
            readers.setdefault(used.dataset, []).append(run_id)
    visible = data_service.list_datasets(session, actor)
    grants = data_service.grants_of(session, [row.id for row in visible])
    granted = {row.name for row in visible if slug in grants.get(row.id, [])}
    shown = [row for row in visible if row.name in granted or row.name in readers]
    described = {d.name: d for d in data_service.describe(session, actor, shown)}
    order = sorted(granted) + sorted(set(readers) - granted)
    found = []
    for name in order:
        run_ids = sorted(set(readers.get(name, [])), reverse=True)
        found.append(
            DatasetUse(
                name=name,
                dataset=described.get(name),
                granted=name in granted,
                runs=[(run_id, names[run_id]) for run_id in run_ids[:RUNS_PER_DATASET]],
                more_runs=max(0, len(run_ids) - RUNS_PER_DATASET),
            )
        )
    return found


def _link(slug: str, kind: str, object_id: str, label: str) -> str | None:
    """Where a code reference's object lives in the portal, read from the labels the
    experiments, registry and serving capabilities write."""
    if kind == "run" and object_id.isdigit():
        return f"/runs/{object_id}"
    if kind == "model_version" and " v" in label:
        return f"/projects/{slug}/models/{quote(label.rsplit(' v', 1)[0])}"
    if kind == "endpoint_variant" and label.startswith("endpoint "):
        return f"/projects/{slug}/endpoints/{quote(label.split(' ')[1])}"
    return None


def live_code(session: Session, actor: Actor, slug: str, head: str | None) -> list[LiveCode]:
    """Every live endpoint variant, and the newest runs and model versions, with their commit."""
    taken: Counter[str] = Counter()
    found = []
    for ref in code_service.list_code_refs(session, actor, slug):
        if ref.kind == "endpoint_variant" and not ref.live:
            continue
        if ref.kind != "endpoint_variant" and taken[ref.kind] >= LIVE_PER_KIND:
            continue
        taken[ref.kind] += 1
        label = ref.label or f"{ref.kind} {ref.object_id}"
        found.append(
            LiveCode(
                kind=ref.kind,
                label=label,
                commit=ref.commit,
                live=ref.live,
                at_head=ref.commit == head,
                href=_link(slug, ref.kind, ref.object_id, ref.label),
            )
        )
    order = {"endpoint_variant": 0, "model_version": 1, "run": 2}
    return sorted(found, key=lambda item: order.get(item.kind, 3))


def code_of(session: Session, actor: Actor, store: RepoStore, slug: str, base_url: str) -> Code:
    refs = code_service.refs(session, actor, store, slug, base_url)
    if refs.empty and not refs.branches:
        return Code(refs, live=live_code(session, actor, slug, None))
    try:
        head = code_service.history(session, actor, store, slug, DEFAULT_BRANCH, limit=1)[0]
        entries = code_service.tree(session, actor, store, slug, DEFAULT_BRANCH, "").entries
    except (NotFoundError, IndexError):  # pushed, but not to the default branch
        return Code(refs, live=live_code(session, actor, slug, None))
    files = [e.name for e in entries if e.kind != "dir"]
    readme = next((name for name in README_NAMES if name in files), None)
    scripts = [name for name in files if name.endswith(".py")]
    entrypoint = "train.py" if "train.py" in scripts or not scripts else scripts[0]
    return Code(refs, head, readme, entrypoint, live_code(session, actor, slug, head.sha))


def gather_tour(
    session: Session,
    actor: Actor,
    store: RepoStore,
    replicas_of: ReplicasOf,
    base_url: str,
    slug: str,
) -> Tour:
    """Everything the page shows, if the actor may view the project (else NotFoundError)."""
    project = project_service.get_project(session, actor, slug)
    return Tour(
        project=project_service.describe(session, actor, [project])[0],
        code=code_of(session, actor, store, slug, base_url),
        datasets=datasets_of(session, actor, project.id, slug),
        best=run_service.best_runs(session, project.id, BEST_RUNS),
        models=registry_service.list_models(session, actor, slug),
        endpoints=recent_endpoints(session, [project], replicas_of, base_url, MAX_ENDPOINTS),
    )


@router.get("/projects/{slug}/start")
def start_page(
    request: Request, slug: str, actor: PortalUser, session: SessionDep, store: RepoStoreDep
) -> Response:
    base_url: str = request.app.state.settings.base_url
    replicas_of: ReplicasOf = request.app.state.serving.supervisor.replicas
    tour = gather_tour(session, actor, store, replicas_of, base_url, slug)
    context = {
        "project": tour.project,
        "tab": "start",
        "tour": tour,
        "base_url": base_url.rstrip("/"),
        "example_dataset": next((d.name for d in tour.datasets if d.dataset), None),
        "example_model": tour.models[0].name if tour.models else None,
    }
    return render(request, "start.html", context)
