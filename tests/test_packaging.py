"""The image installs exactly pinned versions: constraints.txt must pin every runtime dependency of pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_constraints_pin_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pinned[_name(name)] = version
    missing = [dep for dep in project["dependencies"] if _name(dep) not in pinned]
    assert not missing, f"run `bash scripts/lock`: constraints.txt lacks {missing}"


def test_the_image_installs_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "constraints.txt" in dockerfile and "pip install -c constraints.txt ." in dockerfile
