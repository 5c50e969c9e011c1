"""Listeners on SQL tables, on SQLite, PostgreSQL and MariaDB: rows written by a plain connection.

The shared listener contract (superlite.testing.listener_contract) runs here on every SQL
database; the tests below it are about SQL alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import superlite
from superlite import Listener, ObjectModel
from superlite.errors import ConfigurationError
from superlite.listeners.sql import SQLListenerSource
from superlite.stores.sql.engine import normalize_url
from superlite.testing.listener_contract import TABLE, ListenerContract


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


class TestSQLSourcesListen(ListenerContract):
    """The shared listener contract on this database's tables."""

    @pytest.fixture
    def rows(self, db_uri: str) -> Iterator[SQLRows]:
        engine = sa.create_engine(normalize_url(db_uri), poolclass=NullPool)
        run(engine, f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, text VARCHAR(200))")
        yield SQLRows(engine)
        engine.dispose()


class SQLRows:
    """:class:`~superlite.testing.listener_contract.AppRows` through a plain SQLAlchemy engine."""

    source_class = SQLListenerSource

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.quote = "`" if engine.dialect.name == "mysql" else '"'

    def insert(self, *rows: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"INSERT INTO {TABLE} (id, text) VALUES (:id, :text)"), list(rows))

    def update(self, row_id: int, text: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {TABLE} SET text = :text WHERE id = :id"), {"id": row_id, "text": text})

    def delete(self, row_id: int) -> None:
        run(self.engine, f"DELETE FROM {TABLE} WHERE id = {row_id}")

    def output_column(self, listener: str, column: str) -> list[Any]:
        with self.engine.connect() as connection:
            table = f"{self.quote}_outputs__{listener}{self.quote}"
            return list(connection.exec_driver_sql(f"SELECT {column} FROM {table}").scalars())

    def has_outputs_table(self, listener: str) -> bool:
        return f"_outputs__{listener}" in sa.inspect(self.engine).get_table_names()

    def without_text(self, text: str) -> Any:
        return f"text <> '{text}'"


def test_outputs_join_back_to_the_source_table(db: superlite.Datalayer, app: sa.Engine) -> None:
    model = db.apply(ObjectModel("shout", object=shout))
    db.apply(Listener("loud", model=model, table="reviews", key="text"))
    run(app, "UPDATE reviews SET stars = 4 WHERE id = 2")  # not the key: nothing to recompute
    assert db.catch_up("loud")["computed"] == 0
    with app.connect() as connection:
        joined = connection.execute(
            sa.text('SELECT r.id, o.output, o.model_uuid, o.model_version FROM reviews r JOIN "_outputs__loud" o ON o.source_id = r.id ORDER BY r.id'
                    .replace('"', "`" if app.dialect.name == "mysql" else '"'))
        ).all()
    assert [(row[0], row[2], row[3]) for row in joined] == [(1, model.uuid, 0), (2, model.uuid, 0)]


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


def test_a_chained_listener_reads_stored_bytes_back(db: superlite.Datalayer, app: sa.Engine) -> None:
    db.apply(ObjectModel("pack", object=lambda text: (text.encode(), {1: text})))
    db.apply(Listener("packed", model="pack", table="reviews", key="text"))
    db.apply(ObjectModel("raw", object=lambda packed: packed[0][::-1]))
    db.apply(Listener("reversed", model="raw", table="_outputs__packed", key="output"))
    assert db.outputs("reversed") == {1: b"doog", 2: b"dab"}


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
