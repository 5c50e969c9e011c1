"""Listeners on SQL tables, on SQLite, PostgreSQL and MariaDB: rows written by a plain connection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import superlite
from superlite import Listener, ObjectModel
from superlite.errors import ConfigurationError, DependencyError
from superlite.stores.sql.engine import normalize_url


def shout(text: str) -> str:
    """A tiny model that fails on one input."""
    if text == "boom":
        raise ValueError("no booms")
    return text.upper()


@pytest.fixture
def app(db_uri: str) -> Iterator[sa.Engine]:
    """The application's own connection to the database (nothing of superlite), with a reviews table."""
    engine = sa.create_engine(normalize_url(db_uri), poolclass=NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE reviews (id INTEGER PRIMARY KEY, text VARCHAR(200), stars INTEGER)")
        connection.exec_driver_sql("INSERT INTO reviews (id, text, stars) VALUES (1, 'good', 5), (2, 'bad', 1)")
    yield engine
    engine.dispose()


def run(app: sa.Engine, *statements: str) -> None:
    with app.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def test_backfill_then_inserts_updates_and_deletes(db: superlite.Datalayer, app: sa.Engine) -> None:
    model = db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model=model, table="reviews", key="text"))
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}

    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'new', 3)", "UPDATE reviews SET text = 'worse' WHERE id = 2",
        "DELETE FROM reviews WHERE id = 1", "UPDATE reviews SET stars = 4 WHERE id = 3")
    counts = db.catch_up("loud")
    assert db.outputs("loud") == {2: "WORSE", 3: "NEW"}
    assert counts["computed"] == 2 and counts["deleted"] == 1
    assert db.catch_up("loud")["computed"] == 0  # nothing pending: nothing recomputed

    with app.connect() as connection:
        joined = connection.execute(
            sa.text('SELECT r.id, o.output, o.model_uuid, o.model_version FROM reviews r JOIN "_outputs__loud" o ON o.source_id = r.id ORDER BY r.id'
                    .replace('"', "`" if app.dialect.name == "mysql" else '"'))
        ).all()
    assert [(row[0], row[2], row[3]) for row in joined] == [(2, model.uuid, 0), (3, model.uuid, 0)]


def test_errors_per_row_and_retry_on_next_version(db: superlite.Datalayer, app: sa.Engine) -> None:
    db.apply(ObjectModel("shout", object=shout))
    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'boom', 1)")
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}
    assert db.listener_errors("loud") == {3: "ValueError: no booms"}

    db.apply(ObjectModel("shout", object=lambda text: text.upper()))  # version 1: "shout" follows latest
    counts = db.catch_up("loud")
    assert counts == {"computed": 3, "failed": 0, "deleted": 0, "model_version": 1}
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD", 3: "BOOM"}
    assert db.listener_errors("loud") == {}


def test_where_filter_and_pinned_version(db: superlite.Datalayer, app: sa.Engine) -> None:
    first = db.apply(ObjectModel("shout", object=shout))
    db.apply(ObjectModel("shout", object=lambda text: text))
    db.apply(Listener("loud", model="shout@0", table="reviews", key="text", where="stars >= 3"))
    assert db.outputs("loud") == {1: "GOOD"}
    run(app, "UPDATE reviews SET stars = 5 WHERE id = 2", "UPDATE reviews SET stars = 1 WHERE id = 1")
    db.catch_up("loud")
    assert db.outputs("loud") == {2: "BAD"}
    assert {version for version in _column(app, "model_version")} == {first.version}


def _column(app: sa.Engine, name: str) -> list[object]:
    quote = "`" if app.dialect.name == "mysql" else '"'
    with app.connect() as connection:
        return list(connection.exec_driver_sql(f"SELECT {name} FROM {quote}_outputs__loud{quote}").scalars())


def test_remove_drops_outputs_unless_kept(db: superlite.Datalayer, app: sa.Engine) -> None:
    model = db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model=model, table="reviews", key="text"))
    with pytest.raises(DependencyError):
        db.remove("model", "shout")
    db.remove("listener", "loud", keep_outputs=True)
    assert sorted(_column(app, "source_id")) == [1, 2]
    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'new', 3)")  # no trigger left to fail or queue

    db.apply(Listener("loud", model=model, table="reviews", key="text"))
    db.remove("listener", "loud")
    assert "_outputs__loud" not in sa.inspect(app).get_table_names()


def test_chained_listener_is_triggered_by_outputs(db: superlite.Datalayer, app: sa.Engine) -> None:
    db.apply(ObjectModel("shout", object=shout))
    db.apply(ObjectModel("length", object=len))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    db.apply(Listener("size", model="length", table="_outputs__loud", key="output"))
    assert db.outputs("size") == {1: 4, 2: 3}
    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'lovely', 5)", "DELETE FROM reviews WHERE id = 1")
    db.catch_up("loud")
    db.catch_up("size")
    assert db.outputs("size") == {2: 3, 3: 6}
    with pytest.raises(DependencyError, match="size"):
        db.remove("listener", "loud")
    db.remove("listener", "size")
    db.remove("listener", "loud")


def test_interrupted_backfill_resumes_where_it_stopped(db: superlite.Datalayer, app: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from superlite.listeners.sql import SQLListenerSource

    run(app, *(f"INSERT INTO reviews (id, text, stars) VALUES ({i}, 'row {i}', 3)" for i in range(3, 11)))
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text", batch_size=2, backfill=False))
    commit = SQLListenerSource.commit
    calls = []

    def failing_third(self, model, batch):
        calls.append(batch)
        if len(calls) == 3:
            raise RuntimeError("the process died here")
        commit(self, model, batch)

    monkeypatch.setattr(SQLListenerSource, "commit", failing_third)
    with pytest.raises(RuntimeError, match="died"):
        db.catch_up("loud")
    monkeypatch.undo()
    assert len(db.outputs("loud")) == 4
    assert db.catch_up("loud", progress=True)["computed"] == 6
    assert len(db.outputs("loud")) == 10


def test_one_process_at_a_time_per_listener(db: superlite.Datalayer, app: sa.Engine) -> None:
    from superlite.listeners import ListenerBusyError, ListenerRunner

    db.apply(ObjectModel("shout", object=shout))
    listener = db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    first, second = ListenerRunner(db), ListenerRunner(db)
    with first.source(listener) as source:
        assert source.acquire(first.owner, 60)
        assert not source.acquire(second.owner, 60)
        with pytest.raises(ListenerBusyError):
            second.catch_up("loud", wait=0)
        source.release(first.owner)
    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'new', 3)")
    assert second.catch_up("loud", wait=0)["computed"] == 1


def test_named_alias_moves_and_outputs_follow(db: superlite.Datalayer, app: sa.Engine) -> None:
    db.apply(ObjectModel("shout", object=shout))
    db.apply(ObjectModel("shout", object=lambda text: text + "!"))
    db.set_alias("model", "shout", "production", 0)
    db.apply(Listener("loud", model=db.load("model", "shout@production"), table="reviews", key="text"))
    assert db.load("listener", "loud").model == "shout@production"
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD"}

    db.start_canary("model", "shout", "production", 1, 50)  # a canary is not the alias's target: no change
    assert db.catch_up("loud")["computed"] == 0
    db.promote("model", "shout", "production")
    assert db.catch_up("loud") == {"computed": 2, "failed": 0, "deleted": 0, "model_version": 1}
    assert db.outputs("loud") == {1: "good!", 2: "bad!"}
    assert set(_column(app, "model_version")) == {1}


def test_outputs_the_wire_codec_carries_round_trip(db: superlite.Datalayer, app: sa.Engine) -> None:
    """bytes, tuples and non-text dict keys are stored as the wire codec's tagged JSON and read back."""
    db.apply(ObjectModel("pack", object=lambda text: (text.encode(), {1: text}, [b"\x00\xff"])))
    db.apply(Listener("packed", model="pack", table="reviews", key="text"))
    assert db.outputs("packed") == {1: (b"good", {1: "good"}, [b"\x00\xff"]), 2: (b"bad", {1: "bad"}, [b"\x00\xff"])}
    run(app, "UPDATE reviews SET text = 'worse' WHERE id = 2")
    db.catch_up("packed")
    assert db.outputs("packed")[2] == (b"worse", {1: "worse"}, [b"\x00\xff"])

    db.apply(ObjectModel("raw", object=lambda packed: packed[0][::-1]))  # chained: reads the bytes back
    db.apply(Listener("reversed", model="raw", table="_outputs__packed", key="output"))
    assert db.outputs("reversed") == {1: b"doog", 2: b"esrow"}


def test_an_output_that_cannot_be_stored_is_the_rows_error(db: superlite.Datalayer, app: sa.Engine) -> None:
    """A NaN or a type the wire codec does not carry fails that row only; the others are stored."""
    run(app, "INSERT INTO reviews (id, text, stars) VALUES (3, 'set', 3)")
    db.apply(ObjectModel("odd", object=lambda text: {text} if text == "set" else (float("nan") if text == "bad" else text)))
    db.apply(Listener("odd", model="odd", table="reviews", key="text"))
    assert db.outputs("odd") == {1: "good"}
    failed = db.listener_errors("odd")
    assert set(failed) == {2, 3} and "NaN" in failed[2] and "set" in failed[3]


def test_watermark_is_refused_on_sql(db: superlite.Datalayer, app: sa.Engine) -> None:
    db.apply(ObjectModel("shout", object=shout))
    with pytest.raises(ConfigurationError, match="watermark"):
        db.apply(Listener("loud", model="shout", table="reviews", key="text", watermark="stars"))


def test_text_row_ids(db: superlite.Datalayer, app: sa.Engine) -> None:
    run(app, "CREATE TABLE tags (name VARCHAR(40) PRIMARY KEY, label VARCHAR(40))", "INSERT INTO tags (name, label) VALUES ('a', 'x'), ('b', 'y')")
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("tagged", model="shout", table="tags", key="label"))
    assert db.outputs("tagged") == {"a": "X", "b": "Y"}
    run(app, "INSERT INTO tags (name, label) VALUES ('c', 'z')", "UPDATE tags SET label = 'w' WHERE name = 'a'", "DELETE FROM tags WHERE name = 'b'")
    db.catch_up("tagged")
    assert db.outputs("tagged") == {"a": "W", "c": "Z"}


@pytest.mark.parametrize("db_uri", ["sqlite"], indirect=True)  # the database-wide write lock is SQLite's alone
def test_install_waits_for_another_writer_on_sqlite(db: superlite.Datalayer, app: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Creating the listener's tables waits for the write lock instead of failing on a stale snapshot.

    Another connection takes the write lock right before the tables are created and commits a
    row 0.3 s later: a deferred transaction would read the schema first, then fail to upgrade.
    """
    import threading

    from superlite.listeners.sql import SQLListenerSource

    install = SQLListenerSource.install
    holder = app.connect()

    def held(self: SQLListenerSource, signature: str) -> bool:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        holder.exec_driver_sql("INSERT INTO reviews (id, text, stars) VALUES (3, 'held', 3)")
        threading.Timer(0.3, holder.exec_driver_sql, ("COMMIT",)).start()
        return install(self, signature)

    monkeypatch.setattr(SQLListenerSource, "install", held)
    db.apply(ObjectModel("shout", object=shout))
    try:
        db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    finally:
        holder.close()
    assert db.outputs("loud") == {1: "GOOD", 2: "BAD", 3: "HELD"}


def test_listener_times_keep_sub_second_precision(db: superlite.Datalayer, app: sa.Engine) -> None:
    # MySQL's FLOAT is single precision: a Unix time stored in it is off by up to a minute, so a
    # 60-second lease could read as already expired. Times are DOUBLE on every backend, and a
    # table an earlier release created with FLOAT is widened when a listener is installed.
    from superlite.listeners.sql import state

    if app.dialect.name == "mysql":
        with app.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE _superlite_listener_state (listener VARCHAR(64) PRIMARY KEY, signature VARCHAR(64) NOT NULL, "
                "model_uuid VARCHAR(64), model_version INTEGER, `cursor` JSON, backfill_done BOOL NOT NULL, "
                "lease_owner VARCHAR(100), lease_until FLOAT, processed BIGINT NOT NULL, rate FLOAT)"
            )
    db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model="shout", table="reviews", key="text"))
    until = 1_790_000_000.123456
    with app.begin() as connection:
        connection.execute(state.update().where(state.c.listener == "loud").values(lease_until=until))
        stored = connection.scalar(sa.select(state.c.lease_until).where(state.c.listener == "loud"))
    assert abs(float(stored) - until) < 1e-3
