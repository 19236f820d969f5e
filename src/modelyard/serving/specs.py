"""Resolve an endpoint's desired state into the `EndpointSpec` its replicas serve.

Aliases become version numbers, model files are copied out of the artifact store into
`<home>/serving/models/<sha256>/` and code is exported at its commit into
`<home>/serving/code/<project>/<commit>/`, so a replica only ever reads local files.
Both folders are keyed by content, so they are written once and shared by every replica.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from modelyard.code.service import RepoStore, export_tree
from modelyard.config import Settings
from modelyard.errors import NotFoundError
from modelyard.projects.service import ProjectRow
from modelyard.registry.service import ModelRow, ModelVersionRow, version_of
from modelyard.serving.keys import active_key_hashes
from modelyard.serving.service import variants_of
from modelyard.serving.spec import MODEL_FILE, EndpointSpec, Feature, VariantSpec
from modelyard.serving.tables import EndpointRow, VariantRow
from modelyard.storage import ArtifactStore

log = logging.getLogger("modelyard.serving")

# Where a variant's model comes from instead of its registered version, when another
# capability says so (an online learner's latest published state): (model folder, sha256).
ModelSource = Callable[[Session, VariantRow, ModelVersionRow], "tuple[Path, str] | None"]


class SpecBuilder:
    def __init__(self, settings: Settings, artifacts: ArtifactStore, repos: RepoStore) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.repos = repos
        self.models_dir = settings.home / "serving" / "models"
        self.code_dir = settings.home / "serving" / "code"
        self.model_sources: list[ModelSource] = []

    def build(self, session: Session, endpoint_id: int) -> EndpointSpec:
        endpoint = session.get(EndpointRow, endpoint_id)
        if endpoint is None:
            raise NotFoundError(f"no endpoint with id {endpoint_id}", field="endpoint")
        project = session.get(ProjectRow, endpoint.project_id)
        assert project is not None  # the foreign key cascades
        variants = []
        for row in variants_of(session, [endpoint.id])[endpoint.id]:
            try:
                variants.append(self._variant(session, project, row))
            except NotFoundError as error:  # its alias was deleted: the others still serve
                log.warning(
                    "endpoint %s/%s: variant %s left out: %s",
                    project.slug,
                    endpoint.name,
                    row.name,
                    error.message,
                )
        return EndpointSpec.build(
            endpoint_id=endpoint.id,
            project=project.slug,
            name=endpoint.name,
            public=endpoint.public,
            key_hashes=active_key_hashes(session, endpoint.id),
            variants=tuple(variants),
            max_body_bytes=self.settings.serving_max_body_bytes,
            max_batch_records=self.settings.serving_max_batch_records,
        )

    def _variant(self, session: Session, project: ProjectRow, row: VariantRow) -> VariantSpec:
        model = session.get(ModelRow, row.model_id)
        assert model is not None
        version = version_of(session, model, row.alias or str(row.version))
        code_dir = self._code(project.slug, row.code_commit) if row.code_commit else None
        model_dir, sha256 = self._model(model, version), version.sha256
        for source in self.model_sources:
            found = source(session, row, version)
            if found is not None:
                model_dir, sha256 = found
                break
        return VariantSpec(
            name=row.name,
            mode="shadow" if row.mode == "shadow" else "live",
            weight=row.weight,
            model_name=model.name,
            model_version=version.version,
            flavor=version.flavor,
            model_dir=str(model_dir),
            model_sha256=sha256,
            signature=tuple(Feature(name=f["name"], type=f["type"]) for f in version.signature),
            code_dir=str(code_dir) if code_dir else None,
            commit=row.code_commit,
            batching=row.batching,
            max_batch_size=row.max_batch_size,
            max_wait_ms=row.max_wait_ms,
        )

    def _model(self, model: ModelRow, version: ModelVersionRow) -> Path:
        target = self.models_dir / version.sha256
        if (target / MODEL_FILE).exists():
            return target
        staging = self._staging(self.models_dir)
        with self.artifacts.open(version.key) as source, open(staging / MODEL_FILE, "wb") as out:
            shutil.copyfileobj(source, out)
        meta = {
            "model": model.name,
            "version": version.version,
            "flavor": version.flavor,
            "sha256": version.sha256,
            "signature": version.signature,
            "library_versions": version.library_versions,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2))
        return self._publish(staging, target)

    def _code(self, slug: str, commit: str) -> Path:
        target = self.code_dir / slug / commit
        if target.exists():
            return target
        staging = self._staging(target.parent)
        shutil.rmtree(staging)
        export_tree(self.repos, slug, commit, staging)
        return self._publish(staging, target)

    @staticmethod
    def _staging(parent: Path) -> Path:
        parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))

    @staticmethod
    def _publish(staging: Path, target: Path) -> Path:
        """Rename the complete folder into place, so a replica never sees half a model."""
        try:
            os.rename(staging, target)
        except OSError:  # another thread published the same content first
            shutil.rmtree(staging, ignore_errors=True)
        return target
