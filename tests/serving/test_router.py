"""Routing: weighted random within binomial tolerance, sticky keys, weights of zero."""

from __future__ import annotations

import random

import pytest

from modelyard.serving.router import Router, key_point


def test_weighted_random_follows_the_weights() -> None:
    router = Router([("a", 80.0), ("b", 20.0)], random.Random(1))
    picks = [router.pick() for _ in range(2000)]
    # 4.5 binomial standard deviations: sqrt(2000 * 0.8 * 0.2) = 17.9
    assert abs(picks.count("a") - 1600) < 81


def test_three_arms_and_unnormalised_weights() -> None:
    router = Router([("a", 1.0), ("b", 2.0), ("c", 7.0)], random.Random(2))
    picks = [router.pick() for _ in range(5000)]
    for arm, share in (("a", 0.1), ("b", 0.2), ("c", 0.7)):
        sd = (5000 * share * (1 - share)) ** 0.5
        assert abs(picks.count(arm) - 5000 * share) < 4.5 * sd


def test_a_key_always_gets_the_same_arm_in_every_router() -> None:
    first = Router([("a", 50.0), ("b", 50.0)], random.Random(3))
    second = Router([("a", 50.0), ("b", 50.0)], random.Random(4))
    keys = [f"user-{i}" for i in range(2000)]
    arms = [first.pick(k) for k in keys]
    assert arms == [first.pick(k) for k in keys] == [second.pick(k) for k in keys]
    assert abs(arms.count("a") - 1000) < 4.5 * (2000 * 0.25) ** 0.5


def test_key_points_are_stable_across_processes() -> None:
    # blake2b, not hash(): the same in every replica and after restarts.
    assert key_point("user-42") == pytest.approx(0.4360472144, abs=1e-9)
    assert 0.0 <= key_point("") < 1.0


def test_growing_an_arm_keeps_its_keys_where_they_were() -> None:
    before = Router([("a", 50.0), ("b", 50.0)])
    after = Router([("a", 60.0), ("b", 40.0)])
    keys = [f"k{i}" for i in range(1000)]
    assert all(after.pick(k) == "a" for k in keys if before.pick(k) == "a")


def test_arms_without_weight_get_nothing_and_no_arm_raises() -> None:
    router = Router([("a", 0.0), ("b", 1.0)], random.Random(5))
    assert {router.pick() for _ in range(200)} == {"b"}
    assert {router.pick(f"k{i}") for i in range(200)} == {"b"}
    empty = Router([("a", 0.0)])
    assert not empty
    with pytest.raises(IndexError):
        empty.pick()
