"""The dashboard in a real browser: headless Chromium loads it, runs its scripts, and shows the stored models."""

from __future__ import annotations

import re

import httpx
import pytest

import superlite
from superlite.testing.browser import dump_dom, require_chromium, screenshot


@pytest.fixture(scope="module", autouse=True)
def aliases(models_uri: str) -> None:
    """``double`` gets a production alias with a canary; the page reads the database at each request."""
    with superlite.connect(models_uri, broker=None) as db:
        db.set_alias("model", "double", "production", version=0)
        db.start_canary("model", "double", "production", version=1, percent=10)
        db.set_alias("model", "echo", "staging", version=0)


def test_dashboard_html_lists_models_without_a_browser(client):
    page = client.get("/").text
    assert 'data-model="double"' in page and 'data-model="echo"' in page
    assert '<option value="pair">pair</option>' in page
    assert (
        '<span class="alias" data-alias="production">production → v0 '
        '<span class="canary">(canary v1: 10 %)</span></span>' in page
    )
    assert '<span class="alias" data-alias="staging">staging → v0</span>' in page


def test_dashboard_in_headless_chromium(server, client, tmp_path):
    chromium = require_chromium()
    for i in range(4):
        assert client.post("/predict/double", json={"input": i}).status_code == 200
    assert client.post("/predict/boom", json={"input": 1}).status_code == 500

    dom = dump_dom(chromium, server.url + "/", tmp_path / "profile-dom")
    assert "<h1>superlite</h1>" in dom
    for model in ("double", "echo", "pair", "boom"):
        assert f'<tr data-model="{model}"><td>{model}</td>' in dom
    assert "production → v0" in dom and "(canary v1: 10 %)" in dom
    # rows the page's script built from /api/stats: proof that it ran and fetched
    double = re.search(r'data-model="double" data-version="1"><td>double</td><td>1</td><td class="num requests">(\d+)</td>', dom)
    assert double and int(double.group(1)) >= 4
    boom = re.search(r'data-model="boom" data-version="0"><td>boom</td><td>0</td><td class="num requests">\d+</td><td class="num">(\d+)</td>', dom)
    assert boom and int(boom.group(1)) >= 1
    assert "In-process compute: predictions run in this server, no workers." in dom
    assert 'id="loaded">' in dom and 'id="loaded">–<' not in dom

    png = screenshot(chromium, server.url + "/", tmp_path / "dashboard.png", tmp_path / "profile-shot")
    data = png.read_bytes()
    print(f"dashboard screenshot: {png}")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert httpx.get(server.url + "/metrics").status_code == 200
