"""The demo loaded by `modelyard up --demo`: two data scientists and a project to explore.

Idempotent: loading it twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from modelyard.accounts.actors import Actor
from modelyard.accounts.passwords import Passwords
from modelyard.accounts.schemas import UserCreate
from modelyard.accounts.service import create_user, find_user
from modelyard.accounts.tables import UserRow
from modelyard.code.repos import RepoStore
from modelyard.code.scaffold import render_template
from modelyard.code.seeding import commit_files
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


def seed_code(store: RepoStore) -> None:
    """The demo project's repository: the online template plus a few commits by the team."""
    if not store.is_empty(DEMO_PROJECT.slug):
        return
    bare = store.ensure(DEMO_PROJECT.slug)
    files = render_template(
        "online-classifier", project=DEMO_PROJECT.slug, display_name=DEMO_PROJECT.name
    )
    commit_files(
        bare,
        files,
        author="Maya Mentor",
        email="mentor@modelyard.demo",
        message="Start from the online-classifier template",
        date="2026-11-02T09:00:00Z",
    )
    readme = files["README.md"] + (
        "\n## Notes from the team\n\n- Nico: the `customers` data has ~25% churners; accuracy "
        "alone flatters the model, so watch ROC AUC too.\n"
    )
    commit_files(
        bare,
        {"README.md": readme},
        author="Nico Newhire",
        email="newhire@modelyard.demo",
        message="Note which metric to watch",
        date="2026-11-03T14:30:00Z",
    )
    notes = (
        "# Ideas to try\n\n1. Add `support_calls` per month of tenure as a feature.\n"
        "2. Compare against the batch (scikit-learn) baseline.\n"
    )
    commit_files(
        bare,
        {"IDEAS.md": notes},
        author="Maya Mentor",
        email="mentor@modelyard.demo",
        message="List the next experiments",
        date="2026-11-04T10:15:00Z",
    )


def load_demo(
    factory: sessionmaker[Session],
    store: RepoStore,
    password: str = DEMO_PASSWORD,
    *,
    passwords: Passwords,
) -> None:
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
                    passwords=passwords,
                )
        exists = session.scalar(select(ProjectRow.id).where(ProjectRow.slug == DEMO_PROJECT.slug))
        if exists is None:
            mentor = Actor.of(find_user(session, "mentor") or admin, "system")
            projects.create_project(session, mentor, DEMO_PROJECT)
            projects.set_member(session, mentor, DEMO_PROJECT.slug, "newhire", Role.editor)
    seed_code(store)
