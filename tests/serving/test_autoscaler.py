"""The autoscaler's decisions: up after sustained load, down only after the cool-down."""

from __future__ import annotations

from modelyard.serving.autoscaler import Autoscaler, ScalePolicy

POLICY = ScalePolicy(min_replicas=1, max_replicas=4, target_inflight=2, up_after=3, down_after=30)


def test_scales_up_only_after_load_stays_above_target() -> None:
    scaler = Autoscaler()
    assert scaler.decide(POLICY, 1, concurrency=5.0, now=0.0) is None
    assert scaler.decide(POLICY, 1, concurrency=5.0, now=2.0) is None
    decision = scaler.decide(POLICY, 1, concurrency=5.0, now=3.0)
    assert decision is not None and decision.replicas == 3  # ceil(5 / 2)
    assert "per replica" in decision.reason


def test_a_burst_shorter_than_the_delay_changes_nothing() -> None:
    scaler = Autoscaler()
    assert scaler.decide(POLICY, 1, concurrency=9.0, now=0.0) is None
    assert scaler.decide(POLICY, 1, concurrency=1.0, now=1.0) is None
    assert scaler.decide(POLICY, 1, concurrency=9.0, now=2.0) is None
    assert scaler.decide(POLICY, 1, concurrency=9.0, now=4.0) is None  # the clock restarted
    decision = scaler.decide(POLICY, 1, concurrency=9.0, now=5.0)
    assert decision is not None and decision.replicas == 4  # capped at max_replicas


def test_scales_down_after_the_cool_down_never_below_min() -> None:
    scaler = Autoscaler()
    assert scaler.decide(POLICY, 4, concurrency=0.0, now=0.0) is None
    assert scaler.decide(POLICY, 4, concurrency=0.0, now=29.0) is None
    decision = scaler.decide(POLICY, 4, concurrency=0.0, now=30.0)
    assert decision is not None and decision.replicas == 1


def test_bounds_changed_by_the_user_apply_at_once() -> None:
    scaler = Autoscaler()
    raised = ScalePolicy(min_replicas=3, max_replicas=5, target_inflight=2)
    decision = scaler.decide(raised, 1, concurrency=0.0, now=0.0)
    assert decision is not None and decision.replicas == 3
    lowered = ScalePolicy(min_replicas=1, max_replicas=2, target_inflight=2)
    decision = scaler.decide(lowered, 4, concurrency=8.0, now=0.0)
    assert decision is not None and decision.replicas == 2
