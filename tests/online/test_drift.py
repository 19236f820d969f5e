"""The drift measures on binned counts: no database."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from modelyard.online.drift import (
    MIN_LIVE,
    FeatureReference,
    build_feature,
    chi2_p_value,
    compare,
    count_into,
    js_distance,
    ks_p_value,
    merge,
    prediction_values,
    psi,
)


def _normal(mean: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, 1.0) for _ in range(n)]


def _counted(reference: FeatureReference, values: list[object]) -> list[int]:
    counts = [0] * reference.slots
    count_into(reference, values, counts)
    return counts


def test_the_same_distribution_has_not_drifted() -> None:
    reference = build_feature(_normal(0, 5000, seed=1))
    result = compare(reference, _counted(reference, list(_normal(0, 2000, seed=2))))
    assert result.kind == "numeric" and result.live_count == 2000
    assert result.psi < 0.02 and result.p_value > 0.01 and not result.drifted


def test_a_shifted_normal_has_drifted() -> None:
    reference = build_feature(_normal(0, 5000, seed=1))
    result = compare(reference, _counted(reference, list(_normal(0.5, 2000, seed=3))))
    assert result.psi > 0.2 and result.statistic > 0.15 and result.p_value < 1e-6
    assert result.drifted


def test_too_few_live_values_are_not_judged() -> None:
    reference = build_feature(_normal(0, 5000, seed=1))
    few = _counted(reference, list(_normal(3, MIN_LIVE - 1, seed=4)))
    assert compare(reference, few).psi > 1 and not compare(reference, few).drifted


def test_numeric_bins_have_open_ends_and_a_missing_slot() -> None:
    reference = build_feature([float(i) for i in range(100)])
    # the reference's own values fill the inner bins evenly, none fall outside
    assert reference.counts[0] == 0 and reference.counts[-2:] == (0, 0)
    assert sum(reference.counts) == 100 and set(reference.counts[1:-2]) == {10}
    counts = _counted(reference, [-5.0, 0, 99, 99.5, 1e9, None, "x", True, math.nan, 42])
    assert counts[0] == 1  # below the minimum
    assert counts[-2] == 2  # above the maximum: 99.5 and 1e9
    assert counts[-1] == 4  # None, a string, a boolean, NaN
    assert counts[1] == 1 and counts[5] == 1 and counts[10] == 1  # 0, 42, 99


def test_psi_matches_a_hand_computation() -> None:
    reference, live = [50, 30, 20, 0], [30, 30, 40, 0]
    expected = (
        (0.3 - 0.5) * math.log(0.3 / 0.5)
        + 0
        + (0.4 - 0.2) * math.log(0.4 / 0.2)
        + 0  # both empty: epsilon on both sides
    )
    assert psi(reference, live) == pytest.approx(expected)
    # an empty reference slot is clipped to the epsilon, not infinite
    assert psi([100, 0], [90, 10]) == pytest.approx(
        (0.9 - 1.0) * math.log(0.9) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    )


def test_the_p_values_agree_with_scipy() -> None:
    for statistic, n, m in [(0.05, 100, 200), (0.02, 1000, 1000), (0.3, 30, 30), (0.08, 500, 700)]:
        exact = stats.kstwo.sf(statistic, round(n * m / (n + m)))
        assert ks_p_value(statistic, n, m) == pytest.approx(exact, abs=0.02)
    for reference, live in [
        ([10, 20, 30], [12, 18, 35]),
        ([100, 200, 300, 5], [150, 100, 300, 50]),
    ]:
        expected = stats.chi2_contingency([reference, live], correction=False)[1]
        assert chi2_p_value(reference, live) == pytest.approx(expected, rel=1e-6)
    assert js_distance([1, 2, 3], [3, 2, 1]) == pytest.approx(
        jensenshannon([1, 2, 3], [3, 2, 1], base=2)
    )
    assert js_distance([5, 0], [0, 5]) == pytest.approx(1.0)


def test_a_categorical_shift_is_detected_and_a_stable_mix_is_not() -> None:
    rng = random.Random(5)
    colours = ["red"] * 60 + ["green"] * 30 + ["blue"] * 10
    reference = build_feature([rng.choice(colours) for _ in range(3000)])
    assert reference.kind == "categorical"
    assert reference.categories == ("red", "green", "blue")
    same = compare(reference, _counted(reference, [rng.choice(colours) for _ in range(1000)]))
    assert not same.drifted and same.p_value > 0.01
    flipped = ["blue"] * 60 + ["green"] * 30 + ["red"] * 10
    shifted = compare(reference, _counted(reference, [rng.choice(flipped) for _ in range(1000)]))
    assert shifted.drifted and shifted.psi > 1 and shifted.statistic > 0.3
    assert shifted.p_value < 1e-10


def test_categories_beyond_the_top_go_to_other() -> None:
    values: list[object] = [f"c{i:02d}" for i in range(30) for _ in range(30 - i)]
    reference = build_feature([*values, None, None])
    assert len(reference.categories) == 20 and reference.categories[0] == "c00"
    assert reference.counts[-1] == 2  # missing
    assert reference.counts[-2] == sum(30 - i for i in range(20, 30))  # other
    assert _counted(reference, ["c00", "c25", "new", None, 7])[-2:] == [3, 1]


def test_counting_in_parts_adds_up_to_counting_all_at_once() -> None:
    reference = build_feature(_normal(0, 1000, seed=6))
    live: list[object] = [*_normal(0.3, 3000, seed=7), None, "oops"]
    whole = _counted(reference, live)
    assert sum(whole) == len(live)
    merged = [0] * reference.slots
    for start in range(0, len(live), 250):  # one summary per "minute"
        merge(merged, _counted(reference, live[start : start + 250]))
    assert merged == whole
    assert compare(reference, merged) == compare(reference, whole)


def test_a_reference_survives_json() -> None:
    for reference in (build_feature(_normal(0, 200, seed=8)), build_feature(["a", "b", "a"])):
        assert FeatureReference.from_json(reference.to_json()) == reference


def test_outputs_become_prediction_features() -> None:
    assert prediction_values(0.7) == {"__prediction__": 0.7}
    assert prediction_values(["yes"]) == {"__prediction__": "yes"}
    assert prediction_values({"churn": True, "probability": 0.7, "why": [1, 2]}) == {
        "__prediction__.churn": True,
        "__prediction__.probability": 0.7,
    }
    assert prediction_values([0.1, 0.9]) == {}
