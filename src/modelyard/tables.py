"""Every capability's tables, imported in one place for migrations and schema checks."""

from __future__ import annotations

from modelyard.accounts.tables import AuditEventRow, SessionRow, TokenRow, UserRow
from modelyard.code.tables import CodeRefRow
from modelyard.data.tables import (
    ConnectionRow,
    DatasetGrantRow,
    DatasetReadRow,
    DatasetRow,
    ProfileRow,
    SnapshotRow,
)
from modelyard.experiments.tables import (
    ArtifactRow,
    LatestMetricRow,
    MetricRow,
    ParamRow,
    RunLogRow,
    RunRow,
    TagRow,
)
from modelyard.projects.tables import MembershipRow, ProjectRow
from modelyard.registry.tables import ModelAliasRow, ModelRow, ModelVersionRow

__all__ = [
    "ArtifactRow",
    "AuditEventRow",
    "CodeRefRow",
    "ConnectionRow",
    "DatasetGrantRow",
    "DatasetReadRow",
    "DatasetRow",
    "LatestMetricRow",
    "MembershipRow",
    "MetricRow",
    "ModelAliasRow",
    "ModelRow",
    "ModelVersionRow",
    "ParamRow",
    "ProfileRow",
    "ProjectRow",
    "RunLogRow",
    "RunRow",
    "SessionRow",
    "SnapshotRow",
    "TagRow",
    "TokenRow",
    "UserRow",
]
