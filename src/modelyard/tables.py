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
from modelyard.projects.tables import MembershipRow, ProjectRow

__all__ = [
    "AuditEventRow",
    "CodeRefRow",
    "ConnectionRow",
    "DatasetGrantRow",
    "DatasetReadRow",
    "DatasetRow",
    "MembershipRow",
    "ProfileRow",
    "ProjectRow",
    "SessionRow",
    "SnapshotRow",
    "TokenRow",
    "UserRow",
]
