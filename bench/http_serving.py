"""Benchmark the HTTP API against the same calls without HTTP, and against a bare FastAPI handler.

    python bench/http_serving.py [--calls 2000] [--requests 4000] [--broker redis://127.0.0.1:6379/0]

Stores a tiny model (``x + 1``) in a fresh SQLite file, starts ``superlite serve`` on it, and
measures in the same run:

(a) sequential latency, interleaved call by call: a direct ``predict`` on the loaded model,
    ``db.compute`` in-process (resolve + compute stack + thread pool: the path the server takes),
    ``POST /v2/models/inc/infer`` on the server (in-process compute), and a bare FastAPI handler
    (the floor of any HTTP call); median and p99, and the HTTP overhead = infer median -
    ``db.compute`` median (goal: at most 1 ms);
(b) with a broker (default ``$SUPERLITE_TEST_REDIS_URL`` or local Redis; skipped when it cannot be
    reached): ``db.compute`` on one ``superlite worker`` vs ``infer`` on a server that sends to
    the same worker;
(c) throughput with 32 concurrent httpx clients: ``infer`` vs a bare FastAPI handler that returns
    a constant, on uvicorn in its own process (goal: at least 0.7x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
from measure import percentile

import superlite
from superlite import ObjectModel
from superlite.testing.http import clean_env, free_port, running_server

BODY = {"inputs": [{"name": "x", "shape": [1], "datatype": "INT64", "data": [1]}]}
CONCURRENCY = 32


def bare_app() -> object:
    """The baseline: FastAPI returning a constant from an async handler."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/infer")
    async def constant() -> dict[str, object]:
        return {"model_name": "inc", "outputs": [{"name": "output", "shape": [1], "datatype": "INT64", "data": [2]}]}

    return app


def summary(label: str, seconds: list[float]) -> float:
    median = statistics.median(seconds)
    print(f"  {label:<44} median {median * 1e3:7.3f} ms   p99 {percentile(seconds, 0.99) * 1e3:7.3f} ms")
    return median


def timed(call: object) -> float:
    start = time.perf_counter()
    call()  # type: ignore[operator]
    return time.perf_counter() - start


def sequential(db: superlite.Datalayer, url: str, bare_url: str, calls: int, direct: bool) -> None:
    model = db.load("model", "inc", lazy=False)
    x = np.array([1])
    rows: dict[str, list[float]] = {"direct predict": [], "db.compute": [], "HTTP infer": [], "bare FastAPI round trip": []}
    with httpx.Client(base_url=url, timeout=60) as client, httpx.Client(base_url=bare_url, timeout=60) as bare:
        for _ in range(50):  # warm up: load the model, open connections
            db.compute(superlite.Selector("model", "inc"), "predict", (x,))
            client.post("/v2/models/inc/infer", json=BODY).raise_for_status()
            bare.post("/infer", json=BODY).raise_for_status()
        for _ in range(calls):
            if direct:
                rows["direct predict"].append(timed(lambda: model.predict(x)))
            rows["db.compute"].append(timed(lambda: db.compute(superlite.Selector("model", "inc"), "predict", (x,))))
            rows["HTTP infer"].append(timed(lambda: client.post("/v2/models/inc/infer", json=BODY).raise_for_status()))
            rows["bare FastAPI round trip"].append(timed(lambda: bare.post("/infer", json=BODY).raise_for_status()))
    medians = {label: summary(label, values) for label, values in rows.items() if values}
    overhead = medians["HTTP infer"] - medians["db.compute"]
    print(f"  HTTP overhead per request (median): {overhead * 1e3:.3f} ms (goal <= 1 ms), of which a bare FastAPI "
          f"round trip is {medians['bare FastAPI round trip'] * 1e3:.3f} ms; "
          f"infer / db.compute = {medians['HTTP infer'] / medians['db.compute']:.2f}x")


async def hammer(url: str, path: str, requests: int) -> float:
    """Requests per second with CONCURRENCY clients sharing ``requests`` calls."""
    remaining = requests

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            (await client.post(path, json=BODY)).raise_for_status()

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        for _ in range(CONCURRENCY):
            (await client.post(path, json=BODY)).raise_for_status()
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(CONCURRENCY)))
        return requests / (time.perf_counter() - start)


def start_bare(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving :func:`bare_app` (imported through a shim module in ``directory``)."""
    log = directory / "bare.log"
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "http_bench_bare:bare_app", "--port", str(port), "--log-level", "warning"]
    env = clean_env({"PYTHONPATH": os.pathsep.join([str(directory), str(Path(__file__).resolve().parent)])})
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(f"{url}/infer", timeout=2)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"bare server did not start:\n{log.read_text()}")


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="sequential calls per variant")
    parser.add_argument("--requests", type=int, default=4000, help="requests per throughput run")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        directory = Path(tmp)
        (directory / "http_bench_bare.py").write_text(
            "from importlib.util import spec_from_file_location, module_from_spec\n"
            f"spec = spec_from_file_location('bench_http', {str(Path(__file__).resolve())!r})\n"
            "module = module_from_spec(spec); spec.loader.exec_module(module)\nbare_app = module.bare_app\n"
        )
        uri = f"sqlite:///{directory / 'bench.db'}"
        db = stack.enter_context(superlite.connect(uri, broker=None))
        db.apply(ObjectModel("inc", object=lambda x: x + 1))
        server = stack.enter_context(running_server(uri, "--log-level", "warning", log_dir=directory))

        bare, bare_url = start_bare(directory)
        stack.callback(bare.wait, 10)
        stack.callback(bare.terminate)

        print(f"(a) sequential latency, in-process compute, {args.calls} calls each, interleaved")
        sequential(db, server.url, bare_url, args.calls, direct=True)

        if reachable(args.broker):
            from superlite.testing.workers import running_stack

            remote = stack.enter_context(running_stack("sqlite", args.broker, directory, "--concurrency", "1", count=1))
            with superlite.connect(remote.uri, broker=None) as filler:
                filler.apply(ObjectModel("inc", object=lambda x: x + 1))
            remote_db = stack.enter_context(remote.connect())
            remote_server = stack.enter_context(
                running_server(remote.uri, "--broker", args.broker, "--queue", remote.queue, "--log-level", "warning",
                               log_dir=directory)
            )
            calls = max(100, args.calls // 4)
            print(f"(b) sequential latency on one worker over {urlsplit(args.broker).scheme}, {calls} calls each")
            sequential(remote_db, remote_server.url, bare_url, calls, direct=False)
        else:
            print(f"(b) skipped: no broker at {args.broker}")

        print(f"(c) throughput, {CONCURRENCY} concurrent clients, {args.requests} requests each run")
        ours = asyncio.run(hammer(server.url, "/v2/models/inc/infer", args.requests))
        baseline = asyncio.run(hammer(bare_url, "/infer", args.requests))
        print(f"  bare FastAPI constant handler              {baseline:8.0f} req/s")
        print(f"  superlite infer (in-process compute)       {ours:8.0f} req/s   ratio {ours / baseline:.2f}x (goal >= 0.7x)")


if __name__ == "__main__":
    main()
