"""What `make up` installs on a fresh machine is enough for the demo it loads and for the
starter code `modelyard init` scaffolds: their training runs and replicas run on the server's
own interpreter by default, so whatever a template's requirements.txt names must come with
modelyard. The test virtualenv has everything, so only this check sees the gap."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "src" / "modelyard" / "code" / "templates"


def name_of(requirement: str) -> str:
    """The normalized distribution name of a requirement line such as `river>=0.21`."""
    found = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found[1]).lower()


def installed_by_make_up() -> set[str]:
    makefile = (REPO / "Makefile").read_text()
    rule = re.search(r"^\$\(VENV\)/\.installed-run:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "the Makefile has no .installed-run rule"
    install = re.search(r"pip install .*-e \"?\.(\[[\w,-]+\])?\"?", rule[1])
    assert install, rule[1]
    extras = install[1].strip("[]").split(",") if install[1] else []
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return {name_of(line) for line in wanted} | {"modelyard"}


def test_make_up_installs_what_the_templates_need() -> None:
    installed = installed_by_make_up()
    for requirements in sorted(TEMPLATES.glob("*/requirements.txt")):
        needed = {
            name_of(line)
            for line in requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        missing = needed - installed
        assert not missing, f"{requirements.parent.name} needs {missing}, not installed by make up"
