"""The linters the project holds itself to: ruff, yamllint, ansible-lint (production profile)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.lint


def _run(*cmd: str) -> None:
    env = dict(os.environ, NO_COLOR="1", PY_COLORS="0")
    proc = subprocess.run(cmd, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"


def test_python_is_ruff_clean():
    _run(str(BIN / "ruff"), "check", ".")


def test_python_is_ruff_formatted_where_it_matters():
    # Import order and unused names are covered by `check`; formatting is not enforced.
    _run(str(BIN / "ruff"), "check", "--select", "I,F401", ".")


def test_yaml_is_yamllint_clean():
    _run(str(BIN / "yamllint"), "--strict", ".")


def test_ansible_is_lint_clean_in_the_production_profile():
    _run(str(BIN / "ansible-lint"), "--offline", "--profile", "production")
