"""The online-learning part of a running control plane, built by `create_app` and held in
`app.state.online`: the feedback store, the learned states and the learner fleet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from modelyard.config import Settings
from modelyard.online.feedback import FeedbackStore
from modelyard.online.fleet import Fleet
from modelyard.online.protocols import ServingLike
from modelyard.online.references import SnapshotColumns
from modelyard.online.states import StateStore
from modelyard.online.summaries import DriftRecorder
from modelyard.storage import ArtifactStore


class Online:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        settings: Settings,
        artifacts: ArtifactStore,
        serving: ServingLike,
        read_snapshot: SnapshotColumns | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.serving = serving
        self.feedback = FeedbackStore(settings)
        self.states = StateStore(settings, artifacts)
        self.fleet = Fleet(session_factory, settings, serving, self.states)
        # replicas of an online variant serve its learner's latest state
        serving.specs.model_sources.append(self.states.model_source)
        # live inputs and outputs counted against the champion's reference, for drift
        self.drift = DriftRecorder(read_snapshot)
        serving.report_listeners.append(self.drift.record_inputs)

    def start(self) -> None:
        self.fleet.start()

    def stop(self) -> None:
        self.fleet.stop()


def get_online(request: Request) -> Online:
    online: Online = request.app.state.online
    return online


OnlineDep = Annotated[Online, Depends(get_online)]
