"""Listeners whose outputs are computed in chunks on real Celery workers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import remote_models
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from superlite import Datalayer, Listener, ObjectModel
from superlite.compute.base import ComputeWrapper, ResultHandle, Task
from superlite.errors import ComputeError
from superlite.stores.sql.engine import normalize_url
from superlite.testing.workers import Stack


class Sent(ComputeWrapper):
    """Passes tasks on and keeps each one's method and arguments: what the caller sent."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.tasks: list[tuple[str, tuple[Any, ...]]] = []

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        self.tasks.extend((task.method, task.args) for task in tasks)
        return self.inner.submit_many(tasks)


class Lost(ResultHandle):
    """The handle of a task whose worker went away: waiting for it fails."""

    def result(self, timeout: float | None = None) -> object:
        raise ComputeError("the worker running this task was lost")

    def done(self) -> bool:
        return True


class LoseFirstRange(ComputeWrapper):
    """Sends tasks on, except the first back-fill range: it is lost on the way (no worker runs it)."""

    lost = False

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        if not self.lost and tasks and tasks[0].method == "backfill_range":
            self.lost = True
            return [Lost(), *self.inner.submit_many(tasks[1:])]
        return self.inner.submit_many(tasks)


def make_table(stack: Stack, rows: int) -> tuple[sa.Engine, str]:
    table = f"rows_{uuid.uuid4().hex[:8]}"
    app = sa.create_engine(normalize_url(stack.uri), poolclass=NullPool)
    with app.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, x INTEGER)")
        connection.execute(sa.text(f"INSERT INTO {table} (id, x) VALUES (:id, :x)"), [{"id": i, "x": i} for i in range(rows)])
    return app, table


def test_backfill_and_changes_run_in_chunks_on_workers(stack: Stack) -> None:
    table = f"rows_{uuid.uuid4().hex[:8]}"
    app = sa.create_engine(normalize_url(stack.uri), poolclass=NullPool)
    with app.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, x INTEGER)")
        connection.execute(sa.text(f"INSERT INTO {table} (id, x) VALUES (:id, :x)"), [{"id": i, "x": i} for i in range(40)])
    name = f"pids-{uuid.uuid4().hex[:8]}"
    with stack.connect() as db:
        db.apply(ObjectModel("pid", object=remote_models.getpid))
        db.apply(Listener(name, model="pid", table=table, key="x", chunk_size=5))
        outputs = db.outputs(name)
        assert sorted(outputs) == list(range(40))
        pids = set(outputs.values())
        assert os.getpid() not in pids
        assert pids <= {pid for worker in stack.workers for pid in worker.pids()}

        with app.begin() as connection:
            connection.exec_driver_sql(f"INSERT INTO {table} (id, x) VALUES (40, 40)")
            connection.exec_driver_sql(f"DELETE FROM {table} WHERE id < 10")
        assert db.catch_up(name)["computed"] == 1
        assert sorted(db.outputs(name)) == list(range(10, 41))
        db.remove("listener", name)
    app.dispose()


def test_a_failing_row_on_a_worker_is_recorded_and_the_rest_computed(stack: Stack) -> None:
    table = f"rows_{uuid.uuid4().hex[:8]}"
    app = sa.create_engine(normalize_url(stack.uri), poolclass=NullPool)
    with app.begin() as connection:
        connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, x INTEGER)")
        connection.exec_driver_sql(f"INSERT INTO {table} (id, x) VALUES (1, 1), (2, 0), (3, 3)")
    name = f"inverse-{uuid.uuid4().hex[:8]}"
    with stack.connect() as db:
        db.apply(ObjectModel("inverse", object=lambda x: 1 / x))
        db.apply(Listener(name, model="inverse", table=table, key="x"))
        assert db.outputs(name) == {1: 1.0, 3: 1 / 3}
        errors = db.listener_errors(name)
        assert list(errors) == [2] and "ZeroDivisionError" in errors[2]
        db.remove("listener", name)
    app.dispose()


@contextmanager
def backfilled(stack: Stack, rows: int, *wrappers: Callable[[Any], Any]) -> Iterator[tuple[Datalayer, str, Sent]]:
    """A Datalayer on ``stack`` (``wrappers`` inside a :class:`Sent`) and a listener back-filled over ``rows`` rows."""
    app, table = make_table(stack, rows)
    name = f"pids-{uuid.uuid4().hex[:8]}"
    sent: list[Sent] = []

    def wrap(inner: Any) -> Any:
        for wrapper in wrappers:
            inner = wrapper(inner)
        sent.append(Sent(inner))
        return sent[-1]

    with stack.connect(wrappers=[wrap]) as db:
        db.apply(ObjectModel("pid", object=remote_models.getpid))
        db.apply(Listener(name, model="pid", table=table, key="x", batch_size=10, backfill=False))
        assert db.catch_up(name)["computed"] == rows
        assert sorted(db.outputs(name)) == list(range(rows))
        yield db, name, sent[0]
        db.remove("listener", name)
    app.dispose()


def test_a_backfill_hands_workers_ranges_of_rows_not_the_rows(stack: Stack) -> None:
    with backfilled(stack, 40) as (db, name, sent):
        assert [method for method, _ in sent.tasks] == ["backfill_range"] * 4
        assert [args[1:] for _, args in sent.tasks] == [(None, 9), (9, 19), (19, 29), (29, 39)]
        assert os.getpid() not in set(db.outputs(name).values())
        [status] = [s for s in db._listener_runner().status() if s.identifier == name]
        assert status.processed == 40 and status.backfill_done and status.rate > 0


def test_a_range_no_worker_answers_is_computed_by_the_caller(stack: Stack) -> None:
    with backfilled(stack, 30, LoseFirstRange) as (_, _, sent):  # Sent sees the lost range too
        methods = [method for method, _ in sent.tasks]
        assert methods.count("backfill_range") == 3 and "predict_batches" in methods  # rows 0-9 sent the old way
