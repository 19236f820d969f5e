"""The layout rules of DESIGN.md, checked by walking every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard

SRC = Path(modelyard.__file__).parent
CAPABILITIES = {
    "accounts",
    "projects",
    "code",
    "data",
    "experiments",
    "registry",
    "serving",
    "online",
    "monitoring",
}
SHARED = {"config", "errors", "db", "validation"}
# What every process that runs model code shares (replicas, learners): the spec contract and
# the Predictor family. They import no server code, so importing them is no back door.
WORKER_CONTRACT = ("spec", "predictors")


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts or "templates" in path.parts:
            continue
        relative = path.relative_to(SRC).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        found.append((".".join(["modelyard", *parts]), path))
    return found


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.extend((name, id(node) in top_level) for name in names)
    return found


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_capabilities_import_only_what_design_allows() -> None:
    problems = []
    for module, path in _modules():
        area = _area(module)
        if area not in CAPABILITIES:
            continue
        for imported, _ in _imports(path):
            if not imported.startswith("modelyard."):
                continue
            other = _area(imported)
            parts = imported.split(".")
            if other in {"web", "cli", "client", "app", "server", "demo"} or (
                other in CAPABILITIES
                and other not in (area, "accounts")
                and len(parts) > 2
                and parts[2] not in ("service", "schemas")
                and not (other == "serving" and parts[2] in WORKER_CONTRACT)
            ):
                problems.append(f"{module} imports {imported}")
    assert problems == []


def test_the_sdk_imports_nothing_from_the_server() -> None:
    allowed = {"client", "errors"}
    problems = [
        f"{module} imports {imported}"
        for module, path in _modules()
        if _area(module) == "client"
        for imported, _ in _imports(path)
        if imported.startswith("modelyard.") and _area(imported) not in allowed
    ]
    assert problems == []


def test_cli_imports_server_code_only_inside_commands() -> None:
    client_side = {"client", "errors", "cli"}
    problems = [
        f"{module} imports {imported} at module level"
        for module, path in _modules()
        if _area(module) == "cli"
        for imported, top in _imports(path)
        if top and imported.startswith("modelyard.") and _area(imported) not in client_side
    ]
    assert problems == []


def test_importing_the_sdk_does_not_load_the_server() -> None:
    code = (
        "import sys, modelyard, modelyard.cli.main\n"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'modelyard.app') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_modules_stay_small_and_are_named_after_concepts() -> None:
    too_big = [
        f"{path.relative_to(SRC)} ({n} lines)"
        for _, path in _modules()
        if (n := len(path.read_text().splitlines())) > 400
    ]
    assert too_big == []
    assert not [p for p in SRC.rglob("*.py") if p.stem in ("utils", "helpers", "misc", "common")]


def test_public_sdk_surface_is_pinned() -> None:
    assert sorted(modelyard.__all__) == [
        "AuthenticationError",
        "Client",
        "ConflictError",
        "ConnectionFailedError",
        "ConnectorError",
        "InvalidInputError",
        "ModelyardError",
        "NotFoundError",
        "PermissionDeniedError",
        "ServiceUnavailableError",
        "__version__",
        "active_run",
        "autolog",
        "connect",
        "dataset",
        "deploy",
        "load_model",
        "start_run",
    ]
    for name in modelyard.__all__:
        assert hasattr(modelyard, name)


@pytest.mark.parametrize("worker", ["modelyard.serving.replica", "modelyard.online.learner"])
def test_a_worker_process_imports_only_what_it_needs(worker: str) -> None:
    code = (
        f"import sys, {worker}\n"
        "heavy = ('fastapi', 'sqlalchemy', 'modelyard.web', 'modelyard.app')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
