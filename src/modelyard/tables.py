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
from modelyard.monitoring.tables import AlertRow, AlertRuleRow
from modelyard.online.tables import (
    DriftReferenceRow,
    FeatureSummaryRow,
    FeedbackRow,
    LearnerRow,
    LearnerSampleRow,
    QualityRow,
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
    "AlertRow",
    "AlertRuleRow",
    "ArtifactRow",
    "AuditEventRow",
    "CodeRefRow",
    "ConnectionRow",
    "DatasetGrantRow",
    "DatasetReadRow",
    "DatasetRow",
    "DriftReferenceRow",
    "EndpointEventRow",
    "EndpointKeyRow",
    "EndpointRow",
    "FeatureSummaryRow",
    "FeedbackRow",
    "LatestMetricRow",
    "LearnerRow",
    "LearnerSampleRow",
    "MembershipRow",
    "MetricRow",
    "ModelAliasRow",
    "ModelRow",
    "ModelVersionRow",
    "ParamRow",
    "PredictionRow",
    "ProfileRow",
    "ProjectRow",
    "QualityRow",
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
