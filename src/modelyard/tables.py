"""Every capability's tables, imported in one place for migrations and schema checks."""

from __future__ import annotations

from modelyard.accounts.tables import AuditEventRow, SessionRow, TokenRow, UserRow
from modelyard.code.tables import CodeRefRow
from modelyard.projects.tables import MembershipRow, ProjectRow

__all__ = [
    "AuditEventRow",
    "CodeRefRow",
    "MembershipRow",
    "ProjectRow",
    "SessionRow",
    "TokenRow",
    "UserRow",
]
