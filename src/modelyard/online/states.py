"""Learned states on disk, what replicas serve for an online variant, checkpoints into the
registry and rollbacks from them.

A published state is a model folder like the ones serving copies out of the registry
(`model.pkl` + `meta.json`), at `<home>/online/states/<sha256>/`, written once and renamed
into place. The spec builder asks `model_source` for each variant: a learner's latest
state wins over the registered version it started from, as long as the variant still
resolves to that version (when its alias moves, the new version is served and the learner
starts again from it)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.accounts.actors import Actor
from modelyard.config import Settings
from modelyard.db import utcnow
from modelyard.online.tables import LearnerRow
from modelyard.registry.schemas import Feature as SignatureFeature
from modelyard.registry.schemas import VersionCreate
from modelyard.registry.service import ModelRow, ModelVersionRow, create_version
from modelyard.serving.service import VariantRow
from modelyard.storage import ArtifactStore
from modelyard.uploads import Spooled

MODEL_FILE = "model.pkl"


class StateStore:
    def __init__(self, settings: Settings, artifacts: ArtifactStore) -> None:
        self.root = settings.home / "online" / "states"
        self.artifacts = artifacts

    def folder(self, sha256: str) -> Path:
        return self.root / sha256

    def write(self, data: bytes, meta: dict[str, object]) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.folder(sha256)
        if (target / MODEL_FILE).exists():
            return sha256
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        (staging / MODEL_FILE).write_bytes(data)
        (staging / "meta.json").write_text(json.dumps({**meta, "sha256": sha256}, indent=2))
        try:
            os.rename(staging, target)
        except OSError:  # the same state was written by another request first
            shutil.rmtree(staging, ignore_errors=True)
        return sha256

    def collect(self, session: Session, keep_seconds: float) -> int:
        """Delete published states no learner serves any more, once older than
        `keep_seconds` (a replica may still be loading one). Checkpoints live on as model
        versions in the artifact store. Answers how many were deleted."""
        if not self.root.is_dir():
            return 0
        serving = set(session.scalars(select(LearnerRow.state_sha256)))
        cutoff = time.time() - keep_seconds
        deleted = 0
        for folder in self.root.iterdir():
            if folder.name in serving or folder.name.startswith(".staging-"):
                continue
            try:
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder)
                    deleted += 1
            except OSError:
                continue
        return deleted

    def import_version(self, version: ModelVersionRow, model: ModelRow) -> str:
        """Copy a registered version's file in as a state (a rollback to a checkpoint)."""
        with self.artifacts.open(version.key) as source:
            data = source.read()
        return self.write(data, _meta(model, version))

    def model_source(
        self, session: Session, row: VariantRow, version: ModelVersionRow
    ) -> tuple[Path, str] | None:
        learner = session.scalar(select(LearnerRow).where(LearnerRow.variant_id == row.id))
        if learner is None or not learner.state_sha256 or learner.base_sha256 != version.sha256:
            return None
        folder = self.folder(learner.state_sha256)
        if not (folder / MODEL_FILE).exists():
            return None  # the home folder lost it: serve the registered version
        return folder, learner.state_sha256

    def checkpoint(
        self,
        session: Session,
        learner: LearnerRow,
        variant: VariantRow,
        slug: str,
        actor: Actor,
        description: str,
    ) -> int:
        """Register the learner's current state as the next version of the variant's model;
        answers the version number."""
        model = session.get(ModelRow, variant.model_id)
        assert model is not None
        base = session.scalar(
            select(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id,
                ModelVersionRow.sha256 == learner.base_sha256,
            )
        )
        source = self.folder(learner.state_sha256) / MODEL_FILE
        handle = tempfile.NamedTemporaryFile(prefix="checkpoint-", delete=False)  # noqa: SIM115
        with handle, source.open("rb") as state:
            shutil.copyfileobj(state, handle)
        upload = Spooled(handle.name, os.path.getsize(handle.name), learner.state_sha256)
        data = VersionCreate(
            flavor=base.flavor if base is not None else "custom",  # type: ignore[arg-type]
            signature=[
                SignatureFeature.model_validate(f) for f in (base.signature if base else [])
            ],
            description=description,
            python_class=base.python_class if base is not None else "",
            library_versions=dict(base.library_versions) if base is not None else {},
        )
        version, _ = create_version(session, actor, self.artifacts, slug, model.name, data, upload)
        learner.checkpoint_version = version.version
        learner.checkpointed_at = utcnow()
        learner.checkpoint_requested = False
        session.commit()
        return version.version


def _meta(model: ModelRow, version: ModelVersionRow) -> dict[str, object]:
    return {
        "model": model.name,
        "version": version.version,
        "flavor": version.flavor,
        "signature": version.signature,
        "library_versions": version.library_versions,
    }


def base_meta(model: ModelRow, version: ModelVersionRow) -> dict[str, object]:
    """What a published state's meta.json says: the version it was learned from."""
    return {**_meta(model, version), "learned_from": version.version}
