"""docs/tutorial.md as a script: its code blocks, in order, each with who runs it and which
step it belongs to; and a shell that runs them as a person would in one terminal, keeping the
folder (`cd`) and the exported variables from one block to the next.

The markdown marks who is at the keyboard with `<!-- as: NAME -->` and where a step starts
with `<!-- step: NAME -->`; a ```bash or ```python block is run, any other block is not."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
DOC_URL = "http://127.0.0.1:8000"
RUN = ("bash", "python")
_MARK = re.compile(r"<!--\s*(as|step):\s*([\w-]+)\s*-->")
_FENCE = re.compile(r"^```(\w*)\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\(images/([\w.-]+)\)")
# What a shell leaves behind that must not be carried into the next block.
_SHELL_OWN = {"_", "SHLVL", "PWD", "OLDPWD"}


@dataclass(frozen=True)
class Block:
    step: str
    person: str
    language: str
    code: str


def blocks(text: str) -> list[Block]:
    """Every runnable block of the tutorial, in order."""
    found: list[Block] = []
    person = step = ""
    language: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if language is not None:
            if line.strip() == "```":
                if language in RUN:
                    assert step and person, f"a {language} block before any step or person"
                    found.append(Block(step, person, language, "\n".join(lines) + "\n"))
                language, lines = None, []
            else:
                lines.append(line)
            continue
        fence = _FENCE.match(line)
        if fence:
            language = fence[1]
            continue
        for kind, value in _MARK.findall(line):
            if kind == "as":
                person = value
            else:
                step = value
    assert language is None, "the tutorial ends inside a code block"
    return found


def images(text: str) -> set[str]:
    """The screenshots the tutorial shows (files in docs/images)."""
    return set(_IMAGE.findall(text))


@dataclass
class Shell:
    """One terminal: a working folder and environment carried from block to block."""

    cwd: Path
    env: dict[str, str]
    port: int
    state: Path
    transcript: list[str] = field(default_factory=list)

    def localize(self, code: str) -> str:
        return code.replace(DOC_URL, f"http://127.0.0.1:{self.port}")

    def run(self, block: Block, extra_env: dict[str, str], timeout: float = 300) -> str:
        """Run one block to its end; its output (stdout and stderr), or an AssertionError."""
        code = self.localize(block.code)
        env = {**self.env, **extra_env}
        if block.language == "python":
            script = self.state / "block.py"
            script.write_text(code)
            command = [sys.executable, str(script)]
        else:
            ending = f'\npwd > "{self.state}/cwd"\nenv -0 > "{self.state}/env"\n'
            command = ["bash", "-c", "set -euo pipefail\n" + code + ending]
        done = subprocess.run(
            command,
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
        self.transcript.append(f"$ [{block.person} · {block.step}]\n{code}{output}")
        assert done.returncode == 0, f"step {block.step!r} failed ({done.returncode}):\n{output}"
        if block.language == "bash":
            self._carry(extra_env)
        return output

    def start(self, block: Block, extra_env: dict[str, str], log: Path) -> subprocess.Popen[str]:
        """Start a block that runs until stopped (`make up`), in its own process group."""
        with log.open("w") as sink:
            return subprocess.Popen(
                ["bash", "-c", "set -euo pipefail\n" + self.localize(block.code)],
                cwd=self.cwd,
                env={**self.env, **extra_env},
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )

    def _carry(self, extra_env: dict[str, str]) -> None:
        self.cwd = Path((self.state / "cwd").read_text().strip())
        pairs = (self.state / "env").read_text().split("\0")
        env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        for name in (*_SHELL_OWN, *extra_env):
            env.pop(name, None)
        self.env = env


def base_env(home: Path) -> dict[str, str]:
    """A new hire's terminal: this interpreter's `bin` (where `modelyard` is) on PATH, an
    empty home (no saved login, no git identity), nothing of the test run's own settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MODELYARD_", "PYTEST", "GIT_"))
    }
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env
