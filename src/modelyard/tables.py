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
from modelyard.serving.tables import (
    EndpointEventRow,
    EndpointKeyRow,
    EndpointRow,
    PredictionRow,
    ReplicaSampleRow,
    TelemetryRow,
    TrafficChangeRow,
    VariantRow,
)

__all__ = [
    "ArtifactRow",
    "AuditEventRow",
    "CodeRefRow",
    "ConnectionRow",
    "DatasetGrantRow",
    "DatasetReadRow",
    "DatasetRow",
    "EndpointEventRow",
    "EndpointKeyRow",
    "EndpointRow",
    "LatestMetricRow",
    "MembershipRow",
    "MetricRow",
    "ModelAliasRow",
    "ModelRow",
    "ModelVersionRow",
    "ParamRow",
    "PredictionRow",
    "ProfileRow",
    "ProjectRow",
    "ReplicaSampleRow",
    "RunLogRow",
    "RunRow",
    "SessionRow",
    "SnapshotRow",
    "TagRow",
    "TelemetryRow",
    "TokenRow",
    "TrafficChangeRow",
    "UserRow",
    "VariantRow",
]
