"""The learner process of one online variant: `python -m modelyard.online.learner`.

It asks the control plane where to start (the variant's model as last published, the
feedback cursor that state includes, and the running totals), then loops: fetch the next
labelled examples in feedback order (a thread fetches ahead while the model learns), learn
them (`learning.Learning`), and every `--publish-seconds` post the new state together with
the cursor. The control plane stores both in one transaction, so a crash at any moment
resumes from a state and a cursor that match: no acknowledged label is lost or learned
twice. A 409 answer means the state was replaced (a rollback, a paused learner, a new model
version): the process exits and the fleet starts it again from the new state.

Internal API (Bearer: the learner's token, from MODELYARD_LEARNER_TOKEN):
    GET  /internal/online/learners/{id}/start
    GET  /internal/online/learners/{id}/feedback?after=<cursor>&limit=<n>
    POST /internal/online/learners/{id}/state     body: see `encode_publication`
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import queue
import struct
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from modelyard.online.learning import Event, Learning, Progress
from modelyard.serving.predictors import load_predictor
from modelyard.serving.spec import EndpointSpec

TOKEN_ENV = "MODELYARD_LEARNER_TOKEN"
FETCH_LIMIT = 2000
IDLE_SECONDS = 0.2  # how long to wait before asking again when the stream is drained
EXIT_REPLACED = 3  # the state was replaced under this process: start again

log = logging.getLogger("modelyard.online.learner")


def encode_publication(header: dict[str, Any], state: bytes | None) -> bytes:
    """A publication: 4 bytes of header length, the JSON header, then the pickled state
    (absent for a report that learned nothing)."""
    head = orjson.dumps(header)
    return struct.pack(">I", len(head)) + head + (state or b"")


def decode_publication(body: bytes) -> tuple[dict[str, Any], bytes]:
    if len(body) < 4:
        raise ValueError("a publication starts with its header's length")
    (size,) = struct.unpack(">I", body[:4])
    if size > len(body) - 4:
        raise ValueError("the header is longer than the body")
    header = orjson.loads(body[4 : 4 + size])
    if not isinstance(header, dict):
        raise ValueError("the header is a JSON object")
    return header, body[4 + size :]


class Replaced(Exception):
    """The control plane holds a newer state than the one this process learns on."""


class Learner:
    def __init__(self, base_url: str, learner_id: int, token: str, publish_seconds: float) -> None:
        self.http = httpx.Client(
            base_url=f"{base_url.rstrip('/')}/internal/online/learners/{learner_id}",
            headers={"authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30.0, connect=5.0),
        )
        self.publish_seconds = publish_seconds
        self._queue: queue.Queue[tuple[list[Event], int, float]] = queue.Queue(maxsize=4)
        self._stop = threading.Event()
        self._published_cursor = -1

    def _get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        if response.status_code == 409:
            raise Replaced(response.text)
        response.raise_for_status()
        return orjson.loads(response.content)

    def run(self) -> int:
        start = self._get("/start")
        spec = EndpointSpec.from_json(start["spec"])
        variant = next(v for v in spec.variants if v.name == start["variant"])
        predictor = load_predictor(variant)
        learning = Learning(
            predictor,
            Progress.from_json(start["progress"]),
            detector=start["progress"].get("detector", ""),
            score_served=start.get("score") == "served",
        )
        learning.cursor = self._published_cursor = start["cursor"]
        generation = start["generation"]
        log.info("learning %s from feedback #%s", variant.name, learning.cursor)
        fetcher = threading.Thread(target=self._fetch, args=(learning.cursor,), daemon=True)
        fetcher.start()
        published = Progress.from_json(learning.progress.to_json())
        last, head, head_at = time.monotonic(), learning.cursor, time.time()
        try:
            while True:
                try:
                    events, head, head_at = self._queue.get(timeout=0.05)
                    learning.consume(events)
                except queue.Empty:
                    pass
                if not fetcher.is_alive():
                    raise RuntimeError("the feedback fetcher stopped")
                if time.monotonic() - last >= self.publish_seconds:
                    generation = self._publish(learning, published, generation, head, head_at)
                    published = Progress.from_json(learning.progress.to_json())
                    last = time.monotonic()
        except Replaced as replaced:
            log.info("state replaced: %s", replaced)
            return EXIT_REPLACED
        finally:
            self._stop.set()

    def _fetch(self, cursor: int) -> None:
        while not self._stop.is_set():
            try:
                answer = self._get("/feedback", after=cursor, limit=FETCH_LIMIT)
            except Replaced:
                return
            except httpx.HTTPError as error:
                log.warning("fetching feedback failed (%s); retrying", error)
                time.sleep(1.0)
                continue
            events = [tuple(e) for e in answer["events"]]
            if events:
                cursor = int(events[-1][0])
            while not self._stop.is_set():
                try:
                    self._queue.put((events, answer["head"], answer["head_at"]), timeout=0.5)
                    break
                except queue.Full:
                    continue
            if len(events) < FETCH_LIMIT:
                time.sleep(IDLE_SECONDS)

    def _publish(
        self, learning: Learning, published: Progress, generation: int, head: int, head_at: float
    ) -> int:
        changed = learning.cursor != self._published_cursor
        state = (
            pickle.dumps(learning.state(), protocol=pickle.HIGHEST_PROTOCOL) if changed else None
        )
        delta = learning.progress.minus(published)
        header = {
            "generation": generation,
            "cursor": learning.cursor,
            "progress": {**learning.progress.to_json(), "detector": learning.detector_state()},
            "delta": delta.to_json(),
            "lag_events": max(0, head - learning.cursor),
            "lag_seconds": max(0.0, time.time() - head_at) if head > learning.cursor else 0.0,
        }
        while True:
            try:
                response = self.http.post("/state", content=encode_publication(header, state))
            except httpx.HTTPError as error:
                log.warning("publishing failed (%s); retrying", error)
                time.sleep(1.0)
                continue
            if response.status_code == 409:
                raise Replaced(response.text)
            response.raise_for_status()
            self._published_cursor = learning.cursor
            return int(orjson.loads(response.content)["generation"])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="modelyard online learner (started by the fleet)")
    parser.add_argument("--control-url", required=True)
    parser.add_argument("--learner-id", type=int, required=True)
    parser.add_argument("--publish-seconds", type=float, default=2.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is not set: the learner needs its token")
    learner = Learner(args.control_url, args.learner_id, token, args.publish_seconds)
    return learner.run()


if __name__ == "__main__":
    sys.exit(main())
