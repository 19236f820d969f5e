"""The demo loaded by `modelyard up --demo`: two data scientists and a project to explore.

Idempotent: loading it twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.schemas import UserCreate
from modelyard.accounts.service import create_user, find_user
from modelyard.accounts.tables import UserRow
from modelyard.projects import service as projects
from modelyard.projects.schemas import ProjectCreate, Role
from modelyard.projects.tables import ProjectRow

DEMO_PASSWORD = "modelyard-demo"
DEMO_USERS = {
    "mentor": "Maya Mentor",
    "newhire": "Nico Newhire",
}
DEMO_PROJECT = ProjectCreate(
    slug="churn",
    name="Customer churn",
    description="""# Customer churn

Predicts which subscribers are about to cancel, so the retention team can call them first.

- **Owner:** Maya (mentor) — ask her anything.
- **Model:** an online classifier that keeps learning from the retention team's outcomes.
- **Start here:** read the code, then the `customers` dataset, then the best runs.
""",
)


def load_demo(factory: sessionmaker[Session], password: str = DEMO_PASSWORD) -> None:
    with factory() as session:
        admin = session.scalars(
            select(UserRow).where(UserRow.is_admin).order_by(UserRow.id)
        ).first()
        if admin is None:
            raise RuntimeError("the demo needs an admin; run ensure_admin first")
        system = Actor.of(admin, "system")
        for username, display_name in DEMO_USERS.items():
            if find_user(session, username) is None:
                create_user(
                    session,
                    system,
                    UserCreate(username=username, display_name=display_name, password=password),
                )
        exists = session.scalar(select(ProjectRow.id).where(ProjectRow.slug == DEMO_PROJECT.slug))
        if exists is None:
            mentor = Actor.of(find_user(session, "mentor") or admin, "system")
            projects.create_project(session, mentor, DEMO_PROJECT)
            projects.set_member(session, mentor, DEMO_PROJECT.slug, "newhire", Role.editor)
