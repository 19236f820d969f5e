"""The code pages of the portal, rendered on the server: tree, README, highlighted files,
history, diffs, cross-project search, escaping, path safety and who may see what."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard.code.repos import RepoStore
from modelyard.code.service import record_code_ref
from modelyard.projects.tables import ProjectRow
from tests.code.conftest import git, seed_repo
from tests.conftest import Person

# --- repositories, built once per session and copied into each test's home -------------------

README = (
    "# Churn\n\nPredicts **churn** next quarter.\n\n"
    "<script>alert('readme')</script>\n\n"
    '<img src="x" onerror="alert(7)">\n'
)
EVIL = "<script>alert(1)</script>\n"
HTML_SUBJECT = "Tune <b>the</b> model <script>alert(2)</script>"
HTML_BODY = 'Because <img src="x" onerror="alert(3)"> said so.'
BIG = 600 * 1024  # more than the 512 KiB the file page shows
LIVE_LABEL = "endpoint churn, variant a"
SLUGS = ("churn", "fraud", "vault")


@dataclass(frozen=True)
class Seeded:
    """Template bare repositories and the commits made in them."""

    root: Path
    first: str  # churn: README, src/train.py (return 42), R&D/notes/plan.txt; tagged v1
    second: str  # churn: train.py -> return 43, evil.txt, model.bin, big.txt, passwd symlink
    fraud: str
    vault: str


def seed_templates(root: Path) -> Seeded:
    store = RepoStore(root, max_push_bytes=100 * 1024 * 1024)
    churn = store.ensure("churn")
    first = seed_repo(
        churn,
        {
            "README.md": README,
            "src/train.py": "def train_model(data):\n    return 42\n",
            "R&D/notes/plan.txt": "try gradient boosting\n",
        },
        "Add the training script",
        author="Maya Mentor",
    )
    scratch = churn.parent / ".scratch-churn"
    git(scratch, "tag", "v1")
    git(scratch, "push", "-q", "origin", "v1")
    second = seed_repo(
        churn,
        {
            "src/train.py": "def train_model(data):\n    return 43\n",
            "evil.txt": EVIL,
            "model.bin": b"\x00\x01\x02binary",
            "big.txt": "x" * BIG,
        },
        f"{HTML_SUBJECT}\n\n{HTML_BODY}",
        author="Nico Newhire",
        symlinks={"passwd": "/etc/passwd"},
    )
    fraud = seed_repo(
        store.ensure("fraud"),
        {
            "detect.py": (
                "def detect_fraud_pattern(rows):\n"
                "    return [r for r in rows if r.amount > 1000]\n"
                "\n"
                "SHARED = 'shared_helper_marker'\n"
            )
        },
        "Detect fraud",
        author="Carol Coder",
    )
    vault = seed_repo(
        store.ensure("vault"),
        {"vault.py": "def hidden_vault_function():\n    return 'shared_helper_marker'\n"},
        "Hide things",
        author="Carol Coder",
    )
    return Seeded(root, first, second, fraud, vault)


def install(seeded: Seeded, store: RepoStore, slug: str) -> None:
    """Put the template repository of `slug` where the app keeps that project's repository."""
    target = store.path(slug)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(seeded.root / f"{slug}.git", target, symlinks=True)


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed_templates(tmp_path_factory.mktemp("code-templates"))


def create_yard(app: FastAPI, people: Callable[..., Person], seeded: Seeded) -> dict[str, Person]:
    """alice owns 'churn' and views carol's 'fraud'; carol owns 'vault' alone; bob is in
    nothing. All three repositories hold the seeded code."""
    team = {name: people(name) for name in ("alice", "bob", "carol")}
    projects = [("alice", "churn", "Churn forecast"), ("carol", "fraud", "Fraud")]
    projects.append(("carol", "vault", "Vault"))
    for owner, slug, name in projects:
        created = team[owner].client.post("/api/v1/projects", json={"slug": slug, "name": name})
        assert created.status_code == 201, created.text
    added = team["carol"].client.put(
        "/api/v1/projects/fraud/members/alice", json={"role": "viewer"}
    )
    assert added.status_code == 200, added.text
    for slug in SLUGS:
        install(seeded, app.state.repos, slug)
    return team


@pytest.fixture
def yard(app: FastAPI, people: Callable[..., Person], seeded: Seeded) -> dict[str, Person]:
    return create_yard(app, people, seeded)


@pytest.fixture
def alice(yard: dict[str, Person], portal: Callable[[str], TestClient]) -> TestClient:
    return portal("alice")


# --- reading pages ---------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            wanted = tag is None or child.tag == tag
            if wanted and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'} {attrs}> in\n{self.text[:2000]}"
        return found[0]

    def links(self) -> dict[str, str]:
        """Link text (whitespace collapsed) -> href (entities decoded, as a browser reads it)."""
        return {" ".join(a.text.split()): a.attrs.get("href", "") for a in self.find_all("a")}

    @property
    def words(self) -> str:
        return " ".join(self.text.split())


class Page(HTMLParser):
    """A response parsed the way a browser would build it: elements, attributes and text."""

    def __init__(self, response: Any) -> None:
        super().__init__(convert_charrefs=True)
        self.status: int = response.status_code
        self.raw: str = response.text
        self.root = Element("#document", {})
        self.all: list[Element] = []
        self._open = [self.root]
        self.feed(self.raw)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self._open[-1].children.append(element)
        self.all.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self._open[-1].children.append(element)
        self.all.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, 0, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def find(self, tag: str | None = None, **attrs: str) -> Element:
        return self.root.find(tag, **attrs)

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return self.root.find_all(tag, **attrs)

    def testid(self, name: str) -> Element:
        return self.root.find(data_testid=name)

    def links(self) -> dict[str, str]:
        return self.root.links()

    @property
    def words(self) -> str:
        return self.root.words

    def heading(self) -> str:
        return self.find("h1").words


def get(client: TestClient, url: str, **params: str) -> Page:
    return Page(client.get(url, params=params or None))


def assert_no_active_content(page: Page) -> None:
    """Nothing the seeded payloads (all calling `alert`) could run: no inline script element,
    no event-handler attribute or javascript:/data: URL carrying them. The portal's own
    scripts, if any, are files under /static/."""
    assert not re.search(r"<script[^>]*>\s*alert", page.raw, re.IGNORECASE), "a live <script>"
    for element in page.all:
        assert element.tag not in ("iframe", "object", "embed"), element
        if element.tag == "script":
            assert element.attrs.get("src", "").startswith("/static/"), element
            assert not element.text.strip(), element
        for name, value in element.attrs.items():
            if name.startswith("on"):
                assert "alert" not in value, f"<{element.tag} {name}={value!r}>"
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), value


CODE = "/projects/churn/code"


# --- the tree and the README -----------------------------------------------------------------


def test_the_tree_lists_files_with_links_and_renders_the_readme(
    alice: TestClient, seeded: Seeded
) -> None:
    page = get(alice, CODE)
    assert page.status == 200
    assert page.find("nav", aria_label="Project").find(aria_current="page").words == "Code"
    tree = page.testid("tree")
    links = tree.links()
    assert list(links) == [
        "R&D/",
        "src/",
        "big.txt",
        "evil.txt",
        "model.bin",
        "passwd",
        "README.md",
    ]
    assert links["src/"] == f"{CODE}?rev=main&path=src"
    assert links["R&D/"] == f"{CODE}?rev=main&path=R%26D"
    assert links["README.md"] == f"{CODE}/file?rev=main&path=README.md"
    assert links["passwd"] == f"{CODE}/file?rev=main&path=passwd"
    assert "passwd (symlink)" in tree.words
    assert "614.4 kB" in tree.words  # big.txt
    # The latest commit sits above the listing, with a link to it.
    last = page.find("p", **{"class": "card lastcommit"})
    assert last.links()[seeded.second[:8]] == f"{CODE}/commit/{seeded.second}"
    assert "Nico Newhire" in last.words
    # The top bar's search box is on every code page.
    search = page.find("form", role="search")
    assert search.attrs["action"] == "/code/search" and search.find("input").attrs["name"] == "q"

    readme = page.testid("readme")
    assert readme.find("h1").words == "Churn"
    assert readme.find("strong").words == "churn"
    assert "<script>alert('readme')</script>" in readme.text  # shown as text, not run
    assert_no_active_content(page)

    folder = get(alice, CODE, path="src")
    assert folder.status == 200
    assert folder.testid("tree").links() == {
        "..": f"{CODE}?rev=main&path=",
        "train.py": f"{CODE}/file?rev=main&path=src/train.py",
    }
    assert folder.testid("path").words == "churn / src"
    assert folder.find_all(data_testid="readme") == []  # only the root shows the README


def test_the_project_page_shows_the_readme_escaped(alice: TestClient) -> None:
    page = get(alice, "/projects/churn")
    assert page.status == 200
    readme = page.testid("readme")
    assert readme.find("h1").words == "Churn"
    assert "<script>alert('readme')</script>" in readme.text
    assert '<img src="x" onerror="alert(7)">' in readme.text
    assert page.find_all("img") == []
    assert_no_active_content(page)


def test_a_tag_or_older_commit_shows_the_tree_and_files_as_they_were(
    alice: TestClient, seeded: Seeded
) -> None:
    for rev in ("v1", seeded.first, seeded.first[:10]):
        tree = get(alice, CODE, rev=rev)
        assert tree.status == 200, rev
        assert set(tree.testid("tree").links()) == {"R&D/", "src/", "README.md"}
        assert tree.testid("tree").links()["src/"] == f"{CODE}?rev={rev}&path=src"
        file = get(alice, f"{CODE}/file", rev=rev, path="src/train.py")
        assert "return 42" in file.testid("file").text, rev
        assert "Maya Mentor" in file.find("p", **{"class": "card lastcommit"}).words


def test_the_parent_link_of_a_folder_with_an_ampersand_leads_to_its_parent(
    alice: TestClient,
) -> None:
    """`..` in R&D/notes must lead to R&D (the href must be URL-encoded like the others)."""
    root = get(alice, CODE)
    rnd = get(alice, root.testid("tree").links()["R&D/"])
    assert rnd.status == 200
    assert list(rnd.testid("tree").links()) == ["..", "notes/"]
    notes = get(alice, rnd.testid("tree").links()["notes/"])
    assert notes.status == 200 and "plan.txt" in notes.testid("tree").links()
    up = notes.testid("tree").links()[".."]
    assert parse_qs(urlsplit(up).query).get("path") == ["R&D"], up
    parent = get(alice, up)
    assert parent.status == 200 and "notes/" in parent.testid("tree").links()


def test_code_pages_need_no_inline_script_which_the_csp_blocks(
    alice: TestClient, seeded: Seeded
) -> None:
    """The portal's CSP is `script-src 'self'`: an inline `on...=` handler never runs, so the
    branch selector must not depend on one (the browser test checks that it works)."""
    page = Page(alice.get(CODE))
    assert "script-src 'self'" in alice.get(CODE).headers["content-security-policy"]
    select_box = page.find("select", aria_label="Branch or tag")
    options = [o.words for o in select_box.find_all("option")]
    assert options == ["main", "tag v1"]
    for url in (CODE, f"{CODE}/file?path=src/train.py", f"{CODE}/commits", "/code/search?q=x"):
        handlers = [
            f"<{e.tag} {name}>"
            for e in Page(alice.get(url)).all
            for name in e.attrs
            if name.startswith("on")
        ]
        assert handlers == [], (url, handlers)


# --- files -----------------------------------------------------------------------------------


def test_the_file_page_highlights_code_with_line_anchors(alice: TestClient, seeded: Seeded) -> None:
    page = get(alice, f"{CODE}/file", path="src/train.py")
    assert page.status == 200
    assert 'class="highlight"' in page.raw and 'id="L-1"' in page.raw and 'id="L-2"' in page.raw
    file = page.testid("file")
    assert file.find("span", **{"class": "k"}).words == "def"  # Pygments' keyword token
    assert file.find("span", **{"class": "nf"}).words == "train_model"
    assert file.find("a", href="#L-1").words == "1"
    assert "return 43" in file.text
    assert page.testid("path").words.startswith("churn / src / train.py")
    links = page.testid("path").links()
    assert links["src"] == f"{CODE}?rev=main&path=src"
    assert links["download"] == "/api/v1/projects/churn/code/raw?rev=main&path=src/train.py"
    assert links["history"] == f"{CODE}/commits?rev=main&path=src/train.py"
    assert "Nico Newhire" in page.find("p", **{"class": "card lastcommit"}).words


def test_binary_large_and_symlinked_files_show_a_notice_and_no_content(
    alice: TestClient,
) -> None:
    binary = get(alice, f"{CODE}/file", path="model.bin")
    assert binary.status == 200
    assert "Binary file (9 Bytes), not shown." in binary.testid("file").words
    assert 'class="highlight"' not in binary.raw and "\x02" not in binary.raw

    big = get(alice, f"{CODE}/file", path="big.txt")
    assert big.status == 200
    assert "too large to show here" in big.testid("file").words
    assert "x" * 100 not in big.raw and len(big.raw) < 50_000
    assert 'class="highlight"' not in big.raw

    link = get(alice, f"{CODE}/file", path="passwd")
    assert link.status == 200
    assert link.testid("file").words == "Symbolic link to /etc/passwd (not followed)."
    assert "root:" not in link.raw


def test_a_markdown_file_is_rendered_with_its_raw_html_escaped(alice: TestClient) -> None:
    page = get(alice, f"{CODE}/file", path="README.md")
    assert page.status == 200
    markdown = page.testid("file").find("div", **{"class": "markdown"})
    assert markdown.find("h1").words == "Churn"
    assert "<script>alert('readme')</script>" in markdown.text
    assert_no_active_content(page)


# --- history and diffs -----------------------------------------------------------------------


def commit_rows(page: Page) -> list[tuple[str, ...]]:
    rows = page.testid("commits").find("tbody").find_all("tr")
    return [tuple(td.words for td in row.find_all("td")[:3]) for row in rows]


def test_the_history_lists_commits_with_authors(alice: TestClient, seeded: Seeded) -> None:
    page = get(alice, f"{CODE}/commits")
    assert page.status == 200
    assert page.find("nav", aria_label="Project").find(aria_current="page").words == "Commits"
    assert commit_rows(page) == [
        (seeded.second[:8], HTML_SUBJECT, "Nico Newhire"),
        (seeded.first[:8], "Add the training script", "Maya Mentor"),
    ]
    links = page.testid("commits").links()
    assert links[seeded.first[:8]] == f"{CODE}/commit/{seeded.first}"
    assert links[seeded.second[:8]] == f"{CODE}/commit/{seeded.second}"

    only_plan = get(alice, f"{CODE}/commits", path="R&D/notes/plan.txt")
    assert [row[2] for row in commit_rows(only_plan)] == ["Maya Mentor"]
    assert "for R&D/notes/plan.txt" in only_plan.words
    untouched = get(alice, f"{CODE}/commits", path="no/such/file.py")
    assert untouched.status == 200 and "No commits touch no/such/file.py." in untouched.words
    beyond = get(alice, f"{CODE}/commits", page="2")
    assert beyond.status == 200 and "No commits." in beyond.words


def test_the_commit_page_shows_the_diff(alice: TestClient, seeded: Seeded) -> None:
    page = get(alice, f"{CODE}/commit/{seeded.second}")
    assert page.status == 200
    assert page.testid("commit-subject").words == HTML_SUBJECT
    assert HTML_BODY in page.find("pre", **{"class": "commit-body"}).text
    diffs = {d.find("h3").find("code").words: d for d in page.find_all(data_testid="diff")}
    assert set(diffs) == {"src/train.py", "evil.txt", "model.bin", "big.txt", "passwd"}
    train = diffs["src/train.py"]
    assert "modified" in train.find("h3").words
    assert [s.text for s in train.find_all("span", **{"class": "del"})] == ["-    return 42"]
    assert [s.text for s in train.find_all("span", **{"class": "add"})] == ["+    return 43"]
    assert train.find("span", **{"class": "hunk"}).text.startswith("@@ -1,2 +1,2 @@")
    assert "added" in diffs["model.bin"].find("h3").words
    assert "Binary file changed." in diffs["model.bin"].words
    assert "+/etc/passwd" in diffs["passwd"].words
    links = page.links()
    assert links[seeded.first[:8]] == f"{CODE}/commit/{seeded.first}"  # the parent
    assert links["browse files"] == f"{CODE}?rev={seeded.second}"

    # An abbreviated id names the same commit; the root commit diffs against nothing.
    short = get(alice, f"{CODE}/commit/{seeded.second[:10]}")
    assert short.status == 200 and short.testid("commit-subject").words == HTML_SUBJECT
    root = get(alice, f"{CODE}/commit/{seeded.first}")
    assert root.status == 200
    added = [d.find("h3").words for d in root.find_all(data_testid="diff")]
    assert sorted(added) == [
        "R&D/notes/plan.txt added",
        "README.md added",
        "src/train.py added",
    ]
    assert "parent" not in root.find("p", **{"class": "muted"}).words


# --- escaping ----------------------------------------------------------------------------------


def test_html_in_files_and_commit_messages_is_shown_as_text(
    alice: TestClient, seeded: Seeded
) -> None:
    evil = get(alice, f"{CODE}/file", path="evil.txt")
    assert evil.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil.raw
    assert EVIL.strip() in evil.testid("file").text
    assert_no_active_content(evil)

    for url in (
        CODE,
        f"{CODE}/commits",
        f"{CODE}/commit/{seeded.second}",
        f"{CODE}/file?path=evil.txt",
    ):
        page = get(alice, url)
        assert page.status == 200, url
        assert HTML_SUBJECT in page.words, url
        assert page.find_all("b") == [], url
        assert_no_active_content(page)

    diff = get(alice, f"{CODE}/commit/{seeded.second}")
    assert "+<script>alert(1)</script>" in diff.words
    assert_no_active_content(diff)


# --- paths, revisions and commits that do not exist -----------------------------------------

ESCAPES = [
    "../../etc/passwd",
    "src/../../../etc/passwd",
    "../",
    "..",
    "./README.md",
    "src\\..\\..\\etc\\passwd",
    "passwd/../../etc/passwd",
    "passwd/x",
    "src/%2e%2e/%2e%2e/etc/passwd",
    "/etc/passwd",
    "etc/passwd",
]


def assert_refused(page: Page, what: object) -> None:
    assert page.status in (400, 404, 422), (what, page.status, page.raw[:500])
    assert "root:" not in page.raw, what
    assert page.find("h1").words in ("Not found", "Something is wrong with that request"), what


def test_paths_outside_the_repository_give_4xx_pages(alice: TestClient) -> None:
    for path in ESCAPES:
        for url in (CODE, f"{CODE}/file"):
            assert_refused(get(alice, url, path=path), (url, path))
        commits = get(alice, f"{CODE}/commits", path=path)
        if commits.status == 200:  # a literal name that no commit touched
            assert "No commits touch" in commits.words, path
            assert "root:" not in commits.raw
        else:
            assert_refused(commits, ("commits", path))
    # A NUL byte is refused before any page is reached (a plain 400, still no content).
    nul = alice.get(f"{CODE}/file", params={"path": "src/train.py\x00/../../etc/passwd"})
    assert nul.status_code == 400 and "root:" not in nul.text
    for rev in ("../../etc/passwd", "--output=/tmp/pwned", "main:../../etc", "-n1"):
        for url in (CODE, f"{CODE}/commits"):
            assert_refused(get(alice, url, rev=rev), (url, rev))
        assert_refused(get(alice, f"{CODE}/file", rev=rev, path="README.md"), rev)
    for sha in ("..%2F..%2Fetc%2Fpasswd", "--help", "zzzz", "abc"):
        response = alice.get(f"{CODE}/commit/{sha}")
        assert 400 <= response.status_code < 500, (sha, response.status_code)
        assert "root:" not in response.text
    assert not Path("/tmp/pwned").exists()


def test_a_missing_revision_or_commit_is_a_404_page(alice: TestClient) -> None:
    for url in (CODE, f"{CODE}/commits", f"{CODE}/file?path=README.md"):
        page = get(alice, url + ("&" if "?" in url else "?") + "rev=no-such-branch")
        assert page.status == 404, url
        assert page.heading() == "Not found"
        assert "no revision 'no-such-branch'" in page.testid("error").words
    missing = get(alice, f"{CODE}/commit/{'0' * 40}")
    assert missing.status == 404 and missing.heading() == "Not found"
    assert get(alice, f"{CODE}/file", path="nope.py").status == 404
    assert get(alice, CODE, path="nope").status == 404
    assert get(alice, CODE, path="README.md").status == 404  # a file is not a folder
    assert get(alice, f"{CODE}/file", path="src").status == 404  # nor a folder a file


def test_an_empty_repository_explains_how_to_start(
    alice: TestClient, yard: dict[str, Person]
) -> None:
    created = yard["alice"].client.post("/api/v1/projects", json={"slug": "empty", "name": "E"})
    assert created.status_code == 201, created.text
    page = get(alice, "/projects/empty/code")
    assert page.status == 200
    empty = page.testid("empty-repo")
    assert empty.find("h2").words == "No code yet"
    assert "modelyard init empty --template online-classifier" in empty.words
    assert "/git/empty.git" in empty.words
    for url in ("/projects/empty/code/commits", "/projects/empty/code/file?path=README.md"):
        other = get(alice, url)
        assert other.status == 404, url
        assert "modelyard init" in other.testid("error").words
    project = get(alice, "/projects/empty")
    assert project.status == 200 and "No README in the repository yet" in project.words


# --- who may see what ------------------------------------------------------------------------


def test_a_non_member_gets_404_on_every_code_page(
    portal: Callable[[str], TestClient], yard: dict[str, Person], seeded: Seeded, app: FastAPI
) -> None:
    bob = portal("bob")
    urls = [
        "/projects/{slug}",
        "/projects/{slug}/code",
        "/projects/{slug}/code?path=src",
        "/projects/{slug}/code/file?path=src/train.py",
        "/projects/{slug}/code/file?path=passwd",
        "/projects/{slug}/code/commits",
        "/projects/{slug}/code/commits?path=src/train.py",
        f"/projects/{{slug}}/code/commit/{seeded.second}",
    ]
    for url in urls:
        page = get(bob, url.format(slug="churn"))
        assert page.status == 404, url
        assert page.heading() == "Not found"
        for secret in ("train_model", "Nico Newhire", "Maya Mentor", "Churn forecast"):
            assert secret not in page.raw, (url, secret)
        # Exactly what a project that does not exist answers: no hint that 'churn' exists.
        nowhere = get(bob, url.format(slug="nowhere"))
        assert nowhere.status == 404
        assert nowhere.raw.replace("nowhere", "churn") == page.raw.replace("nowhere", "churn")
    # Signed out, every code page asks to sign in first.
    anonymous = TestClient(app, follow_redirects=False)
    try:
        for url in urls:
            response = anonymous.get(url.format(slug="churn"))
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next=")
    finally:
        anonymous.close()


def search_rows(page: Page) -> list[tuple[str, ...]]:
    rows = page.testid("search-results").find_all("tr")
    return [tuple(td.words for td in row.find_all("td")) for row in rows]


def test_search_finds_code_in_projects_i_can_see_and_only_there(
    alice: TestClient, portal: Callable[[str], TestClient]
) -> None:
    found = get(alice, "/code/search", q="detect_fraud_pattern")
    assert found.status == 200
    assert search_rows(found) == [("fraud", "detect.py:1", "def detect_fraud_pattern(rows):")]
    link = found.testid("search-results").links()["detect.py:1"]
    assert link == "/projects/fraud/code/file?path=detect.py#L-1"
    assert found.testid("search-summary").words == "1 match in 2 projects."
    landed = get(alice, link)
    assert landed.status == 200 and 'id="L-1"' in landed.raw
    assert "detect_fraud_pattern" in landed.testid("file").text
    # The query is kept in the search box.
    assert found.find("main").find("input", name="q").attrs["value"] == "detect_fraud_pattern"

    hidden = get(alice, "/code/search", q="hidden_vault_function")
    assert hidden.status == 200
    assert "Nothing found." in hidden.words
    assert hidden.find_all(data_testid="search-results") == []
    shared = get(alice, "/code/search", q="shared_helper_marker")
    assert [row[:2] for row in search_rows(shared)] == [("fraud", "detect.py:4")]
    assert "/projects/vault" not in shared.raw and "vault.py" not in shared.raw

    regex = get(alice, "/code/search", q=r"def \w+_model\(", regex="true")
    assert search_rows(regex) == [("churn", "src/train.py:1", "def train_model(data):")]

    # carol owns fraud and vault but is not in churn.
    carol = portal("carol")
    theirs = get(carol, "/code/search", q="shared_helper_marker")
    assert sorted(row[0] for row in search_rows(theirs)) == ["fraud", "vault"]
    assert "Nothing found." in get(carol, "/code/search", q="train_model").words


def test_an_invalid_regular_expression_says_what_is_wrong(alice: TestClient) -> None:
    page = get(alice, "/code/search", q="def train_model(", regex="true")
    assert page.status == 422
    error = page.testid("error").words
    assert "not a valid regular expression" in error
    assert "missing ), unterminated subpattern" in error
    assert page.find("main").find("input", name="q").attrs["value"] == "def train_model("
    assert page.find_all(data_testid="search-results") == []
    # The same text as a plain search is fine.
    plain = get(alice, "/code/search", q="def train_model(")
    assert plain.status == 200 and search_rows(plain)[0][1] == "src/train.py:1"
    empty = get(alice, "/code/search", q="   ")
    assert empty.status == 200 and empty.find_all(data_testid="error") == []


# --- live code -------------------------------------------------------------------------------


def test_the_commit_an_endpoint_runs_is_marked_live(
    alice: TestClient, db: Session, seeded: Seeded
) -> None:
    project = db.scalars(select(ProjectRow).where(ProjectRow.slug == "churn")).one()
    record_code_ref(
        db, project.id, kind="variant", object_id="churn/a", commit=seeded.second, label=LIVE_LABEL
    )
    commits = get(alice, f"{CODE}/commits")
    rows = commits.testid("commits").find("tbody").find_all("tr")
    assert f"live: {LIVE_LABEL}" in rows[0].words and seeded.second[:8] in rows[0].words
    assert "live:" not in rows[1].words
    badge = rows[0].find("span", **{"class": "badge live"})
    assert badge.words == f"live: {LIVE_LABEL}"

    detail = get(alice, f"{CODE}/commit/{seeded.second}")
    assert detail.find("span", **{"class": "badge live"}).words == f"live: {LIVE_LABEL}"
    older = get(alice, f"{CODE}/commit/{seeded.first}")
    assert older.status == 200 and "live:" not in older.words

    tree = get(alice, CODE)
    assert tree.find("span", **{"class": "badge live"}).words == f"live: {LIVE_LABEL}"
    assert html.escape(LIVE_LABEL) in get(alice, "/projects/churn").raw
