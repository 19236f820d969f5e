"""The real replica process, standalone on a loopback port with a spec file: it answers,
picks up a changed spec without a restart, finishes in-flight requests on SIGTERM and
exits 0, and exits by itself when its parent process dies."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from modelyard.serving.spec import EndpointSpec
from tests.conftest import free_port
from tests.serving.replica_models import KEY, URL, V2, custom_code, endpoint, record, variant

pytestmark = pytest.mark.slow

# Answers its arm's tag; tenure 99 takes a while (an in-flight request during SIGTERM).
TAGGED_PY = textwrap.dedent(
    """
    import os, pickle, time

    class Predictor:
        def __init__(self, model_dir):
            with open(os.path.join(model_dir, "model.pkl"), "rb") as handle:
                self.tag = pickle.load(handle)["tag"]

        def predict(self, inputs):
            if inputs["tenure_months"] == 99:
                time.sleep(1.0)
            return self.tag
    """
)


def spec(tmp_path: Path, a: float, b: float) -> EndpointSpec:
    code, _ = custom_code(tmp_path / "arms", TAGGED_PY)
    arms = []
    for name, weight in (("a", a), ("b", b)):
        model = tmp_path / "arms" / name
        model.mkdir(parents=True, exist_ok=True)
        (model / "model.pkl").write_bytes(pickle.dumps({"tag": name.upper()}))
        arms.append(variant(name, model, "custom", weight=weight, code_dir=code))
    return endpoint(*arms)


def command(spec_file: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "modelyard.serving.replica",
        "--port",
        str(port),
        "--spec-file",
        str(spec_file),
        "--poll-seconds",
        "0.05",
    ]


def wait_ready(base: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(f"{base}{V2}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("the replica did not become ready")


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_bytes(orjson.dumps(spec(tmp_path, 1, 0).to_json()))
    port = free_port()
    with (tmp_path / "replica.log").open("wb") as log:
        process = subprocess.Popen(command(spec_file, port), stderr=log, stdout=log)
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield process, f"http://127.0.0.1:{port}", spec_file
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_replica_process_answers_swaps_specs_and_drains_on_sigterm(
    replica: tuple[subprocess.Popen[bytes], str, Path], tmp_path: Path
) -> None:
    process, base, spec_file = replica
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        first = http.post(URL, json={"inputs": record(1)})
        assert first.status_code == 200 and first.json()["outputs"] == "A"
        assert (
            http.post(URL, json={"inputs": record(1)}, headers={"Authorization": ""}).status_code
            == 401
        )

        spec_file.write_bytes(orjson.dumps(spec(tmp_path, 0, 1).to_json()))
        flipped_at = time.monotonic()
        while http.post(URL, json={"inputs": record(1)}).json()["variant"] != "b":
            assert time.monotonic() - flipped_at < 2.0
        assert {
            http.post(URL, json={"inputs": record(i)}).json()["outputs"] for i in range(20)
        } == {"B"}

        slow: list[httpx.Response] = []
        thread = threading.Thread(
            target=lambda: slow.append(
                http.post(URL, json={"inputs": {**record(1), "tenure_months": 99}})
            )
        )
        thread.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=10)
    assert slow and slow[0].status_code == 200 and slow[0].json()["outputs"] == "B"
    assert process.wait(timeout=10) == 0
    log = (tmp_path / "replica.log").read_text()
    assert "Traceback" not in log


def test_a_replica_exits_when_its_parent_dies(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_bytes(orjson.dumps(spec(tmp_path, 1, 0).to_json()))
    port = free_port()
    line = " ".join(command(spec_file, port))
    parent = subprocess.Popen(
        ["sh", "-c", f"{line} 2>{tmp_path / 'replica.log'} & echo $!; wait"],
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        parent.kill()
        parent.wait()
        end = time.monotonic() + 10
        while time.monotonic() < end and alive(pid):
            time.sleep(0.05)
        assert not alive(pid)
    finally:
        parent.stdout.close()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
