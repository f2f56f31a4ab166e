"""The deployment files keep their promises (docs/deploy.md): the image installs the locked
dependencies before the source, runs as non-root and checks its health; the lock pins every
dependency with hashes; compose runs a health-checked PostgreSQL and two webhook instances behind
one port. hadolint itself runs in CI (.ci/run)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def _name(requirement: str) -> str:
    """A requirement's project name, normalised as PEP 503 says (fhir.resources: fhir-resources)."""
    name = re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_image_installs_locked_dependencies_before_the_source() -> None:
    steps = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip()]
    text = "\n".join(steps)
    lock = next(i for i, s in enumerate(steps) if s.startswith("COPY requirements.lock"))
    source = next(i for i, s in enumerate(steps) if s.startswith("COPY bot"))
    install = next(i for i, s in enumerate(steps) if "--require-hashes -r requirements.lock" in s)
    assert lock < install < source
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.MULTILINE)
    assert 'CMD ["python", "-m", "bot", "healthcheck"]' in text and "HEALTHCHECK" in text


def test_the_build_context_leaves_out_the_virtualenv_and_the_data() -> None:
    rules = (ROOT / ".dockerignore").read_text().splitlines()
    star = rules.index("*")  # everything out, then back in only what the image needs
    assert not [r for r in rules[:star] if r.startswith("!")]
    allowed = {r.removeprefix("!").rstrip("/") for r in rules if r.startswith("!")}
    assert allowed >= {"bot", "handlers", "content", "db", "pyproject.toml", "requirements.lock"}
    assert not allowed & {".venv", "tests", "data", ".git", "benchmarks"}


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {_name(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", lock, re.M)}
    assert {_name(r) for r in project["dependencies"]} <= pinned
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[1])
    assert all("--hash=sha256:" in e for e in entries if "==" in e)
    dev_lock = (ROOT / "requirements-dev.lock").read_text()
    dev_pinned = {_name(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", dev_lock, re.M)}
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    assert {_name(r) for r in wanted} <= dev_pinned
    assert "--index-url" not in lock and "--find-links" not in lock


def test_compose_runs_two_webhook_instances_on_a_health_checked_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    bot = services["bot"]
    assert bot["deploy"]["replicas"] == 2
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert "WEBHOOK_URL" in bot["environment"]
    proxy = services["proxy"]
    assert len(proxy["ports"]) == 1
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server bot:8443" in nginx  # the image's WEBHOOK_PORT
    assert "WEBHOOK_PORT=8443" in (ROOT / "Dockerfile").read_text()
