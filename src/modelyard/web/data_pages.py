"""The data catalog: find a dataset, read what it holds, profile it, freeze it, see who uses it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from modelyard.accounts.actors import Actor
from modelyard.accounts.deps import SessionDep
from modelyard.data import profiles, reads, service, snapshots, usage
from modelyard.data.deps import BoxDep
from modelyard.data.schemas import ColumnProfile, SnapshotCreate
from modelyard.data.secrets import SecretBox
from modelyard.errors import ModelyardError
from modelyard.storage import ArtifactStore, StoreDep
from modelyard.web.charts import plotly_context, profile_charts
from modelyard.web.deps import CheckedForm, PortalUser, text_field
from modelyard.web.forms import parse
from modelyard.web.templating import render

router = APIRouter(include_in_schema=False)

SAMPLE_ROWS = 20
NOTICES = {
    "created": "Dataset created. Profile it below to see what it holds.",
    "saved": "Changes saved.",
    "profiled": "Profile computed.",
    "snapshot": "Snapshot frozen. Runs can now read exactly these rows by its id.",
    "snapshot-exists": "The data has not changed since an earlier snapshot; that one is listed.",
}


@router.get("/data")
def catalog_page(
    request: Request,
    actor: PortalUser,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    visible = service.list_datasets(session, actor)
    tags = sorted({t for row in visible for t in row.tags}, key=str.lower)
    rows = service.list_datasets(session, actor, q=q, tag=tag) if q.strip() or tag else visible
    context = {
        "datasets": service.describe(session, actor, rows),
        "any_visible": bool(visible),
        "tags": tags,
        "q": q,
        "tag": tag,
    }
    return render(request, "data_catalog.html", context)


def _sample(
    request: Request,
    session: Session,
    actor: Actor,
    box: SecretBox,
    store: ArtifactStore,
    name: str,
) -> tuple[list[str], list[list[object]], ModelyardError | None]:
    """The first rows, read live from the source; a source that fails is shown, not fatal."""
    try:
        opened = reads.open_read(session, actor, box, store, name, limit=SAMPLE_ROWS)
        columns, rows = reads.sample_rows(opened)
    except ModelyardError as error:
        session.rollback()
        return [], [], error
    reads.record_read(
        request.app.state.session_factory,
        dataset_id=opened.dataset.id,
        snapshot_id=None,
        user_id=actor.id,
        purpose="sample",
        rows=len(rows),
    )
    return columns, rows, None


def dataset_view(
    request: Request,
    session: Session,
    actor: Actor,
    box: SecretBox,
    store: ArtifactStore,
    name: str,
    *,
    error: ModelyardError | None = None,
    done: str | None = None,
) -> Response:
    row = service.get_dataset(session, actor, name)
    # Read first: the read refreshes the stored schema that the page then describes.
    sample_columns, sample_rows, sample_error = _sample(request, session, actor, box, store, name)
    dataset = service.describe(session, actor, [row])[0]
    latest = service.latest_profile(session, row.id)
    profile = usage.profile_public(session, name, latest) if latest else None
    stats: dict[str, ColumnProfile] = {c.name: c for c in profile.columns} if profile else {}
    charts = profile_charts(profile)
    context: dict[str, Any] = {
        "dataset": dataset,
        "profile": profile,
        "stats": stats,
        "charts": charts,
        "chart_ids": {c["column"]: c["id"] for c in charts},
        "plotly": plotly_context(),
        "sample_columns": sample_columns,
        "sample_rows": sample_rows,
        "sample_error": sample_error,
        "pii": {c.name for c in dataset.columns if c.pii},
        "snapshots": snapshots.describe(
            session, row, snapshots.list_snapshots(session, actor, name)
        ),
        "usage": usage.usage_of(session, row),
        "error": error,
        "notice": NOTICES.get(done or ""),
    }
    return render(request, "data_dataset.html", context, status=error.status_code if error else 200)


@router.get("/data/{name}")
def dataset_page(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    done: str | None = None,
) -> Response:
    return dataset_view(request, session, actor, box, store, name, done=done)


@router.post("/data/{name}/profile")
def refresh_profile_submit(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    form: CheckedForm,
) -> Response:
    try:
        profiles.refresh_profile(session, actor, box, name)
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return dataset_view(request, session, actor, box, store, name, error=error)
    return RedirectResponse(f"/data/{name}?done=profiled#profile", status_code=303)


@router.post("/data/{name}/snapshots")
def create_snapshot_submit(
    request: Request,
    name: str,
    actor: PortalUser,
    session: SessionDep,
    box: BoxDep,
    store: StoreDep,
    form: CheckedForm,
) -> Response:
    try:
        data = parse(SnapshotCreate, {"note": text_field(form, "note")})
        _, created = snapshots.create_snapshot(session, actor, box, store, name, data.note)
    except ModelyardError as error:
        session.rollback()
        if error.status_code == 404:
            raise
        return dataset_view(request, session, actor, box, store, name, error=error)
    done = "snapshot" if created else "snapshot-exists"
    return RedirectResponse(f"/data/{name}?done={done}#snapshots", status_code=303)
