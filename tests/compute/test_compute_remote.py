"""Remote predictions end to end: real workers on Redis, over SQLite and PostgreSQL.

The seed-000 scenarios, the worker-process check, load sharing, errors coming home, batches
in order, and values of every wire type through a worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid

import numpy as np
import pytest
import redis
import remote_models

from superlite import ObjectModel, RemoteModel, errors
from superlite.compute.celery.envelope import success
from superlite.errors import (
    ConfigurationError,
    NotFoundError,
    RemoteError,
    SerializationError,
)
from superlite.serialization.wire import PreEncoded
from superlite.testing.workers import Stack, unconsumed_queue, worker_env


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_scenarios_1_and_2_local_before_apply_then_on_a_worker(stack: Stack) -> None:
    model = ObjectModel(unique("pid"), object=remote_models.getpid, serve=True)
    assert isinstance(model, RemoteModel)
    assert model.predict(0) == os.getpid()  # scenario 1: not applied, runs here

    with stack.connect() as db:
        db.apply(model)
        remote_pid = model.predict(0)  # scenario 2: applied, runs on a worker

    assert remote_pid != os.getpid()
    worker = stack.worker_of(remote_pid)
    assert remote_pid != worker.pid, "prefork: the prediction runs in a pool process, not the main one"


SCENARIO_3 = textwrap.dedent(
    """
    import json, sys
    import superlite

    uri, broker, queue, name, uuid = sys.argv[1:]
    opened = []
    with superlite.connect(uri, broker=broker, queue=queue, timeout=60) as db:
        original_open = db.artifacts.open
        db.artifacts.open = lambda sha256: opened.append(sha256) or original_open(sha256)
        by_name = db.load("model", name)
        by_uuid = db.load("model", uuid=uuid)
        answers = [by_name.predict(1), by_uuid.predict(2), by_name.predict_batches([3, 4, 5])]
        print(json.dumps({
            "types": [type(by_name).__name__, type(by_uuid).__name__],
            "uuids": [by_name.uuid, by_uuid.uuid],
            "answers": answers,
            "has_original": [by_name.has_original, by_uuid.has_original],
            "artifacts_opened": opened,
            "models_cached_here": db.executor.models.keys(),
            "pid": __import__("os").getpid(),
        }))
    """
)


def test_scenario_3_fresh_process_predicts_without_fetching_the_model(stack: Stack) -> None:
    name = unique("pid")
    with stack.connect() as db:
        applied = db.apply(ObjectModel(name, object=remote_models.pid_and_echo))

    env = worker_env()
    completed = subprocess.run(
        [sys.executable, "-c", SCENARIO_3, stack.uri, stack.broker, stack.queue, name, str(applied.uuid)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)

    assert report["types"] == ["RemoteModel", "RemoteModel"]
    assert report["uuids"] == [applied.uuid, applied.uuid]
    assert report["has_original"] == [False, False]
    assert report["artifacts_opened"] == []
    assert report["models_cached_here"] == []
    answers = [report["answers"][0], report["answers"][1], *report["answers"][2]]
    assert [x for _, x in answers] == [1, 2, 3, 4, 5]
    for pid, _ in answers:
        assert pid != report["pid"]
        stack.worker_of(pid)


def test_two_workers_share_the_load(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("slow"), object=remote_models.slow_pid, serve=True))
        handles = [db.compute(model.reference, "predict", (0.3,), wait=False) for _ in range(8)]
        pids = [handle.result() for handle in handles]

    answered_by = {stack.worker_of(pid).pid for pid in pids}
    assert answered_by == {worker.pid for worker in stack.workers}


def test_a_worker_process_keeps_its_startup_heap_out_of_the_collectors_sight(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(f"frozen-{uuid.uuid4().hex[:6]}", object=remote_models.frozen_objects, serve=True))
        assert model.predict(None) > 10_000  # Celery, SQLAlchemy and the Datalayer, frozen once opened


def test_model_exception_comes_home_as_remote_error(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("fail"), object=remote_models.fail, serve=True))
        with pytest.raises(RemoteError) as caught:
            model.predict(3)

    error = caught.value
    assert error.exc_type == "ValueError"
    assert error.exc_message == "bad input 3"
    assert "remote_models.py" in error.remote_traceback
    assert 'raise ValueError(f"bad input {x!r}")' in error.remote_traceback
    assert "bad input 3" in str(error)


def test_unknown_uuid_is_not_found(stack: Stack) -> None:
    missing = str(uuid.uuid4())
    with stack.connect() as db:
        with pytest.raises(NotFoundError, match=missing):
            db.compute(f"&:component:model:ghost:{missing}", "predict", (1,))


def test_a_removed_model_stops_answering_on_workers(stack: Stack) -> None:
    """Workers read removals from the change feed and drop the model within one poll (0.5 s)."""
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("gone"), object=remote_models.echo, serve=True))
        assert [model.predict(i) for i in range(4)] == [0, 1, 2, 3]  # cached on the workers now
        db.remove("model", model.identifier)
        refusals, deadline = 0, time.monotonic() + 20
        while refusals < 6 and time.monotonic() < deadline:
            try:
                model.predict(1)
                refusals = 0
            except NotFoundError:
                refusals += 1
        assert refusals == 6, "a worker still answered for a removed model 20 s after the removal"


def test_private_methods_are_refused(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        with pytest.raises(ConfigurationError, match="private method"):
            db.compute(model.reference, "__reduce__")


def test_unsupported_result_type_is_a_clear_error(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("set"), object=remote_models.unsupported, serve=True))
        with pytest.raises(SerializationError, match=r"cannot send a value of type set"):
            model.predict(1)


def test_unsupported_argument_type_fails_before_sending(stack: Stack) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        with pytest.raises(SerializationError, match=r"type object .*at \[0\]\['x'\]"):
            model.predict({"x": object()})


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\x01\xff",
        (1, "two", None, 3.5, True),
        {"nested": [{"bytes": b"x", "tuple": (1, (2, 3))}], 7: "int key", "__sl__": "escaped"},
        np.arange(12, dtype="<f4").reshape(3, 4),
        np.array([[1, 2], [3, 4]], dtype=">i8").T,
        np.float32(1.5),
    ],
    ids=["bytes", "tuple", "nested", "float32-array", "big-endian-transposed", "numpy-scalar"],
)
def test_wire_types_round_trip_through_a_worker(stack: Stack, value: object) -> None:
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        answer = model.predict(value)

    if isinstance(value, np.ndarray | np.generic):
        assert type(answer) is type(value)
        assert answer.dtype == value.dtype
        np.testing.assert_array_equal(answer, value)
    else:
        assert answer == value
        assert type(answer) is type(value)


def test_predict_batches_keeps_order_across_chunks(stack: Stack) -> None:
    inputs = list(range(101))
    with stack.connect(parallelism=4) as db:
        model = db.apply(ObjectModel(unique("pid"), object=remote_models.pid_and_echo, serve=True))
        chunked = model.predict_batches(inputs, chunk_size=10)
        default = model.predict_batches(inputs)

    assert [x for _, x in chunked] == inputs
    assert [x for _, x in default] == inputs
    for pid, _ in chunked + default:
        stack.worker_of(pid)



def test_results_do_not_pile_up_in_redis(stack: Stack) -> None:
    client = redis.Redis.from_url(stack.broker)
    with stack.connect() as db:
        backend = db.compute_backend.backend.app.backend
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        handles = [db.compute(model.reference, "predict", (i,), wait=False) for i in range(150)]
        assert [handle.result() for handle in handles] == list(range(150))
        keys = [backend.get_key_for_task(handle.task_id) for handle in handles]
        assert client.exists(*keys[:100]) == 0, "a full batch of read results is deleted at once"

        unread = db.compute(model.reference, "predict", (0,), wait=False)
        while not unread.done():
            time.sleep(0.01)
        assert 0 < client.ttl(backend.get_key_for_task(unread.task_id)) <= 3600, "unread results expire"
    assert client.exists(*keys) == 0, "close() deletes the rest of what was read"


def test_an_answer_whose_message_was_missed_is_read_from_redis(stack: Stack) -> None:
    """A caller takes its answer from the pub/sub message; one that never comes is read from the store.

    The task goes to a queue no worker consumes, the subscription is dropped, and the answer is
    stored (and published to nobody) by hand: only reading the stored result can find it.
    """
    with stack.connect() as db, unconsumed_queue(stack.broker) as nobody:
        model = db.apply(ObjectModel(unique("echo"), object=remote_models.echo, serve=True))
        handle = db.compute(model.reference, "predict", (7,), wait=False, queue=nobody)
        backend = db.compute_backend.backend.app.backend
        backend.result_consumer.cancel_for(handle.task_id)
        backend.mark_as_done(handle.task_id, PreEncoded(success(7)))
        assert handle.result(timeout=30) == 7


def test_cli_predict_runs_on_a_worker(stack: Stack) -> None:
    name = unique("cli")
    with stack.connect() as db:
        db.apply(ObjectModel(name, object=remote_models.pid_and_echo))
    env = worker_env()
    env.pop("SUPERLITE_BROKER", None)
    command = [sys.executable, "-m", "superlite", "--uri", stack.uri, "predict", name, "--input", '"hi"']
    completed = subprocess.run(
        [*command, "--broker", stack.broker, "--queue", stack.queue, "--timeout", "60"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout)
    assert answer != json.loads(subprocess.run(command, capture_output=True, text=True, env=env, timeout=120).stdout)
    stack.worker_of(answer[0])


def test_cli_queue_without_broker_is_a_usage_error(stack: Stack) -> None:
    env = worker_env()
    completed = subprocess.run(
        [sys.executable, "-m", "superlite", "--uri", stack.uri, "predict", "m", "--input", "1", "--queue", "q"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert completed.returncode == 2 and "--queue and --timeout need --broker" in completed.stderr


SUPERLITE_ERRORS = sorted(
    name for name, cls in vars(errors).items() if isinstance(cls, type) and issubclass(cls, errors.SuperliteError)
)


@pytest.mark.parametrize("name", SUPERLITE_ERRORS)
def test_every_superlite_error_keeps_its_class_and_fields_across_a_worker(stack: Stack, name: str) -> None:
    try:
        remote_models.raise_superlite_error(name)
    except errors.SuperliteError as raised_here:
        local = raised_here
    with stack.connect() as db:
        model = db.apply(ObjectModel(unique("raise"), object=remote_models.raise_superlite_error, serve=True))
        with pytest.raises(errors.SuperliteError) as caught:
            model.predict(name)
    remote = caught.value
    if name == "RemoteError":  # a RemoteError raised by a model is itself what comes home, wrapped
        assert type(remote) is errors.RemoteError and remote.exc_type == "superlite.errors.RemoteError"
        return
    assert type(remote) is type(local)
    assert str(remote).startswith(str(local)) and "(on worker " in str(remote)
    fields = {key: value for key, value in vars(local).items() if not key.startswith("_")}
    assert {key: getattr(remote, key) for key in fields} == fields
    if isinstance(local, ImportError):
        assert remote.name == local.name
        assert "start it in the project directory, or pass --path DIR" in str(remote)
    assert isinstance(remote.__cause__, errors.RemoteError)
