"""Listeners whose outputs are computed in chunks on real Celery workers."""

from __future__ import annotations

import os
import uuid

import remote_models
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from superlite import Listener, ObjectModel
from superlite.stores.sql.engine import normalize_url
from superlite.testing.workers import Stack


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
