"""Response shapes of feature and prediction drift (see `online.drift` for the measures)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class FeatureDrift(BaseModel):
    """One feature (or `__prediction__[.<key>]`) over a window, against the reference.

    `statistic` is the KS distance between binned CDFs (numeric, `test="ks"`) or the
    Jensen-Shannon distance (categorical, `test="chi2"`); `p_value` is that test's.
    `judged` is false below the minimum live count, and then `drifted` is false too."""

    feature: str
    kind: Literal["numeric", "categorical"]
    prediction: bool
    psi: float
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    drifted: bool
    judged: bool
    live_count: int
    reference_count: int
    reference_id: int
    reference_source: str  # "snapshot <id> of <dataset>" or "live"


class FeatureSeries(BaseModel):
    feature: str
    psi: list[float | None]  # per step; None where the step saw no value
    counts: list[int]  # live values per step, to tell a noisy PSI from a solid one


class DriftSeries(BaseModel):
    """Per-feature PSI per time step, for a chart. `times` are the steps' starts (unix
    seconds); every list in `features` has one entry per time."""

    reference_id: int | None
    reference_source: str
    times: list[int]
    features: list[FeatureSeries]
