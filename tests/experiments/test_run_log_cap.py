"""A remote run's output log is capped (MODELYARD_RUN_MAX_LOG_BYTES): past the cap the log ends
with a note and the run goes on; the pipe behind the log outlives a server restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import modelyard
from modelyard.config import Settings
from modelyard.experiments.run_output import (
    PIPE_NAME,
    CappedLog,
    OutputPump,
    open_pipe,
    reopen_pipe,
    truncation_note,
)
from modelyard.experiments.tables import RunLogRow
from tests.code.conftest import seed_repo
from tests.conftest import CHEAP_PASSWORDS, SECRET_KEY, LiveServer, Person
from tests.experiments.conftest import SCRIPTS, submit, wait_for_end

CAP = 10 * 1024
NOTE = "modelyard: output truncated at 10.0 KiB (MODELYARD_RUN_MAX_LOG_BYTES); the run goes on\n"
LOUD = """\
import sys
for n in range(10_000):  # 1 MB
    print(f"{n:06d} " + "x" * 92)
print("done", file=sys.stderr)
"""
QUIET = """\
for n in range(50):
    print(f"line {n}")
print("done")
"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=SECRET_KEY,
        run_max_log_bytes=CAP,
        **CHEAP_PASSWORDS,
    ).prepare_home()


@pytest.fixture
def loud(app: FastAPI, crew: dict[str, Person]) -> str:
    files = dict(SCRIPTS) | {"loud.py": LOUD, "quiet.py": QUIET}
    return seed_repo(app.state.repos.ensure("churn"), files, "scripts")


def stored_log(app: FastAPI, run_id: int) -> tuple[int | None, Path]:
    """The run's exit code and the file its output is kept in."""
    with app.state.session_factory() as session:
        row = session.get_one(RunLogRow, run_id)
        return row.exit_code, Path(row.path)


@pytest.mark.usefixtures("loud")
def test_output_past_the_cap_is_dropped_with_a_note_and_the_run_goes_on(
    editor_http: httpx.Client, live_server: LiveServer, crew: dict[str, Person], app: FastAPI
) -> None:
    assert truncation_note(CAP) == NOTE
    run = submit(editor_http, "loud.py")
    ended = wait_for_end(editor_http, run["id"])
    assert ended["status"] == "finished" and ended["error"] == ""
    code, path = stored_log(app, run["id"])
    assert code == 0
    stored = path.read_bytes()
    # cut at the last whole line that fits; when the output arrived in the middle of a
    # line (pipes cut anywhere), that line is filled to the cap and ended before the note
    assert CAP - 100 < len(stored) <= CAP + 1 + len(NOTE)
    assert stored.endswith(b"\n" + NOTE.encode())
    *whole, last = stored.decode().splitlines()[:-1]
    assert whole == [f"{n:06d} " + "x" * 92 for n in range(len(whole))]
    assert (f"{len(whole):06d} " + "x" * 92).startswith(last)
    assert b"done" not in stored  # printed after the cap: dropped
    assert not (path.parent / PIPE_NAME).exists()

    logs = editor_http.get(f"/api/v1/runs/{run['id']}/logs", params={"offset": 0}).json()
    assert logs["done"] and logs["text"] == stored.decode() and logs["text"].endswith(NOTE)
    with modelyard.connect(live_server.url, crew["editor"].token) as client:
        text = "".join(chunk.text for chunk in client.runs.follow(run["id"]))
    assert text.endswith(NOTE)


@pytest.mark.usefixtures("loud")
def test_output_under_the_cap_is_kept_whole(editor_http: httpx.Client, app: FastAPI) -> None:
    run = submit(editor_http, "quiet.py")
    assert wait_for_end(editor_http, run["id"])["status"] == "finished"
    assert stored_log(app, run["id"])[0] == 0
    logs = editor_http.get(f"/api/v1/runs/{run['id']}/logs", params={"offset": 0}).json()
    assert logs["text"] == "".join(f"line {n}\n" for n in range(50)) + "done\n"


def test_a_run_keeps_its_pipe_when_the_server_dies_and_a_new_one_pumps_on(
    tmp_path: Path,
) -> None:
    log = tmp_path / "7" / "output.log"
    log.parent.mkdir()
    reader, writer = open_pipe(log)
    script = "for n in range(20_000): print(f'line {n}')"  # more than a pipe buffer holds
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=writer, stderr=subprocess.STDOUT, pass_fds=(reader,)
    )
    os.close(writer)
    os.close(reader)  # the server dies before reading a byte
    try:
        time.sleep(0.5)
        assert child.poll() is None  # waiting for a reader, not killed by a broken pipe
        reopened = reopen_pipe(log)
        assert reopened is not None
        pump = OutputPump(reopened, log, 10**6, name="test-pump")
        pump.start()
        assert child.wait(timeout=10) == 0
        pump.finish(5)
    finally:
        if child.poll() is None:
            child.kill()
    assert log.read_text() == "".join(f"line {n}\n" for n in range(20_000))
    assert not (log.parent / PIPE_NAME).exists()
    assert reopen_pipe(log) is None


def test_a_log_already_truncated_stays_truncated_after_a_restart(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    log.write_text("a" * CAP + "\n" + NOTE)
    reader, writer = open_pipe(log)
    pump = OutputPump(reader, log, CAP, name="test-pump")
    pump.start()
    with open(writer, "wb") as sink:
        sink.write(b"more\n" * 1000)
    pump.finish(5)
    assert log.read_text() == "a" * CAP + "\n" + NOTE


@pytest.mark.parametrize(
    ("chunks", "kept"),
    [
        # a whole line fits: the log ends there
        ([b"0123456789\nabcdefghijklmnop\n"], b"0123456789\n"),
        # the chunk starts a line that does not fit: none of it is written
        ([b"0123456789\n", b"abcdefghijklmnopqrstu\n"], b"0123456789\n"),
        # the log is inside a line already streamed: it is filled to the cap and ended
        ([b"0123456789\nabc", b"defghijklmnopqrstu\n"], b"0123456789\nabcdefghijklmn\n"),
    ],
)
def test_the_cut_falls_on_a_line_end_where_one_fits(
    tmp_path: Path, chunks: list[bytes], kept: bytes
) -> None:
    cap = 25
    path = tmp_path / "output.log"
    with path.open("ab", buffering=0) as sink:
        capped = CappedLog(sink, 0, cap, line_open=False)
        for chunk in [*chunks, b"after the cap\n"]:
            capped.write(chunk)
    stored = path.read_bytes()
    assert stored == kept + truncation_note(cap).encode()
    assert len(stored) <= cap + 1 + len(truncation_note(cap))
