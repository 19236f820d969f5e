"""The dataset catalog: who may see, read and edit which dataset.

Admins create datasets; a dataset's owner (and admins) edit its description, tags and
column docs and grant read access to projects. Members of a granted project read it;
anyone else gets NotFoundError, exactly as for a dataset that does not exist.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

import pyarrow as pa
from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from modelyard.accounts import audit
from modelyard.accounts.actors import Actor
from modelyard.accounts.service import get_user, usernames_by_id
from modelyard.data.connections import connector_for, get_connection
from modelyard.data.connectors import Source
from modelyard.data.connectors.files import check_path
from modelyard.data.connectors.sqlguard import check_read_only
from modelyard.data.schemas import (
    ColumnPublic,
    DatasetCreate,
    DatasetPublic,
    DatasetUpdate,
    RunInput,
)
from modelyard.data.secrets import SecretBox
from modelyard.data.tables import (
    ConnectionRow,
    DatasetGrantRow,
    DatasetReadRow,
    DatasetRow,
    ProfileRow,
)
from modelyard.db import utcnow
from modelyard.errors import (
    ConflictError,
    ConnectorError,
    InvalidInputError,
    ModelyardError,
    NotFoundError,
    PermissionDeniedError,
)
from modelyard.projects.service import find_project, get_project, member_project_ids, slugs_by_id

FILE_KINDS = ("files", "s3")


def _visible(query: Select[DatasetRow], actor: Actor) -> Select[DatasetRow]:
    if actor.is_admin:
        return query
    member_projects = member_project_ids(actor.id)
    granted = select(DatasetGrantRow.dataset_id).where(
        DatasetGrantRow.project_id.in_(member_projects)
    )
    return query.where(or_(DatasetRow.owner_id == actor.id, DatasetRow.id.in_(granted)))


def get_dataset(session: Session, actor: Actor, name: str, *, edit: bool = False) -> DatasetRow:
    """The dataset if the actor may read it (and edit it, with `edit`)."""
    row = session.scalars(
        _visible(select(DatasetRow).where(DatasetRow.name == name), actor)
    ).first()
    if row is None:
        raise NotFoundError(f"no dataset {name!r}", field="dataset")
    if edit and not can_edit(actor, row):
        raise PermissionDeniedError(f"only admins and the owner of {name!r} can change it")
    return row


def can_edit(actor: Actor, row: DatasetRow) -> bool:
    return actor.is_admin or row.owner_id == actor.id


def list_datasets(
    session: Session, actor: Actor, *, q: str = "", tag: str = ""
) -> list[DatasetRow]:
    rows = session.scalars(_visible(select(DatasetRow).order_by(DatasetRow.name), actor)).all()
    needle = q.strip().lower()
    return [
        row
        for row in rows
        if (not tag or tag in row.tags)
        and (
            not needle
            or needle in row.name.lower()
            or needle in row.description.lower()
            or any(needle in t.lower() for t in row.tags)
        )
    ]


@contextmanager
def source_errors(dataset: str) -> Iterator[None]:
    """Source failures name the dataset they happened in. Connectors already translate
    driver errors (secrets scrubbed); anything else (a snapshot file) is translated here."""
    try:
        yield
    except ConnectorError as exc:
        raise ConnectorError(f"dataset {dataset!r}: {exc.message}", field=exc.field) from None
    except ModelyardError:
        raise
    except Exception as exc:
        detail = (str(exc).strip() or type(exc).__name__).splitlines()[0][:500]
        raise ConnectorError(f"dataset {dataset!r}: reading failed: {detail}") from None


def guarded(reader: pa.RecordBatchReader, dataset: str) -> pa.RecordBatchReader:
    """`reader` whose failures while streaming (a timeout, a dropped connection) arrive as
    ConnectorError naming the dataset."""

    def batches() -> Iterator[pa.RecordBatch]:
        with source_errors(dataset):
            yield from reader

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def source_of(row: DatasetRow) -> Source:
    return Source(table=row.table, query=row.query, path=row.path, file_format=row.file_format)


def _checked_source(
    connection: ConnectionRow, table: str, query: str, path: str
) -> tuple[str, str, str]:
    given = [name for name, value in (("table", table), ("query", query), ("path", path)) if value]
    if connection.kind in FILE_KINDS:
        if table or query:
            raise InvalidInputError(
                f"a {connection.kind} dataset reads files: give a path, not a table or query",
                field=given[0],
            )
        return "", "", check_path(path)
    if path:
        raise InvalidInputError(
            f"a {connection.kind} dataset reads a table or a query, not a path", field="path"
        )
    if len(given) != 1:
        raise InvalidInputError("give exactly one of table or query", field="table")
    if query:
        return "", check_read_only(query, connection.kind), ""
    return table, "", ""


def refresh_schema(session: Session, box: SecretBox, row: DatasetRow) -> pa.Schema:
    connection = session.get(ConnectionRow, row.connection_id)
    assert connection is not None
    with source_errors(row.name), connector_for(connection, box) as connector:
        schema = connector.schema(source_of(row))
    stored = [{"name": f.name, "type": str(f.type)} for f in schema]
    if stored != row.schema:
        row.schema = stored
    return schema


def create_dataset(
    session: Session, actor: Actor, box: SecretBox, data: DatasetCreate
) -> DatasetRow:
    if not actor.is_admin:
        raise PermissionDeniedError("only admins can create datasets")
    connection = get_connection(session, actor, data.connection)
    if session.scalar(select(DatasetRow.id).where(DatasetRow.name == data.name)) is not None:
        raise ConflictError(f"a dataset named {data.name!r} exists already", field="name")
    table, query, path = _checked_source(connection, data.table, data.query, data.path)
    owner = get_user(session, data.owner) if data.owner else None
    row = DatasetRow(
        name=data.name,
        connection_id=connection.id,
        table=table,
        query=query,
        path=path,
        file_format=data.file_format,
        description=data.description,
        owner_id=owner.id if owner else actor.id,
        tags=sorted(set(data.tags)),
        columns={k: v.model_dump() for k, v in data.columns.items()},
    )
    refresh_schema(session, box, row)  # a source that cannot be read is refused now
    session.add(row)
    session.flush()
    for slug in data.grants:
        _grant(session, actor, row, slug)
    audit.record(
        session,
        "dataset.created",
        actor=actor.username,
        target=data.name,
        ip=actor.ip,
        connection=connection.name,
    )
    session.commit()
    return row


def update_dataset(
    session: Session, actor: Actor, box: SecretBox, name: str, data: DatasetUpdate
) -> DatasetRow:
    row = get_dataset(session, actor, name, edit=True)
    if data.description is not None:
        row.description = data.description
    if data.tags is not None:
        row.tags = sorted(set(data.tags))
    if data.columns is not None:
        row.columns = {k: v.model_dump() for k, v in data.columns.items()}
    if data.owner is not None:
        row.owner_id = get_user(session, data.owner).id
        audit.record(
            session,
            "dataset.owner_changed",
            actor=actor.username,
            target=name,
            ip=actor.ip,
            owner=data.owner,
        )
    source_given = any(v is not None for v in (data.table, data.query, data.path, data.file_format))
    if source_given:
        if not actor.is_admin:
            raise PermissionDeniedError("only admins can change what a dataset reads")
        connection = session.get(ConnectionRow, row.connection_id)
        assert connection is not None
        table, query, path = _checked_source(
            connection,
            row.table if data.table is None else data.table,
            row.query if data.query is None else data.query,
            row.path if data.path is None else data.path,
        )
        row.table, row.query, row.path = table, query, path
        if data.file_format is not None:
            row.file_format = data.file_format
        refresh_schema(session, box, row)
        audit.record(
            session, "dataset.source_changed", actor=actor.username, target=name, ip=actor.ip
        )
    row.updated_at = utcnow()
    session.commit()
    return row


def delete_dataset(session: Session, actor: Actor, name: str) -> None:
    row = get_dataset(session, actor, name)
    if not actor.is_admin:
        raise PermissionDeniedError("only admins can delete datasets")
    session.delete(row)
    audit.record(session, "dataset.deleted", actor=actor.username, target=name, ip=actor.ip)
    session.commit()


def _grant(session: Session, actor: Actor, row: DatasetRow, slug: str) -> None:
    project = find_project(session, slug)
    if project is None:
        raise NotFoundError(f"no project {slug!r}", field="project")
    exists = session.scalar(
        select(DatasetGrantRow.id).where(
            DatasetGrantRow.dataset_id == row.id, DatasetGrantRow.project_id == project.id
        )
    )
    if exists is None:
        session.add(
            DatasetGrantRow(dataset_id=row.id, project_id=project.id, granted_by_id=actor.id)
        )
        audit.record(
            session,
            "dataset.granted",
            actor=actor.username,
            target=row.name,
            ip=actor.ip,
            project=slug,
        )


def grant(session: Session, actor: Actor, name: str, slug: str) -> None:
    row = get_dataset(session, actor, name, edit=True)
    if not actor.is_admin:
        get_project(session, actor, slug)  # owners grant only to projects they can see
    _grant(session, actor, row, slug)
    session.commit()


def revoke(session: Session, actor: Actor, name: str, slug: str) -> None:
    row = get_dataset(session, actor, name, edit=True)
    project = find_project(session, slug)
    grant_row = (
        session.scalars(
            select(DatasetGrantRow).where(
                DatasetGrantRow.dataset_id == row.id, DatasetGrantRow.project_id == project.id
            )
        ).first()
        if project
        else None
    )
    if grant_row is None:
        raise NotFoundError(f"dataset {name!r} is not granted to project {slug!r}", field="project")
    session.delete(grant_row)
    audit.record(
        session, "dataset.revoked", actor=actor.username, target=name, ip=actor.ip, project=slug
    )
    session.commit()


def grants_of(session: Session, dataset_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    rows = session.execute(
        select(DatasetGrantRow.dataset_id, DatasetGrantRow.project_id).where(
            DatasetGrantRow.dataset_id.in_(dataset_ids)
        )
    ).all()
    slugs = slugs_by_id(session, {project_id for _, project_id in rows})
    for dataset_id, project_id in rows:
        found[dataset_id].append(slugs[project_id])
    return {k: sorted(v) for k, v in found.items()}


def latest_profile(session: Session, dataset_id: int) -> ProfileRow | None:
    return session.scalars(
        select(ProfileRow)
        .where(ProfileRow.dataset_id == dataset_id)
        .order_by(ProfileRow.id.desc())
        .limit(1)
    ).first()


def describe(session: Session, actor: Actor, rows: Sequence[DatasetRow]) -> list[DatasetPublic]:
    ids = [row.id for row in rows]
    grants = grants_of(session, ids)
    connections = {
        c.id: c
        for c in session.scalars(
            select(ConnectionRow).where(ConnectionRow.id.in_({r.connection_id for r in rows}))
        )
    }
    owners = usernames_by_id(session, (r.owner_id for r in rows))
    result = []
    for row in rows:
        profile = latest_profile(session, row.id)
        docs = row.columns
        result.append(
            DatasetPublic(
                name=row.name,
                connection=connections[row.connection_id].name,
                kind=connections[row.connection_id].kind,
                table=row.table,
                query=row.query,
                path=row.path,
                file_format=row.file_format,
                description=row.description,
                owner=owners.get(row.owner_id) if row.owner_id else None,
                tags=row.tags,
                columns=[
                    ColumnPublic(
                        name=c["name"],
                        type=c["type"],
                        description=str(docs.get(c["name"], {}).get("description", "")),
                        pii=bool(docs.get(c["name"], {}).get("pii", False)),
                    )
                    for c in row.schema
                ],
                grants=grants.get(row.id, []),
                row_count=profile.row_count if profile else None,
                profiled_at=profile.computed_at if profile else None,
                can_edit=can_edit(actor, row),
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return result


def inputs_of_runs(session: Session, run_ids: Collection[int]) -> dict[int, list[RunInput]]:
    """Per run, each dataset (and snapshot) it read, with the rows of its largest read."""
    found: dict[int, list[RunInput]] = defaultdict(list)
    rows = session.execute(
        select(
            DatasetReadRow.run_id,
            DatasetRow.name,
            DatasetReadRow.snapshot_id,
            func.max(DatasetReadRow.row_count),
            func.min(case((DatasetReadRow.complete, 1), else_=0)),
        )
        .join(DatasetRow, DatasetRow.id == DatasetReadRow.dataset_id)
        .where(DatasetReadRow.run_id.in_(run_ids))
        .group_by(DatasetReadRow.run_id, DatasetRow.name, DatasetReadRow.snapshot_id)
        .order_by(
            DatasetRow.name, DatasetReadRow.snapshot_id.is_not(None), DatasetReadRow.snapshot_id
        )
    )
    for run_id, name, snapshot_id, count, complete in rows:
        found[run_id].append(
            RunInput(dataset=name, snapshot=snapshot_id, rows=count or 0, complete=bool(complete))
        )
    return found
