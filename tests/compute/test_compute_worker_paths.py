"""Workers import the project's own code: the working directory and --path are on sys.path.

Workers here are started with the ``superlite`` console script, as a user starts them, whose
``sys.path`` does not hold the working directory by itself (``python -m`` would add it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import superlite
from superlite import ObjectModel
from superlite.errors import SerializationError
from superlite.testing.databases import isolated_database
from superlite.testing.workers import CALL_TIMEOUT, Worker, unique_queue, worker_env

SUPERLITE = str(Path(sys.executable).parent / "superlite")


def start(uri: str, broker: str, queue: str, cwd: Path, log_dir: Path, *args: str, env: dict[str, str]) -> Worker:
    log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
    command = [SUPERLITE, "worker", "--uri", uri, "--broker", broker, "--queues", queue, "--concurrency", "1", *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    worker = Worker(process, log_path)
    worker.wait_ready()
    return worker


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    module = f"project_models_{uuid.uuid4().hex[:8]}"
    (directory / f"{module}.py").write_text(textwrap.dedent('''
        def triple(x):
            return 3 * x
    '''))
    return directory / f"{module}.py"


def test_worker_imports_project_code_from_its_directory_or_path(
    tmp_path: Path, project: Path, redis_broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = worker_env()  # before the project is importable here: the workers must find it themselves
    monkeypatch.syspath_prepend(str(project.parent))
    module = __import__(project.stem)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    workers: list[Worker] = []
    try:
        with isolated_database("sqlite", tmp_path) as uri:
            with superlite.connect(uri) as db:
                db.apply(ObjectModel("triple", object=module.triple))
            queues = {name: unique_queue() for name in ("cwd", "path", "neither")}
            workers.append(start(uri, redis_broker, queues["cwd"], project.parent, tmp_path, env=env))
            workers.append(start(uri, redis_broker, queues["path"], elsewhere, tmp_path, "--path", str(project.parent), env=env))
            workers.append(start(uri, redis_broker, queues["neither"], elsewhere, tmp_path, env=env))
            for name in ("cwd", "path"):
                with superlite.connect(uri, broker=redis_broker, queue=queues[name], timeout=CALL_TIMEOUT) as db:
                    assert db.load("model", "triple").predict("zq") == "zqzqzq"
            workers[0].wait_for_log("result 8 bytes")  # logged after the answer was stored
            with superlite.connect(uri, broker=redis_broker, queue=queues["neither"], timeout=CALL_TIMEOUT) as db:
                with pytest.raises(SerializationError) as caught:
                    db.load("model", "triple").predict("zq")
            message = str(caught.value)
            assert f"No module named '{project.stem}'" in message
            assert f"imports model code from {elsewhere}" in message and "pass --path DIR" in message
    finally:
        for worker in workers:
            worker.stop()
    log = workers[0].log()
    assert "done in" in log and "result 8 bytes" in log  # ids, timings and sizes at INFO...
    assert "zqzqzq" not in log  # ...results only at DEBUG
    assert f"model code imports from {project.parent} first" in log


def test_worker_logs_results_at_debug(tmp_path: Path, project: Path, redis_broker: str) -> None:
    env = worker_env()
    env["PYTHONPATH"] = os.pathsep.join([str(project.parent), env["PYTHONPATH"]])
    with isolated_database("sqlite", tmp_path) as uri:
        sys.path.insert(0, str(project.parent))
        try:
            module = __import__(project.stem)
        finally:
            sys.path.remove(str(project.parent))
        with superlite.connect(uri) as db:
            db.apply(ObjectModel("triple", object=module.triple))
        queue = unique_queue()
        worker = start(uri, redis_broker, queue, tmp_path, tmp_path, "--loglevel", "DEBUG", env=env)
        try:
            with superlite.connect(uri, broker=redis_broker, queue=queue, timeout=CALL_TIMEOUT) as db:
                assert db.load("model", "triple").predict("qx") == "qxqxqx"
            worker.wait_for_log("result: 'qxqxqx'")  # logged after the answer was stored
        finally:
            worker.stop()
