"""The Open Inference Protocol routes of a live server: health, metadata, infer, and its errors."""

from __future__ import annotations

import httpx
import pytest


def tensor(data, shape, datatype, name="x"):
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def infer(client: httpx.Client, path: str, *inputs, **extra) -> httpx.Response:
    return client.post(f"/v2/models/{path}/infer", json={"inputs": list(inputs), **extra})


def test_health_and_server_metadata(client):
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").json() == {"ready": True}
    meta = client.get("/v2").json()
    assert meta["name"] == "superlite" and meta["version"] and meta["extensions"] == []


def test_model_metadata_and_readiness(client):
    meta = client.get("/v2/models/double").json()
    assert meta["name"] == "double"
    assert meta["versions"] == ["0", "1"]
    assert meta["platform"].startswith("superlite:") and "ObjectModel" in meta["platform"]
    assert client.get("/v2/models/double/versions/0").status_code == 200
    assert client.get("/v2/models/double/ready").json() == {"name": "double", "ready": True}
    assert client.get("/v2/models/double/versions/1/ready").status_code == 200
    assert client.get("/v2/models/double/versions/7/ready").status_code == 404
    missing = client.get("/v2/models/nope/ready")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_infer_answers_with_the_version_that_ran(client):
    body = {"id": "req-1", "inputs": [tensor([[1, 2], [3, 4]], [2, 2], "FP32")]}
    answer = client.post("/v2/models/double/infer", json=body).json()
    assert answer == {
        "model_name": "double",
        "model_version": "1",
        "id": "req-1",
        "outputs": [{"name": "output", "shape": [2, 2], "datatype": "FP32", "data": [3.0, 6.0, 9.0, 12.0]}],
    }
    pinned = infer(client, "double/versions/0", tensor([1, 2, 3], [3], "INT64")).json()
    assert pinned["model_version"] == "0" and pinned["outputs"][0]["data"] == [2, 4, 6]
    assert "id" not in pinned
    named = infer(client, "double@0", tensor([5], [1], "INT32")).json()
    assert named["model_version"] == "0" and named["outputs"][0] == {"name": "output", "shape": [1], "datatype": "INT32", "data": [10]}
    latest = infer(client, "double@latest", tensor([1], [1], "INT64")).json()
    assert latest["model_version"] == "1"


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("BOOL", [True, False]),
        ("UINT8", [0, 255]),
        ("UINT16", [0, 65535]),
        ("UINT32", [0, 2**32 - 1]),
        ("UINT64", [0, 2**64 - 1]),
        ("INT8", [-128, 127]),
        ("INT16", [-(2**15), 2**15 - 1]),
        ("INT32", [-(2**31), 2**31 - 1]),
        ("INT64", [-(2**63), 2**63 - 1]),
        ("FP16", [0.5, -2.0]),
        ("FP32", [0.25, 2.0**100]),
        ("FP64", [0.1, -1e300]),
        ("BYTES", ["hé", ""]),
    ],
)
def test_every_datatype_round_trips(client, datatype, data):
    answer = infer(client, "echo", tensor(data, [2], datatype))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"] == [{"name": "output", "shape": [2], "datatype": datatype, "data": data}]


def test_several_inputs_and_chosen_outputs(client):
    a, b = tensor([1.0, 2.0], [2], "FP64", "a"), tensor([10.0, 20.0], [2], "FP64", "b")
    answer = infer(client, "pair", a, b).json()
    assert answer["outputs"] == [
        {"name": "sum", "shape": [2], "datatype": "FP64", "data": [11.0, 22.0]},
        {"name": "count", "shape": [], "datatype": "INT64", "data": [2]},
    ]
    chosen = infer(client, "pair", a, b, outputs=[{"name": "count"}]).json()
    assert [o["name"] for o in chosen["outputs"]] == ["count"]
    unknown = infer(client, "pair", a, b, outputs=[{"name": "nope"}])
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]


def test_bytes_reach_the_model_as_strings(client):
    answer = infer(client, "lengths", tensor(["a", "abc"], [2], "BYTES")).json()
    assert answer["outputs"][0]["data"] == [1, 3]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("nope", {"inputs": [tensor([1], [1], "INT64")]}, 404, ["nope", "double"]),
        ("double/versions/9", {"inputs": [tensor([1], [1], "INT64")]}, 404, ["version 9"]),
        ("double@production", {"inputs": [tensor([1], [1], "INT64")]}, 404, ["production"]),
        ("double@Bad!", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["Bad!"]),
        ("a%1Bb", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["must be printable", "\\x1b"]),
        ("%20double", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["whitespace"]),
        ("double/versions/x", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["'x'"]),
        ("double/versions/%C2%B3", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["'³'"]),  # a digit to isdigit, not to int
        ("double@%C2%B3", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["'³'"]),
        ("double@0/versions/1", {"inputs": [tensor([1], [1], "INT64")]}, 400, ["not both"]),
        ("double", {"inputs": [tensor([1, 2, 3], [2], "INT64")]}, 400, ["shape [2]", "3"]),
        ("double", {"inputs": [tensor([300], [1], "INT8")]}, 400, ["300", "INT8"]),
        ("double", {"inputs": [tensor(["a"], [1], "FP32")]}, 400, ["'a'", "FP32"]),
        ("double", {"inputs": [tensor([1], [1], "FP128")]}, 400, ["datatype"]),
        ("double", {"inputs": []}, 400, ["inputs"]),
        ("double", {"inputs": [tensor([1], [1], "INT64"), tensor([1], [1], "INT64")]}, 400, ["unique"]),
        ("boom", {"inputs": [tensor([1], [1], "INT64")]}, 500, ["ZeroDivisionError", "boom"]),
    ],
)
def test_infer_errors(client, path, body, status, words):
    answer = client.post(f"/v2/models/{path}/infer", json=body)
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]
    for word in words:
        assert word in message


def test_malformed_json_and_large_bodies(client):
    broken = client.post("/v2/models/double/infer", content=b'{"inputs": [', headers={"content-type": "application/json"})
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]
    not_json = client.post("/v2/models/double/infer", content=b"inputs=1", headers={"content-type": "text/plain"})
    assert not_json.status_code == 400 and "application/json" in not_json.json()["error"]
    big = {"inputs": [tensor(list(range(300_000)), [300_000], "INT64")]}
    too_large = client.post("/v2/models/double/infer", json=big)
    assert too_large.status_code == 413 and "larger than" in too_large.json()["error"]

    def chunks():
        for _ in range(40):
            yield b" " * 50_000

    streamed = client.post("/v2/models/double/infer", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_a_dot_dot_name_that_lands_on_another_route_is_a_documented_405(client):
    answer = client.post("/predict/..", json={"input": 1})  # the client resolves the path to POST /
    assert answer.status_code == 405 and answer.json() == {"error": "Method Not Allowed"}
    documented = client.get("/openapi.json").json()["paths"]["/predict/{name}"]["post"]["responses"]
    assert "405" in documented
