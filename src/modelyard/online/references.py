"""What an endpoint's live traffic is compared with: one `DriftReferenceRow` per (endpoint,
model version), built once.

The model version is the endpoint's champion: of its live variants, the first (in creation
order) with the largest weight, at the version it serves now (a variant following an alias
serves what the alias points at).

Inputs come from the version's training snapshot when its run read one (the largest such
read, up to `SNAPSHOT_ROWS` rows of the signature's columns); otherwise from the first
`LIVE_RECORDS` live predictions the champion's variant logged since the version was
registered (`source="live"`). A snapshot holds labels, not predictions, so a snapshot
reference gets its prediction features from those first live outputs too, added once they
exist. Shadow predictions never count.

Reading a snapshot needs the data capability's artifact store and file reader, which a
capability may not import: the caller passes a `SnapshotColumns` function in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelyard.data.service import inputs_of_runs
from modelyard.errors import ModelyardError
from modelyard.online.drift import (
    FeatureReference,
    Kind,
    build_feature,
    build_reference,
    is_prediction,
    prediction_values,
)
from modelyard.online.tables import DriftReferenceRow
from modelyard.registry.service import ModelRow, version_of
from modelyard.serving.service import PredictionRow, variants_of

log = logging.getLogger("modelyard.online")

SNAPSHOT_ROWS = 50_000
LIVE_RECORDS = 500
SIGNATURE_KINDS: dict[str, Kind] = {
    "number": "numeric",
    "integer": "numeric",
    "boolean": "categorical",
    "string": "categorical",
}  # datetime and object features are not measured

SnapshotColumns = Callable[[str, int, Sequence[str], int], Mapping[str, Sequence[object]]]
"""(dataset name, snapshot id, columns, row limit) -> values per column found; raises a
`ModelyardError` when the snapshot cannot be read."""


@dataclass(frozen=True)
class Champion:
    variant: str
    model_sha256: str
    registered_at: float  # unix seconds: live logs before this are another version's
    run_id: int | None
    signature: tuple[tuple[str, str], ...]  # (feature, type)


def champion_of(session: Session, endpoint_id: int) -> Champion | None:
    variants = [v for v in variants_of(session, [endpoint_id])[endpoint_id] if v.mode == "live"]
    if not variants:
        return None
    best = max(variants, key=lambda v: v.weight)  # max keeps the first of equals
    model = session.get(ModelRow, best.model_id)
    if model is None:
        return None
    try:
        version = version_of(session, model, best.alias or str(best.version))
    except ModelyardError:  # the alias was deleted: nothing is served from this variant
        return None
    return Champion(
        variant=best.name,
        model_sha256=version.sha256,
        registered_at=version.created_at.timestamp(),
        run_id=version.run_id,
        signature=tuple((str(f.get("name")), str(f.get("type"))) for f in version.signature),
    )


def find_reference(session: Session, endpoint_id: int, sha256: str) -> DriftReferenceRow | None:
    return session.scalars(
        select(DriftReferenceRow).where(
            DriftReferenceRow.endpoint_id == endpoint_id,
            DriftReferenceRow.model_sha256 == sha256,
        )
    ).first()


def parse_features(row: DriftReferenceRow) -> dict[str, FeatureReference]:
    return {
        name: FeatureReference.from_json(spec)
        for name, spec in row.features.items()
        if isinstance(spec, dict)
    }


def record_fields(inputs: object, names: Sequence[str]) -> Mapping[str, object]:
    """One logged input record as feature -> value: a dict as it is, a list by position
    (its features named as the signature names them, else "0", "1", ...)."""
    if isinstance(inputs, dict):
        return inputs
    if isinstance(inputs, list | tuple) and len(inputs) == len(names):
        return dict(zip(names, inputs, strict=True))
    return {}


def _snapshot_columns(
    session: Session, champion: Champion, read: SnapshotColumns
) -> tuple[str, dict[str, FeatureReference]] | None:
    kinds = {name: SIGNATURE_KINDS[t] for name, t in champion.signature if t in SIGNATURE_KINDS}
    if champion.run_id is None or not kinds:
        return None
    read_by_run = inputs_of_runs(session, [champion.run_id]).get(champion.run_id, [])
    frozen = [r for r in read_by_run if r.snapshot is not None]
    if not frozen:
        return None
    largest = max(frozen, key=lambda r: r.rows)
    assert largest.snapshot is not None
    try:
        columns = read(largest.dataset, largest.snapshot, list(kinds), SNAPSHOT_ROWS)
    except ModelyardError as error:
        log.warning("drift reference from snapshot %s failed: %s", largest.snapshot, error)
        return None
    found = {name: list(columns[name]) for name in kinds if name in columns}
    if not found:
        return None
    source = f"snapshot {largest.snapshot} of {largest.dataset}"
    return source, build_reference(found, kinds)


def _live_query(endpoint_id: int, champion: Champion) -> Select[int]:
    return select(PredictionRow.id).where(
        PredictionRow.endpoint_id == endpoint_id,
        PredictionRow.at >= champion.registered_at,
        PredictionRow.variant == champion.variant,
        PredictionRow.shadow.is_(False),
    )


def _enough_live(session: Session, endpoint_id: int, champion: Champion, wanted: int) -> bool:
    """Whether `wanted` such predictions exist, without reading them."""
    query = _live_query(endpoint_id, champion).offset(max(wanted - 1, 0)).limit(1)
    return session.execute(query).first() is not None


def first_live_records(
    session: Session, endpoint_id: int, champion: Champion, limit: int = LIVE_RECORDS
) -> list[tuple[object, object]]:
    """(inputs, outputs) of the champion's first `limit` live predictions of its version."""
    rows = session.execute(
        _live_query(endpoint_id, champion)
        .with_only_columns(PredictionRow.inputs, PredictionRow.outputs)
        .order_by(PredictionRow.at, PredictionRow.id)
        .limit(limit)
    ).all()
    return [(inputs, outputs) for inputs, outputs in rows]


def _input_names(champion: Champion, records: Sequence[tuple[object, object]]) -> list[str]:
    if champion.signature:
        return [name for name, _ in champion.signature]
    first = records[0][0]
    if isinstance(first, dict):
        return [str(k) for k in first]
    return [str(i) for i in range(len(first))] if isinstance(first, list) else []


def _live_features(
    champion: Champion, records: Sequence[tuple[object, object]], *, inputs: bool
) -> dict[str, FeatureReference]:
    columns: dict[str, list[object]] = {}
    if inputs:
        names = _input_names(champion, records)
        fields = [record_fields(i, names) for i, _ in records]
        kinds = {n: SIGNATURE_KINDS[t] for n, t in champion.signature if t in SIGNATURE_KINDS}
        wanted = [n for n in names if n in kinds or not champion.signature]
        found = build_reference({n: [f.get(n) for f in fields] for n in wanted}, kinds)
    else:
        found = {}
    outputs = [prediction_values(o) for _, o in records]
    for name in dict.fromkeys(k for values in outputs for k in values):
        columns[name] = [values.get(name) for values in outputs]
    found.update({name: build_feature(values) for name, values in columns.items()})
    return found


def ensure_reference(
    session: Session,
    endpoint_id: int,
    champion: Champion,
    read_snapshot: SnapshotColumns | None = None,
    live_records: int = LIVE_RECORDS,
) -> DriftReferenceRow | None:
    """The champion's reference, made (and committed) when it can be: None while a live
    reference still waits for `live_records` predictions. A snapshot reference without
    prediction features gets them here once that many live outputs exist."""
    row = find_reference(session, endpoint_id, champion.model_sha256)
    if row is not None and (row.source == "live" or any(is_prediction(n) for n in row.features)):
        return row
    enough = _enough_live(session, endpoint_id, champion, live_records)
    records = first_live_records(session, endpoint_id, champion, live_records) if enough else []
    if row is not None:
        if enough:
            added = _live_features(champion, records, inputs=False)
            row.features = {**row.features, **{n: f.to_json() for n, f in added.items()}}
            session.commit()
        return row
    made = _snapshot_columns(session, champion, read_snapshot) if read_snapshot else None
    if made is None and not enough:
        return None
    if made is not None:
        source, features = made
        if enough:
            features.update(_live_features(champion, records, inputs=False))
    else:
        source, features = "live", _live_features(champion, records, inputs=True)
    row = DriftReferenceRow(
        endpoint_id=endpoint_id,
        model_sha256=champion.model_sha256,
        source=source[:200],
        features={name: f.to_json() for name, f in features.items()},
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # another report's listener made it first
        session.rollback()
        return find_reference(session, endpoint_id, champion.model_sha256)
    return row
