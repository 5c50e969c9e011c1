"""Server deployments: several processes sharing metrics, and no password in logs or pages."""

from __future__ import annotations

import subprocess
import sys

import httpx
from conftest import fill
from sqlalchemy.engine import make_url

from superlite.testing.databases import isolated_database
from superlite.testing.http import running_server


def test_several_processes_report_every_request(tmp_path):
    uri = f"sqlite:///{tmp_path / 'models.db'}"
    fill(uri)
    with running_server(uri, "--workers", "2", log_dir=tmp_path) as server:
        for i in range(20):  # a new connection each time, so both processes take some
            assert httpx.post(f"{server.url}/predict/double", json={"input": i}, timeout=60).status_code == 200
        for _ in range(5):
            metrics = httpx.get(f"{server.url}/metrics", timeout=60).text
            assert 'superlite_requests_total{model="double",status="success",version="1"} 20.0' in metrics


def test_no_password_in_logs_or_pages(tmp_path):
    with isolated_database("postgresql", tmp_path) as plain:
        secret = "pw-Do-Not-Print-7"
        uri = make_url(plain).set(password=secret).render_as_string(hide_password=False)
        fill(uri)
        with running_server(uri, "--log-level", "debug", log_dir=tmp_path) as server:
            page = httpx.get(f"{server.url}/", timeout=60).text
            assert "***" in page and secret not in page
            httpx.post(f"{server.url}/predict/nope", json={"input": 1}, timeout=60)
            httpx.post(f"{server.url}/predict/boom", json={"input": 1}, timeout=60)
            assert secret not in server.log()


def test_importing_superlite_does_not_load_the_web_stack():
    code = "import sys, superlite, superlite.cli; print(sorted(m for m in ('fastapi', 'uvicorn', 'prometheus_client', 'starlette') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
