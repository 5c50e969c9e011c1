"""docker-compose.yml: valid for Compose, with the API (health-checked) and a Prometheus that scrapes it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from superlite.testing.services import require_executable

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    """``docker-compose`` (Debian's package) or ``docker compose``; skip (fail under CI) without either."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return [require_executable(["docker-compose"], "Debian: apt-get install docker-compose")]


def test_compose_file_is_valid_and_has_the_serving_stack():
    command = compose_command()
    checked = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {"mongodb", "postgres", "redis", "worker", "api", "prometheus"} <= set(services)
    assert "/v2/health/ready" in " ".join(services["api"]["healthcheck"]["test"])
    assert services["api"]["command"][0] == "serve"
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job.get("static_configs", []) for t in c["targets"]]
    assert "api:8000" in targets
    assert "--metrics-port" in services["worker"]["command"]
    workers = [c for job in prometheus["scrape_configs"] for c in job.get("dns_sd_configs", [])]
    assert workers == [{"names": ["worker"], "type": "A", "port": 9100}]
