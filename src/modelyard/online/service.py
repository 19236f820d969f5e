"""What other capabilities and the portal use of online learning (the architecture lets a
capability import another's `service` only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.online.learners import describe
from modelyard.online.quality import endpoint_quality as endpoint_quality
from modelyard.online.quality import quality_figures as quality_figures
from modelyard.online.schemas import LearnerPublic
from modelyard.online.tables import LearnerRow as LearnerRow
from modelyard.serving.service import EndpointRow, VariantRow


def learners_of(
    session: Session, endpoint: EndpointRow, alive: set[int] | None = None
) -> list[LearnerPublic]:
    """The learners of an endpoint's online variants, as the API and the portal show them."""
    rows = session.execute(
        select(LearnerRow, VariantRow)
        .join(VariantRow, VariantRow.id == LearnerRow.variant_id)
        .where(LearnerRow.endpoint_id == endpoint.id)
        .order_by(VariantRow.name)
    ).all()
    running = endpoint.state == "running"
    return [
        describe(session, learner, variant, running, alive is None or learner.id in alive)
        for learner, variant in rows
    ]
