"""Online learning: feedback, learners, checkpoints, model quality and drift."""
