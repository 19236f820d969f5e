"""What happened lately in projects, for the overview and a project's page: the newest runs
with a headline metric each, the models with their latest version and aliases, and the
endpoints with their state and traffic."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from modelyard.experiments import summary as run_summary
from modelyard.experiments.schemas import RunPublic
from modelyard.experiments.service import describe as describe_runs
from modelyard.projects.schemas import ProjectPublic
from modelyard.projects.service import ProjectRow
from modelyard.registry import summary as model_summary
from modelyard.registry.schemas import ModelPublic
from modelyard.registry.service import describe_models
from modelyard.serving.views import ReplicasOf
from modelyard.web.endpoint_traffic import EndpointLine, endpoint_counts, recent_endpoints

RECENT_RUNS = 5
RECENT_MODELS = 8


@dataclass
class Activity:
    runs: list[RunPublic] = field(default_factory=list)
    headline: dict[int, tuple[str, float | str]] = field(default_factory=dict)
    models: list[ModelPublic] = field(default_factory=list)
    endpoints: list[EndpointLine] = field(default_factory=list)


def headline_metrics(runs: Sequence[RunPublic]) -> dict[int, tuple[str, float | str]]:
    """One metric per run worth showing in a short list: per project, the key most of the
    listed runs have (so the values compare), else the run's first."""
    by_project: dict[str, list[RunPublic]] = defaultdict(list)
    for run in runs:
        by_project[run.project].append(run)
    found: dict[int, tuple[str, float | str]] = {}
    for group in by_project.values():
        counts = Counter(k for run in group for k in run.metrics)
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        for run in group:
            key = next((k for k in ranked if k in run.metrics), None)
            if key is not None:
                found[run.id] = (key, run.metrics[key])
    return found


def activity_of(
    session: Session, projects: Sequence[ProjectRow], replicas_of: ReplicasOf, base_url: str
) -> Activity:
    """The newest runs, recently changed models and the endpoints (running first) of these
    (already permitted) projects."""
    ids = [p.id for p in projects]
    runs = describe_runs(session, run_summary.latest_runs(session, ids, RECENT_RUNS))
    rows = model_summary.recent_models(session, ids, RECENT_MODELS)
    by_id = {p.id: p for p in projects}
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.project_id].append(row)
    described = {
        (by_id[project_id].slug, m.name): m
        for project_id, group in grouped.items()
        for m in describe_models(session, by_id[project_id], group)
    }
    models = [described[(by_id[row.project_id].slug, row.name)] for row in rows]
    endpoints = recent_endpoints(session, projects, replicas_of, base_url)
    return Activity(runs=runs, headline=headline_metrics(runs), models=models, endpoints=endpoints)


def with_activity_counts(
    session: Session, rows: Sequence[ProjectRow], projects: list[ProjectPublic]
) -> list[ProjectPublic]:
    """Add how many runs, models and endpoints each project holds (three queries)."""
    slugs = {row.id: row.slug for row in rows}
    runs = run_summary.run_counts(session, list(slugs))
    models = model_summary.model_counts(session, list(slugs))
    endpoints = endpoint_counts(session, list(slugs))
    by_slug = {slug: project_id for project_id, slug in slugs.items()}
    for project in projects:
        project_id = by_slug.get(project.slug)
        if project_id is not None:
            project.counts["runs"] = runs.get(project_id, 0)
            project.counts["models"] = models.get(project_id, 0)
            project.counts["endpoints"] = endpoints.get(project_id, 0)
    return projects
