"""Alias endpoints on a live server: read aliases and history; move, canary, promote, roll back with the token."""

from __future__ import annotations

from conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "/api/components/model/double/aliases"


def test_moves_need_the_token(client):
    assert client.put(f"{BASE}/production", json={"version": 0}).status_code == 401
    assert client.get(BASE).json() == {}


def test_set_follow_canary_promote_rollback_and_history(client):
    moved = client.put(f"{BASE}/production", json={"version": 0, "why": "launch"}, headers=AUTH)
    assert moved.status_code == 200 and moved.json()["version"] == 0
    assert client.post("/predict/double@production", json={"input": 2}).json()["output"] == 4
    canary = client.post(f"{BASE}/production/canary", json={"version": 1, "percent": 10}, headers=AUTH).json()
    assert canary["canary"]["version"] == 1 and canary["canary"]["percent"] == 10
    assert client.post(f"{BASE}/production/promote", headers=AUTH).json()["version"] == 1
    answer = client.post("/predict/double@production", json={"input": 2}).json()
    assert (answer["output"], answer["version"]) == (6, 1)
    assert client.post(f"{BASE}/production/rollback", json={"why": "regression"}, headers=AUTH).json()["version"] == 0
    history = client.get("/api/components/model/double/aliases-history", params={"alias": "production"}).json()
    assert [entry["action"] for entry in history] == ["rollback", "promote", "canary", "set"]
    assert (history[0]["why"], history[-1]["why"]) == ("regression", "launch")
    assert client.get(BASE).json()["production"]["version"] == 0


def test_errors_have_their_status(client):
    assert client.put(f"{BASE}/latest", json={"version": 0}, headers=AUTH).status_code == 400
    assert client.put(f"{BASE}/staging", json={"version": 9}, headers=AUTH).status_code == 404
    assert client.post(f"{BASE}/nothing/promote", headers=AUTH).status_code == 404
    assert client.post(f"{BASE}/staging/canary", json={"version": 1, "percent": 150}, headers=AUTH).status_code == 400
    assert client.get("/api/components/model/nope/aliases").status_code == 404
    client.put(f"{BASE}/staging", json={"version": 1}, headers=AUTH)
    removed = client.delete(f"{BASE}/staging", headers=AUTH)
    assert removed.status_code == 200 and removed.json() == {"removed": "staging"}
    assert client.delete(f"{BASE}/staging", headers=AUTH).status_code == 404


def test_a_canary_splits_the_requests_of_its_alias(client):
    """Each request draws its side: with a 50 % canary both versions answer (all 200 on one side: p = 2**-199)."""
    client.put(f"{BASE}/split", json={"version": 0}, headers=AUTH)
    assert client.post("/predict/double@split", json={"input": 2}).json()["version"] == 0
    client.post(f"{BASE}/split/canary", json={"version": 1, "percent": 50}, headers=AUTH)
    versions = [client.post("/predict/double@split", json={"input": 2}).json()["version"] for _ in range(200)]
    assert set(versions) == {0, 1}
    client.post(f"{BASE}/split/rollback", headers=AUTH)
    assert {client.post("/predict/double@split", json={"input": 2}).json()["version"] for _ in range(20)} == {0}


def test_a_routing_key_keeps_a_request_on_its_side_of_the_canary(client):
    """The same X-Routing-Key, the same version, on both routes; the 40 keys hash to both sides of a 50 % split."""
    client.put(f"{BASE}/sticky", json={"version": 0}, headers=AUTH)
    client.post(f"{BASE}/sticky/canary", json={"version": 1, "percent": 50}, headers=AUTH)

    def plain(key: str) -> int:
        return client.post("/predict/double@sticky", json={"input": 2}, headers={"X-Routing-Key": key}).json()["version"]

    def infer(key: str) -> int:
        body = {"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [2]}]}
        answer = client.post("/v2/models/double@sticky/infer", json=body, headers={"X-Routing-Key": key}).json()
        return int(answer["model_version"])

    sides = {key: plain(key) for key in (f"user-{i}" for i in range(40))}
    assert set(sides.values()) == {0, 1}
    assert all(plain(key) == side and infer(key) == side for key, side in sides.items())
    assert client.post("/predict/double@sticky", json={"input": 2}, headers={"X-Routing-Key": ""}).status_code == 400
    client.post(f"{BASE}/sticky/rollback", headers=AUTH)
