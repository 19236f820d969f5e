"""A remote run's output: the pipe its process writes into, and the pump that copies the pipe
into the run's log up to `MODELYARD_RUN_MAX_LOG_BYTES`.

The process's stdout and stderr are a named pipe (`output.pipe`, beside `output.log`), never
the log file itself. A pump thread in the control plane reads the pipe and appends each chunk
to the log as soon as it arrives (unbuffered), so the live log viewer and `modelyard run`
see a line when the script prints it. Once the log reaches the cap, the pump writes one note
and discards the rest while still reading, so the script never blocks and the run goes on.

When the server restarts while a run goes on: the run's process also holds a read end of its
own pipe (never read), so the pipe outlives the server that read it. The script's writes never
fail with EPIPE; what it prints meanwhile waits in the pipe's buffer (the script pauses once
that buffer, 64 KiB on Linux, is full, until a server reads again). The restarted server that
adopts the run opens the pipe again by its path and pumps on; the cap counts what the log
already holds, so a truncated log stays truncated and nothing printed in between is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("modelyard.runs")

PIPE_NAME = "output.pipe"
CHUNK = 65_536
POLL_MS = 250


def truncation_note(cap: int) -> str:
    return f"modelyard: output truncated at {_size(cap)} (MODELYARD_RUN_MAX_LOG_BYTES); the run goes on\n"


def open_pipe(log: Path) -> tuple[int, int]:
    """A fresh named pipe beside `log`: (read end, write end). Give the process the write end
    for its output and the read end to keep (see the module's docstring); pump the read end."""
    fifo = log.parent / PIPE_NAME
    fifo.unlink(missing_ok=True)
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # does not wait for a writer
    try:
        writer = os.open(fifo, os.O_WRONLY)
    except OSError:
        os.close(reader)
        raise
    return reader, writer


def reopen_pipe(log: Path) -> int | None:
    """The read end of a run's pipe, opened again after a restart; None when it has none."""
    try:
        return os.open(log.parent / PIPE_NAME, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None


class OutputPump:
    """Copies what arrives on `reader` (a non-blocking pipe end it now owns) to `log`, up to
    `cap` bytes of log, until every writer has closed the pipe or it is abandoned."""

    def __init__(self, reader: int, log: Path, cap: int, *, name: str) -> None:
        self._reader = reader
        self._log = log
        self._cap = cap
        self._abandon = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finish(self, timeout: float) -> None:
        """Wait until the pipe has no writer left (the output is all in the log); after
        `timeout` seconds stop anyway: something outside the run's group still holds it."""
        self._thread.join(timeout)
        self._abandon.set()
        self._thread.join()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._reader, select.POLLIN)
        try:
            with self._open_log() as sink:
                sink.seek(0, os.SEEK_END)
                capped = CappedLog(sink, sink.tell(), self._cap, _ends_open(self._log))
                while not self._abandon.is_set():
                    poller.poll(POLL_MS)
                    try:
                        chunk = os.read(self._reader, CHUNK)
                    except BlockingIOError:
                        continue  # a writer is there, with nothing to say yet
                    if not chunk:
                        break  # no writer left
                    capped.write(chunk)
        finally:
            os.close(self._reader)
            with contextlib.suppress(OSError):
                (self._log.parent / PIPE_NAME).unlink()

    def _open_log(self) -> BinaryIO:
        try:
            self._log.parent.mkdir(parents=True, exist_ok=True)
            return self._log.open("ab", buffering=0)
        except OSError:  # still drain the pipe, so the script never blocks
            log.exception("could not open %s; the run's output is lost", self._log)
            return open(os.devnull, "ab", buffering=0)


class CappedLog:
    """Appends to a log of `written` bytes until it holds `cap`, then writes one note."""

    def __init__(self, sink: BinaryIO, written: int, cap: int, line_open: bool) -> None:
        self._sink = sink
        self._room = cap - written
        self._cap = cap
        self._line_open = line_open
        self.truncated = written > cap  # the note is there already (a restart)

    def write(self, chunk: bytes) -> None:
        if self.truncated:
            return
        try:
            if len(chunk) <= self._room:
                self._put(chunk)
                return
            kept = chunk[: max(self._room, 0)]
            end = kept.rfind(b"\n")
            if end >= 0:  # end at the last whole line that fits
                self._put(kept[: end + 1])
            elif self._line_open:  # the log is inside a line already streamed: fill it to
                self._put(kept)  # the cap, then end it (cap + 1 byte + the note at most)
            note = truncation_note(self._cap).encode()
            self._sink.write(b"\n" + note if self._line_open else note)
        except OSError:  # a full disk: keep reading, so the script never blocks
            log.exception("could not write to %s; the rest of the run's output is lost", self._sink)
        self.truncated = True

    def _put(self, data: bytes) -> None:
        if data:
            self._sink.write(data)
            self._room -= len(data)
            self._line_open = not data.endswith(b"\n")


def _ends_open(path: Path) -> bool:
    """Whether the file ends in the middle of a line."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except OSError:
        return False


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
