"""A new hire's first week, end to end: docs/tutorial.md run as written.

`make up` starts modelyard with the demo as a real process; then every bash and python block
of the tutorial runs in order in one terminal (the admin's as the admin, the rest as
`newhire`), with the real CLI, SDK and git, and the portal pages the tutorial shows are
opened in chromium. After each step what a person would see is checked against the server's
state: the new variant gets about 10% of the customers, the promotion moves the alias, the
stopped variant gets no traffic. Once on SQLite (the default, in the home folder) and once
with PostgreSQL as the metadata store.

MODELYARD_UPDATE_SCREENSHOTS=1 writes the screenshots into docs/images (on the SQLite leg).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from modelyard.demo import DEMO_PASSWORD
from tests.conftest import free_port
from tests.journey.tutorial import TUTORIAL, Block, Shell, base_env, blocks, images
from tests.test_up_process import wait_for_demo_runs, wait_for_demo_traffic, wait_healthy
from tests.web.conftest import Tab
from tests.web.conftest import browser as browser  # the module's chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
ADMIN_PASSWORD = "tutorial-admin-password"
PASSWORDS = {"admin": ADMIN_PASSWORD, "newhire": DEMO_PASSWORD}
ENDPOINT = "/api/v1/projects/churn/endpoints/churn"
VERSIONS = "/api/v1/projects/churn/models/churn-online/versions"


class Journey:
    """What the checks after each step need: the server, the newhire's API session, the
    browser, and what earlier steps printed."""

    def __init__(
        self, url: str, http: httpx.Client, browser: Browser, shots: Path, terminal: Shell
    ) -> None:
        self.url, self.http, self.browser, self.shots = url, http, browser, shots
        self.terminal_env = lambda: terminal.env
        self.outputs: dict[str, str] = {}
        self.screenshots: set[str] = set()

    def tab(self, username: str, password: str) -> Tab:
        tab = Tab(self.browser, self.url)
        page = tab.page
        page.goto("/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("link", name="Overview")).to_be_visible()
        return tab

    def screenshot(self, tab: Tab, name: str, part: str = "") -> None:
        """The whole page, or only the element `part` selects."""
        path = str(self.shots / name)
        if part:
            tab.page.locator(part).screenshot(path=path)
        else:
            tab.page.screenshot(path=path, full_page=True)
        self.screenshots.add(name)
        assert not tab.errors, tab.errors

    def settle(self, wanted: Callable[[str], bool], in_a_row: int = 20) -> None:
        """Wait (at most 30 s) until the replicas answer `in_a_row` predictions in a row with
        the endpoint key from the terminal, each from a variant `wanted` accepts."""
        key = self.terminal_env()["MODELYARD_ENDPOINT_KEY"]
        record = {"tenure_months": 3, "monthly_charges": 70.5, "support_calls": 2}
        body = {"inputs": {**record, "contract": "month-to-month"}}
        deadline, streak, n = time.monotonic() + 30, 0, 0
        while streak < in_a_row:
            assert time.monotonic() < deadline, f"replicas did not follow: {streak} in a row"
            n += 1
            answer = httpx.post(
                f"{self.url}/serve/churn/churn/predict",
                json={**body, "key": f"settle-{n}"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            )
            ok = answer.status_code == 200 and wanted(answer.json()["variant"])
            streak = streak + 1 if ok else 0
            if not ok:
                time.sleep(0.1)

    def variants(self) -> dict[str, dict[str, object]]:
        answer = self.http.get(ENDPOINT)
        assert answer.status_code == 200, answer.text
        return {v["name"]: v for v in answer.json()["variants"]}

    def aliases(self) -> dict[str, int]:
        items = self.http.get(VERSIONS).json()["items"]
        return {alias: v["version"] for v in items for alias in v["aliases"]}


def check_up(journey: Journey, output: str) -> None:
    runs = wait_for_demo_runs(journey.http)
    assert [r["status"] for r in runs] == ["finished"] * 3, runs
    endpoint = wait_for_demo_traffic(journey.http)
    assert {v["name"]: v["share"] for v in endpoint["variants"]} == {
        "champion": 0.9,
        "challenger": 0.1,
    }


def check_admin(journey: Journey, output: str) -> None:
    assert "as admin" in output, output
    assert "customers" in output and "customer-activity" in output, output
    members = journey.http.get("/api/v1/projects/churn/members").json()["items"]
    assert {m["username"]: m["role"] for m in members}["newhire"] == "editor"
    tab = journey.tab("admin", ADMIN_PASSWORD)
    try:
        tab.page.goto("/admin/connections")
        expect(tab.page.get_by_role("link", name="warehouse")).to_be_visible()
        journey.screenshot(tab, "admin-connections.png")
    finally:
        tab.context.close()


def check_login(journey: Journey, output: str) -> None:
    assert "churn" in output, output
    tab = journey.tab("newhire", DEMO_PASSWORD)
    try:
        page = tab.page
        page.goto("/projects/churn/start")
        for heading in ("What this project is for", "Code", "Data", "Best runs", "Models"):
            expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name="Live endpoints")).to_be_visible()
        main = page.locator("main")
        expect(main.get_by_role("link", name="customers").first).to_be_visible()
        expect(main.get_by_role("link", name="churn-online").first).to_be_visible()
        expect(main.locator('a[href="/projects/churn/endpoints/churn"]').first).to_be_visible()
        expect(page.get_by_test_id("clone-commands")).to_contain_text(
            f"git clone {journey.url}/git/churn.git"
        )
        journey.screenshot(tab, "start-here.png")
    finally:
        tab.context.close()


def check_data(journey: Journey, output: str) -> None:
    assert "churned" in output and "tenure_months" in output, output
    found = re.search(r"(\d+) customers, (\d+)% of them churned", output)
    assert found and int(found[1]) > 100 and 5 <= int(found[2]) <= 60, output


def check_clone(journey: Journey, output: str) -> None:
    assert "Note which metric to watch" in output, output


def check_change(journey: Journey, output: str) -> None:
    assert "train.py | 2 +-" in output and "Pushed main at" in output, output
    head = journey.http.get("/api/v1/projects/churn/code/commits").json()["items"][0]
    assert head["subject"] == "Learn faster: learning rate 0.1", head
    assert head["author"] == "Nico Newhire", head  # `modelyard clone` set the identity
    journey.outputs["commit"] = head["sha"]


def check_train(journey: Journey, output: str) -> None:
    found = re.search(r"registered churn-online version (\d+)", output)
    assert found, output
    assert journey.aliases()["candidate"] == int(found[1])
    run = journey.http.get("/api/v1/projects/churn/runs").json()["items"][0]
    assert run["status"] == "finished" and run["user"] == "newhire", run
    assert float(run["params"]["learning_rate"]) == 0.1, run["params"]
    assert run["commit"] == journey.outputs["commit"]


def check_compare(journey: Journey, output: str) -> None:
    assert "candidate" in output and "champion" in output, output


def check_deploy(journey: Journey, output: str) -> None:
    variants = journey.variants()
    shares = {name: v["share"] for name, v in variants.items()}
    assert shares == {"champion": 0.9, "challenger": 0.0, "nico": 0.1}, shares
    assert variants["nico"]["version"] == journey.aliases()["candidate"]
    # the URLs printed name the port the server really listens on (PORT, not a default)
    assert f"{journey.url}/serve/churn/churn/predict" in output and ":8000" not in output
    # the hint after deploying is a command to copy: 10% for nico, the rest in proportion
    assert "split churn -p churn champion=81 challenger=9 nico=10" in output, output


def check_key(journey: Journey, output: str) -> None:
    assert "shown only now" in output and "mye_" not in output, output  # into the variable
    # replicas accept a new key "within a second": a person reads on, a test waits for it
    journey.settle(lambda variant: True)


def served(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+): (\d+) of 600", output, re.M)}


def check_traffic(journey: Journey, output: str) -> None:
    counts = served(output)
    assert set(counts) <= {"champion", "nico"} and sum(counts.values()) == 600, output
    assert 0.05 <= counts.get("nico", 0) / 600 <= 0.16, counts  # about 10%


def check_watch(journey: Journey, output: str) -> None:
    assert "nico" in output and "champion" in output, output
    quality = journey.http.get(f"{ENDPOINT}/quality", params={"window": 900}).json()
    labels = {s["variant"]: s["labels"] for s in quality["summary"]}
    assert labels.get("nico", 0) >= 30 and labels.get("champion", 0) >= 300, labels
    tab = journey.tab("newhire", DEMO_PASSWORD)
    try:
        page = tab.page
        page.goto("/projects/churn/endpoints/churn")
        table = page.get_by_test_id("ab-table")
        expect(table).to_be_visible(timeout=20_000)
        expect(table).to_contain_text("nico")
        journey.screenshot(tab, "endpoint-ab.png", part="#quality")
    finally:
        tab.context.close()


def check_promote(journey: Journey, output: str) -> None:
    aliases = journey.aliases()
    assert aliases["champion"] == aliases["candidate"], aliases
    assert journey.variants()["champion"]["version"] == aliases["candidate"]
    assert f"churn-online@champion → version {aliases['candidate']}" in output, output


def check_stop(journey: Journey, output: str) -> None:
    shares = {name: v["share"] for name, v in journey.variants().items()}
    assert shares == {"champion": 1.0, "nico": 0.0}, shares  # the challenger is gone
    assert "Removed challenger from churn/churn" in output, output
    # replicas follow a new split "within a second" (README); a person reads the next
    # paragraph first, a test waits until the replicas answer as the new split says
    journey.settle(lambda variant: variant == "champion")


def check_check(journey: Journey, output: str) -> None:
    assert output.strip().splitlines()[-1] == "{'champion': 200}", output


CHECKS: dict[str, Callable[[Journey, str], None]] = {
    name.removeprefix("check_"): check
    for name, check in globals().items()
    if name.startswith("check_") and callable(check)
}


@pytest.fixture
def up_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """What `make up` is given: the port and home folder (Makefile variables), this
    interpreter's virtualenv, and PostgreSQL when that is the leg."""
    env = {"PORT": str(free_port()), "HOME_DIR": str(tmp_path / "yard"), "VENV": sys.prefix}
    if database_url.startswith("postgresql"):
        env["MODELYARD_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if os.environ.get("MODELYARD_UPDATE_SCREENSHOTS") and "sqlite" in request.node.name:
        IMAGES.mkdir(exist_ok=True)
        return IMAGES
    (tmp_path / "shots").mkdir()
    return tmp_path / "shots"


@pytest.fixture
def server(up_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Block, Shell]]:
    """The tutorial's first block (`make up`), running in the background like a terminal
    left open; stopped with Ctrl-C (SIGINT to its process group) at the end."""
    first, *_ = blocks(TUTORIAL.read_text())
    assert first.step == "up" and "make up" in first.code, first
    state = tmp_path / "terminal-1"
    state.mkdir()
    shell = Shell(REPO, base_env(tmp_path / "home"), int(up_env["PORT"]), state)
    log = tmp_path / "make-up.log"
    process = shell.start(first, up_env, log)
    try:
        try:
            wait_healthy(f"http://127.0.0.1:{up_env['PORT']}", process, timeout=180)
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{log.read_text()}") from None
        yield first, shell
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise AssertionError(f"make up did not stop on Ctrl-C:\n{log.read_text()}") from None
    printed = log.read_text()
    assert "Traceback" not in printed, printed
    assert "HTTP Request:" not in printed, "the terminal is for the server's own news"


def test_the_tutorial_as_written(
    server: tuple[Block, Shell], browser: Browser, shots: Path, tmp_path: Path
) -> None:
    text = TUTORIAL.read_text()
    first, background = server
    steps = blocks(text)
    assert steps[0] == first
    assert {b.step for b in steps} == set(CHECKS), "each step of the tutorial has a check"
    url = f"http://127.0.0.1:{background.port}"
    state = tmp_path / "terminal-2"
    state.mkdir()
    terminal = Shell(tmp_path / "work", background.env, background.port, state)
    terminal.cwd.mkdir()
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as http:
        login = http.post(
            "/api/v1/auth/login", json={"username": "newhire", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        journey = Journey(url, http, browser, shots, terminal)
        for step in dict.fromkeys(b.step for b in steps):
            output = "".join(
                terminal.run(block, {"MODELYARD_PASSWORD": PASSWORDS[block.person]})
                for block in steps[1:]
                if block.step == step
            )
            journey.outputs[step] = output
            try:
                CHECKS[step](journey, output)
            except AssertionError as failed:
                transcript = "\n".join(terminal.transcript[-3:])
                raise AssertionError(f"after step {step!r}:\n{transcript}") from failed
    if os.environ.get("MODELYARD_JOURNEY_TRANSCRIPT"):  # what a reader would see, to proofread
        Path(os.environ["MODELYARD_JOURNEY_TRANSCRIPT"]).write_text("\n".join(terminal.transcript))
    minutes = (time.monotonic() - started) / 60
    print(f"the tutorial took {minutes:.1f} minutes after `make up` answered")
    assert journey.screenshots == images(text), "every screenshot in the tutorial is taken"
    missing = [name for name in images(text) if not (IMAGES / name).is_file()]
    assert not missing, f"{missing}: run once with MODELYARD_UPDATE_SCREENSHOTS=1"
