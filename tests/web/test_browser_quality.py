"""The model-quality dashboard in a real browser. An endpoint with two variants gets labels,
learner reports, markers and drift summaries written straight into the database (what
feedback ingest, learners and the drift recorder write; the charts read only the database, so
no replica or learner process runs): the charts draw both variants with the markers on the
timeline, the A/B table reads out the difference, the drift table lists the features, and
another range refetches the figures."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.online.drift import build_reference, count_into
from modelyard.online.tables import (
    DriftReferenceRow,
    FeatureSummaryRow,
    FeedbackRow,
    LearnerSampleRow,
    QualityRow,
)
from modelyard.serving.tables import EndpointEventRow, EndpointRow, PredictionRow
from tests.conftest import LiveServer, Person
from tests.web.conftest import Tab
from tests.web.test_browser_code import sign_in
from tests.web.test_browser_runs import screenshot
from tests.web.test_endpoint_pages import ENDPOINTS, api, make_endpoint, register

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    # The page's SQL runs on both databases in test_quality_dashboard.py.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
PAGE = f"{ENDPOINTS}/scorer"
MINUTES = 10  # of labels in the last 15 minutes
LABELS = 40  # per variant and minute
CORRECT = {"a": 30, "b": 36}  # 75 % and 90 %; the majority-class baseline gets 60 %


@pytest.fixture
def alice(live_server: LiveServer, people: Callable[..., Person]) -> Person:
    """alice owns 'churn' with an endpoint 'scorer': variant a (churn-clf v1, the champion)
    and b (v2), half the traffic each."""
    owner = people("alice")
    made = owner.client.post("/api/v1/projects", json={"slug": "churn", "name": "Churn"})
    assert made.status_code == 201, made.text
    register(owner)
    register(owner)
    make_endpoint(owner)  # a: v1, weight 100
    body = {"name": "b", "model": "churn-clf", "version": "2", "weight": 100}
    added = owner.client.post(api(f"{PAGE}/variants"), json=body)
    assert added.status_code == 201, added.text
    return owner


def record_quality(db: Session, endpoint_id: int, now: float) -> None:
    """What feedback ingest writes: labels scored per variant, and the predictions they label."""
    for minute in range(MINUTES):
        at = int(now) - 60 * minute - 30
        for variant, correct in CORRECT.items():
            db.add(
                QualityRow(
                    endpoint_id=endpoint_id, ts=at, variant=variant, task="classification",
                    count=LABELS, correct=correct, base_correct=24, delay_sum=LABELS * 4.0,
                    labels={"0": 24, "1": 16},
                )
            )  # fmt: skip
    # half an hour ago: only a 1 h range sees these
    db.add(
        QualityRow(
            endpoint_id=endpoint_id, ts=int(now) - 1800, variant="b", task="classification",
            count=LABELS, correct=20, base_correct=24, delay_sum=LABELS * 4.0,
        )
    )  # fmt: skip
    for variant in CORRECT:
        for i in range(50):  # 40 of 50 predictions labelled: 80 % coverage
            at = now - 300 + i
            pid = f"{variant}-{i}"
            db.add(
                PredictionRow(
                    prediction_id=pid, endpoint_id=endpoint_id, at=at, variant=variant,
                    inputs={"f0": 1.0}, outputs=1, latency_ms=1.0,
                )
            )  # fmt: skip
            if i < 40:
                db.add(
                    FeedbackRow(
                        endpoint_id=endpoint_id, prediction_id=pid, variant=variant,
                        inputs={"f0": 1.0}, output=1, label=1, predicted_at=at,
                        received_at=at + 4,
                    )
                )  # fmt: skip


def record_learning(db: Session, endpoint_id: int, now: float) -> None:
    """What a learner reports every few seconds, and the events the timeline marks."""
    for i in range(20):
        db.add(
            LearnerSampleRow(
                endpoint_id=endpoint_id, variant="a", ts=now - 600 + 30 * i, cursor=10 * i,
                lag_events=i % 4, lag_seconds=0.5 + (i % 4), scored=10, correct=8, learned=10,
            )
        )  # fmt: skip
    events = [
        (400, "drift", "a: its error stream drifted (ADWIN, at label #120)"),
        (300, "checkpoint", "a: checkpoint saved as v3"),
        (120, "paused", "alice paused learning of b"),
    ]
    for ago, kind, message in events:
        at = datetime.fromtimestamp(now - ago, UTC)
        db.add(EndpointEventRow(endpoint_id=endpoint_id, kind=kind, message=message, at=at))


def record_drift(db: Session, endpoint_id: int, now: float) -> None:
    """What the drift recorder writes: a reference, then live values counted per minute,
    where f0 moved and f1 did not."""
    rng = random.Random(7)
    columns = {
        "f0": [rng.gauss(0, 1) for _ in range(2000)],
        "f1": [rng.gauss(0, 1) for _ in range(2000)],
    }
    features = build_reference(columns)
    reference = DriftReferenceRow(
        endpoint_id=endpoint_id,
        model_sha256="0" * 64,
        source="live",
        features={name: f.to_json() for name, f in features.items()},
    )
    db.add(reference)
    db.flush()
    for minute in range(1, 6):
        ts = (int(now) // 60 - minute) * 60
        live = {
            "f0": [rng.gauss(2, 1) for _ in range(200)],
            "f1": [rng.gauss(0, 1) for _ in range(200)],
        }
        for name, values in live.items():
            counts = [0] * features[name].slots
            count_into(features[name], values, counts)
            db.add(
                FeatureSummaryRow(
                    endpoint_id=endpoint_id, reference_id=reference.id, ts=ts, feature=name,
                    counts=counts,
                )
            )  # fmt: skip


def test_the_quality_charts_draw_both_variants_markers_and_drift_and_follow_the_range(
    tab: Tab, alice: Person, db: Session, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    endpoint_id = db.scalars(select(EndpointRow.id).where(EndpointRow.name == "scorer")).one()
    now = time.time()
    record_quality(db, endpoint_id, now)
    record_learning(db, endpoint_id, now)
    record_drift(db, endpoint_id, now)
    db.commit()

    page, url = tab.page, live_server.url
    with page.expect_response(re.compile(r"/quality\?window=900$")) as first:
        page.goto(f"/login?next={PAGE}")
        sign_in(page, "alice")
    assert first.value.ok
    section = page.locator("#quality")
    expect(section).to_have_attribute("data-window", "900")
    expect(page.get_by_test_id("quality-empty")).to_be_hidden()

    # accuracy against the baseline per variant (and a's prequential accuracy), with markers
    accuracy = page.get_by_test_id("chart-accuracy")
    expect(accuracy).to_have_attribute("data-traces", "5")
    expect(accuracy).to_have_attribute("data-points", re.compile(r"^[1-9][0-9]*$"))
    expect(accuracy.locator(".legendtext")).to_have_text(
        ["a", "a baseline", "b", "b baseline", "a prequential"]
    )
    expect(accuracy.locator(".scatterlayer .trace")).to_have_count(5)
    expect(accuracy).to_have_attribute("data-markers", "3")
    expect(accuracy.locator(".annotation-text")).to_have_text(["drift", "checkpoint", "paused"])
    expect(accuracy.locator(".shapelayer path")).to_have_count(3)
    timeline = page.get_by_test_id("quality-markers").locator("li")
    expect(timeline).to_have_count(3)
    expect(timeline.first).to_contain_text("alice paused learning of b")  # newest first

    summary = page.get_by_test_id("quality-summary")
    expect(summary.locator("tr[data-variant='a']")).to_contain_text("75.0 %")
    expect(summary.locator("tr[data-variant='a']")).to_contain_text("60.0 %")  # baseline
    expect(summary.locator("tr[data-variant='b']")).to_contain_text("90.0 %")
    expect(summary.locator("tr[data-variant='b']")).to_contain_text("80.0 %")  # coverage
    expect(summary.locator("tr[data-variant='b'] td").nth(1)).to_have_text("400")
    for chart in ("labels", "coverage", "lag"):
        expect(page.get_by_test_id(f"chart-{chart}")).to_have_attribute(
            "data-points", re.compile(r"^[1-9][0-9]*$")
        )
    expect(page.get_by_test_id("chart-labels")).to_have_attribute("data-traces", "2")
    expect(page.get_by_test_id("chart-lag")).to_have_attribute("data-traces", "1")

    # the A/B read-out: b against the champion a, 15 points better, significant
    ab = page.get_by_test_id("ab-table").locator("tbody tr")
    expect(ab).to_have_count(1)
    expect(ab.locator("td")).to_have_text(
        ["b", "a", "+15.0 pts accuracy", re.compile(r"^\+\d+\.\d pts to \+\d+\.\d pts$"),
         "< 0.001", "400 / 400", "significant"]
    )  # fmt: skip

    # drift: f0 moved, f1 did not; both drawn, the drifted one listed first
    drift = page.get_by_test_id("drift-table").locator("tbody tr")
    expect(drift).to_have_count(2)
    expect(drift.nth(0)).to_have_attribute("data-feature", "f0")
    expect(drift.nth(0)).to_contain_text("drifted")
    expect(drift.nth(1)).to_contain_text("stable")
    expect(page.get_by_test_id("drift-reference")).to_contain_text("live")
    expect(page.get_by_test_id("chart-drift")).to_have_attribute("data-traces", "2")
    expect(page.get_by_test_id("chart-drift").locator(".legendtext")).to_have_text(["f0", "f1"])
    screenshot(tab, request, "endpoint-quality")

    # another range: fetched at once, without reloading the page, and kept in the URL
    with page.expect_response(re.compile(r"/quality\?window=3600$")) as hour:
        page.get_by_test_id("quality-ranges").get_by_role("link", name="1h").click()
    assert hour.value.ok
    expect(section).to_have_attribute("data-window", "3600")
    expect(page).to_have_url(f"{url}{PAGE}?range=1h#quality")
    expect(page.get_by_test_id("quality-ranges").locator("[aria-current=page]")).to_have_text("1h")
    expect(summary.locator("tr[data-variant='b'] td").nth(1)).to_have_text("440")  # + 30 min ago
    page.reload()
    expect(section).to_have_attribute("data-window", "3600")
    assert tab.errors == []
