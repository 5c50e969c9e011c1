"""``POST /predict/{name}``, the management endpoints and ``/metrics`` of a live server."""

from __future__ import annotations

import time

from conftest import TOKEN

import superlite
from superlite import ObjectModel


def test_predict_one_and_a_batch(client):
    assert client.post("/predict/double", json={"input": 21}).json() == {"model": "double", "version": 1, "output": 63}
    assert client.post("/predict/double@0", json={"inputs": [1, 2]}).json() == {"model": "double", "version": 0, "outputs": [2, 4]}
    assert client.post("/predict/echo", json={"input": None}).json() == {"model": "echo", "version": 0, "output": None}


def test_predict_errors(client):
    for body in ({}, {"input": 1, "inputs": [1]}, {"inputs": None}, {"other": 1}):
        answer = client.post("/predict/double", json=body)
        assert answer.status_code == 400, body
    assert client.post("/predict/nope", json={"input": 1}).status_code == 404
    boom = client.post("/predict/boom", json={"input": 1})
    assert boom.status_code == 500 and "ZeroDivisionError" in boom.json()["error"]


def test_management_reads(client):
    assert client.get("/api/components").json() == {"model": ["boom", "double", "echo", "lengths", "pair"]}
    assert client.get("/api/components/model/double").json() == {"type_id": "model", "identifier": "double", "versions": [0, 1]}
    record = client.get("/api/components/model/double/versions/0").json()
    assert record["version"] == 0 and record["artifacts"][0]["serializer"] == "dill"
    assert client.get("/api/components/model/double/versions/latest").json()["version"] == 1
    assert client.get("/api/components/model/nope").status_code == 404
    assert client.get("/api/components/model/double/versions/5").status_code == 404


def test_remove_needs_the_token(client, server):
    assert client.delete("/api/components/model/lengths").status_code == 401
    wrong = client.delete("/api/components/model/lengths", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    removed = client.delete("/api/components/model/lengths", headers={"Authorization": f"Bearer {TOKEN}"})
    assert removed.status_code == 200 and [r["identifier"] for r in removed.json()["removed"]] == ["lengths"]
    assert client.get("/v2/models/lengths/ready").status_code == 404
    assert TOKEN not in server.log()


def test_metrics_count_each_version(client):
    for _ in range(3):
        client.post("/predict/double@0", json={"input": 1})
    client.post("/predict/boom", json={"input": 1})
    text = client.get("/metrics").text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(samples['superlite_requests_total{model="double",status="success",version="0"}']) >= 3
    assert float(samples['superlite_requests_total{model="boom",status="error",version="0"}']) >= 1
    assert 'superlite_request_duration_seconds_bucket{le="0.005",model="double",status="success",version="0"}' in samples
    assert float(samples["superlite_models_loaded"]) >= 2
    assert float(samples["superlite_model_load_seconds_count"]) == float(samples["superlite_model_loads_total"]) >= 2
    assert float(samples["superlite_model_load_seconds_sum"]) > 0
    assert float(samples['superlite_cache_misses_total{cache="model"}']) == float(samples["superlite_model_loads_total"])
    assert float(samples['superlite_cache_hits_total{cache="model"}']) >= 2  # double@0 three times: loaded once
    assert client.get("/api/workers").json() == {"compute": "local", "workers": [], "processes": []}
    stats = client.get("/api/stats").json()
    assert stats["compute"] == "local"
    row = next(r for r in stats["versions"] if (r["model"], r["version"]) == ("double", "0"))
    assert row["requests"] >= 3 and row["errors"] == 0


def test_a_version_applied_while_serving_answers_soon(client, models_uri):
    assert client.post("/predict/echo", json={"input": 1}).json()["version"] == 0
    with superlite.connect(models_uri, broker=None) as db:
        db.apply(ObjectModel("echo", object=lambda x: [x]))
    deadline = time.monotonic() + 60
    while (answer := client.post("/predict/echo", json={"input": 1}).json())["version"] != 1:
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
    assert answer["output"] == [1]
    assert client.post("/predict/echo@0", json={"input": 1}).json() == {"model": "echo", "version": 0, "output": 1}
    with superlite.connect(models_uri, broker=None) as db:
        db.remove("model", "echo", version=1)
    while (answer := client.post("/predict/echo", json={"input": 1}).json())["version"] != 0:
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
    assert client.post("/predict/echo@1", json={"input": 1}).status_code == 404
