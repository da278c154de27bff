"""`scripts/setup` installs only when pyproject.toml or the wanted extras changed, so the bot starts offline.

A copy of the script runs in a scratch checkout whose `.venv/bin/python` is a shim that records how it was called
(and fails when told pip is unreachable), so each case takes milliseconds instead of a real install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the shell scripts

ROOT = Path(__file__).resolve().parents[1]

SHIM = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../calls"
if [ -n "${PIP_UNREACHABLE:-}" ]; then
  echo "pip: cannot reach $PIP_INDEX_URL" >&2
  exit 1
fi
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(SHIM)
    python.chmod(0o755)
    return tmp_path


def setup(checkout: Path, *args: str, offline: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(checkout)}
    if offline:
        env |= {"PIP_UNREACHABLE": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_NO_INDEX": "1"}
    return subprocess.run(["bash", str(checkout / "scripts" / "setup"), *args], env=env, capture_output=True,
                          text=True, timeout=30, check=False)


def pip_calls(checkout: Path) -> list[str]:
    calls = checkout / ".venv" / "calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_second_setup_does_not_call_pip(checkout: Path) -> None:
    first = setup(checkout)
    assert first.returncode == 0, first.stderr
    assert pip_calls(checkout) == ["-m pip install -q -e ."]  # runtime dependencies only, pip not upgraded

    second = setup(checkout, offline=True)
    assert second.returncode == 0, second.stderr
    assert pip_calls(checkout) == ["-m pip install -q -e ."]


def test_a_changed_pyproject_installs_again(checkout: Path) -> None:
    assert setup(checkout).returncode == 0
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    failed = setup(checkout, offline=True)
    assert failed.returncode != 0 and "cannot reach" in failed.stderr
    assert setup(checkout).returncode == 0
    assert setup(checkout, offline=True).returncode == 0
    assert pip_calls(checkout) == ["-m pip install -q -e ."] * 3


def test_dev_extras_are_installed_once_and_serve_a_plain_run(checkout: Path) -> None:
    assert setup(checkout).returncode == 0
    assert setup(checkout, "dev").returncode == 0  # the test tools were not there yet
    assert setup(checkout, "dev", offline=True).returncode == 0
    assert setup(checkout, offline=True).returncode == 0
    assert pip_calls(checkout) == ["-m pip install -q -e .", "-m pip install -q -e .[dev]"]


def test_an_interrupted_install_is_not_taken_for_done(checkout: Path) -> None:
    assert setup(checkout, offline=True).returncode != 0
    assert not (checkout / ".venv" / ".install-stamp").exists()
    assert setup(checkout).returncode == 0
    assert len(pip_calls(checkout)) == 2


def test_unknown_extras_are_refused(checkout: Path) -> None:
    result = setup(checkout, "prod")
    assert result.returncode == 2 and "usage" in result.stderr
    assert pip_calls(checkout) == []


def test_run_and_test_scripts_ask_for_what_they_need() -> None:
    run = (ROOT / "scripts" / "run").read_text()
    test = (ROOT / "scripts" / "test").read_text()
    assert "bash scripts/setup\n" in run and "bash scripts/setup dev\n" in test
    assert "bash scripts/test" in (ROOT / ".ci" / "run").read_text()
