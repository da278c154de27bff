"""The image installs exactly pinned versions: constraints.txt must pin every runtime dependency of pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from bot.config import Secret, Settings

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


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def test_compose_runs_two_webhook_replicas_on_postgresql() -> None:
    services = _compose()["services"]
    replicas = [service for service in services.values() if service.get("build") == "."]
    assert len(replicas) == 2
    for replica in replicas:
        env = replica["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["WEBHOOK_URL"].startswith("https://") and env["WEBHOOK_SECRET"]
        assert env["WEBHOOK_LISTEN"] == "0.0.0.0:8080"
        assert replica["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["db"]["image"].startswith("pgvector/pgvector:")


def test_compose_gives_the_bot_longer_to_stop_than_its_grace() -> None:
    grace = Settings(telegram_bot_token=Secret("0:x"), dashscope_api_key=Secret("x")).shutdown_grace_seconds
    for name, service in _compose()["services"].items():
        if service.get("build") == ".":
            assert float(service["stop_grace_period"].removesuffix("s")) > grace, name


def test_the_proxy_sends_the_webhook_path_unchanged_to_every_replica() -> None:
    services = _compose()["services"]
    replicas = sorted(name for name, service in services.items() if service.get("build") == ".")
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    upstreams = re.search(r"handle /telegram\* \{\s*reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None
    assert sorted(upstreams.group(1).split()) == [f"{name}:8080" for name in replicas]
    webhook_path = services[replicas[0]]["environment"]["WEBHOOK_URL"].split("}", 1)[1]
    assert webhook_path == "/telegram"
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
