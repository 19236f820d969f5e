"""The project templates run as shipped: train.py trains, predict.py serves what it saved."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import modelyard.code

TEMPLATES = Path(modelyard.code.__file__).parent / "templates"
ALL_TEMPLATES = sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())
REQUIRED_FILES = ("README.md", "train.py", "predict.py", "requirements.txt", "modelyard.yaml")

PROJECT, NAME = "churn-demo", "Churn Demo"
RISKY = {
    "tenure_months": 2,
    "monthly_charges": 105.0,
    "support_calls": 5,
    "contract": "month-to-month",
}
LOYAL = {"tenure_months": 64, "monthly_charges": 25.0, "support_calls": 0, "contract": "two-year"}


def render(template: str, dest: Path) -> Path:
    """Copy a template and fill in its placeholders, as the scaffolder does."""
    copy = dest / template
    shutil.copytree(
        TEMPLATES / template, copy, ignore=shutil.ignore_patterns("__pycache__", "model")
    )
    for path in copy.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("{{project}}", PROJECT).replace("{{name}}", NAME))
    return copy


def train(copy: Path) -> str:
    # -W error: the template must not warn, and neither may River or scikit-learn through it.
    result = subprocess.run(
        [sys.executable, "-W", "error", "train.py"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout


def load_predict(copy: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"predict_{copy.name.replace('-', '_')}", copy / "predict.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_answer(answer: Any) -> float:
    assert set(answer) == {"churn", "probability"}
    assert isinstance(answer["churn"], bool)
    assert isinstance(answer["probability"], float)
    assert 0.0 <= answer["probability"] <= 1.0
    assert answer["churn"] == (answer["probability"] >= 0.5)
    assert json.loads(json.dumps(answer)) == answer
    return float(answer["probability"])


def test_the_starter_templates_are_shipped() -> None:
    assert {"online-classifier", "batch-classifier"} <= set(ALL_TEMPLATES)


@pytest.mark.parametrize("template", ALL_TEMPLATES)
def test_template_is_complete_and_fully_substituted(template: str, tmp_path: Path) -> None:
    for name in REQUIRED_FILES:
        assert (TEMPLATES / template / name).is_file(), f"{template} has no {name}"

    copy = render(template, tmp_path)
    for path in copy.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(encoding="utf-8"), f"placeholder left in {path}"
    assert f"project: {PROJECT}\n" in (copy / "modelyard.yaml").read_text()
    assert NAME in (copy / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("template", "online"), [("online-classifier", True), ("batch-classifier", False)]
)
def test_template_trains_and_serves(template: str, online: bool, tmp_path: Path) -> None:
    if not online:
        pytest.importorskip("pandas", reason="the batch template needs pandas")
    copy = render(template, tmp_path)

    output = train(copy)
    accuracy = float(re.findall(r"accuracy: ([0-9.]+)", output)[-1])
    assert accuracy > 0.6, output
    assert (copy / "model" / "model.pkl").is_file()

    predictor = load_predict(copy).Predictor(str(copy / "model"))
    risky = check_answer(predictor.predict({"customer_id": "C99999", **RISKY}))
    loyal = check_answer(predictor.predict(LOYAL))
    assert risky > 0.5 > loyal  # the model learned the pattern in the data

    # Only the online template may have `learn`: its presence makes a variant an online learner.
    assert hasattr(predictor, "learn") is online
    if online:
        for label in (False, 0, "0", "false"):
            predictor.learn(RISKY, label)
        assert check_answer(predictor.predict(RISKY)) < risky
