"""SQL artifact benchmark: superlite's artifact store on a ~100 MB artifact, against raw baselines.

Measured in one run, on the same machine and the same random bytes, each backend on a fresh
database per repetition:

* baseline "raw driver": the bytes as one row, plain ``INSERT`` / ``SELECT`` through the DBAPI
  driver with its defaults (psycopg 3, sqlite3, PyMySQL), then SHA-256 of what was read; on
  PostgreSQL the value is stored as superlite stores its chunks (same storage and compression);
* baseline "file": the bytes written to a plain file (write + fsync), read back and hashed;
* "store": :class:`~superlite.stores.sql.SQLArtifactStore` ``put`` (chunked, one transaction),
  and ``open`` + :func:`~superlite.serialization.hashing.copy_verified`, as the Datalayer reads;
* "db.apply" / "db.load": the whole path, an ``ObjectModel`` whose callable holds the bytes
  (dill, hashing, spooling, the store) applied, then loaded back with ``lazy=False``.

Each figure is the best of ``--repeat`` runs, printed with its ratio to the baselines, for
each kind of bytes in ``--data``: ``random`` (dense weights: nothing to compress) and
``sparse`` (float32 weights, 90% of them zero, as pruned models and padded embeddings are).
A new case is one function decorated with :func:`case`. Usage::

    .venv/bin/python bench/artifacts.py                          # sqlite and postgresql, 100 MB
    .venv/bin/python bench/artifacts.py --size-mb 20 --backends sqlite,postgresql,mariadb --data sparse
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from superlite import Datalayer, ObjectModel
from superlite.config import Settings
from superlite.registry import Registry
from superlite.serialization.hashing import copy_verified
from superlite.stores.base import CHUNK_SIZE, StoreBundle
from superlite.stores.sql import open_sql_stores
from superlite.testing.databases import isolated_database

WRITE, READ = "write", "read"
RAW, FILE = "raw driver", "file"

raw_table = sa.Table(
    "bench_raw",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary().with_variant(sa.dialects.mysql.LONGBLOB(), "mysql", "mariadb")),
)


@dataclass
class Context:
    """What a case works with: one fresh database, its stores, a scratch directory and the bytes."""

    backend: str
    stores: StoreBundle
    db: Datalayer
    engine: sa.Engine
    workdir: Path
    data: bytes
    sha256: str


@dataclass(frozen=True)
class Case:
    """One measured operation: its name, its direction and the function that performs it."""

    name: str
    direction: str
    run: Callable[[Context], None]


CASES: list[Case] = []


def case(name: str, direction: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    """Register a benchmark case; cases of one direction run in registration order."""

    def register(function: Callable[[Context], None]) -> Callable[[Context], None]:
        CASES.append(Case(name, direction, function))
        return function

    return register


class Discard:
    """A write-only sink: measures reading and hashing without the cost of keeping the bytes."""

    def write(self, data: bytes) -> int:
        """Accept and forget ``data``."""
        return len(data)

    def flush(self) -> None:
        """Nothing to flush."""


def _pieces(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


def _verify(data: bytes, sha256: str) -> None:
    if hashlib.sha256(data).hexdigest() != sha256:
        raise AssertionError("read back different bytes")


class NotApplicable(Exception):  # noqa: N818 - not an error, a verdict
    """This case cannot run on this backend; the message says why."""


def _require_one_value_fits(ctx: Context) -> None:
    if ctx.engine.dialect.name in ("mysql", "mariadb"):
        with ctx.engine.connect() as connection:
            packet = connection.exec_driver_sql("SELECT @@max_allowed_packet").scalar() or 0
        if packet < 2 * len(ctx.data):
            raise NotApplicable(f"one value this big needs max_allowed_packet > {2 * len(ctx.data) >> 20} MiB")


def _placeholder(engine: sa.Engine) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


@case(FILE, WRITE)
def file_write(ctx: Context) -> None:
    """Plain file: write everything, fsync."""
    with open(ctx.workdir / "raw.bin", "wb") as file:
        file.write(ctx.data)
        file.flush()
        os.fsync(file.fileno())


@case(FILE, READ)
def file_read(ctx: Context) -> None:
    """Plain file: read everything, hash it."""
    _verify((ctx.workdir / "raw.bin").read_bytes(), ctx.sha256)


@case(RAW, WRITE)
def raw_write(ctx: Context) -> None:
    """The driver alone: one INSERT of the whole artifact as one value, then COMMIT."""
    _require_one_value_fits(ctx)
    connection = ctx.engine.raw_connection()
    try:
        cursor = connection.cursor()
        mark = _placeholder(ctx.engine)
        cursor.execute(f"INSERT INTO bench_raw (id, data) VALUES ({mark}, {mark})", (1, ctx.data))
        connection.commit()
    finally:
        connection.close()


@case(RAW, READ)
def raw_read(ctx: Context) -> None:
    """The driver alone: one SELECT of the value, then hash it."""
    _require_one_value_fits(ctx)
    connection = ctx.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(f"SELECT data FROM bench_raw WHERE id = {_placeholder(ctx.engine)}", (1,))
        (value,) = cursor.fetchone() or (b"",)
        _verify(bytes(value), ctx.sha256)
        connection.rollback()
    finally:
        connection.close()


@case("put", WRITE)
def store_put(ctx: Context) -> None:
    """SQLArtifactStore.put from CHUNK_SIZE pieces, as the Datalayer streams its spool file."""
    ctx.stores.artifacts.put(ctx.sha256, _pieces(ctx.data), len(ctx.data))


@case("open+read+verify", READ)
def store_read(ctx: Context) -> None:
    """SQLArtifactStore.open, copied through copy_verified, as the Datalayer loads."""
    with ctx.stores.artifacts.open(ctx.sha256) as stream:
        copy_verified(stream, Discard(), ctx.sha256, "benchmark artifact", CHUNK_SIZE)  # type: ignore[arg-type]


class Payload:
    """A callable model whose weights are ``data``: what an ObjectModel stores with dill."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self, x: object) -> int:
        return len(self.data)


@case("db.apply", WRITE)
def datalayer_apply(ctx: Context) -> None:
    """Datalayer.apply of an ObjectModel holding the bytes."""
    ctx.db.apply(ObjectModel("bench", object=Payload(ctx.data)))


@case("db.load", READ)
def datalayer_load(ctx: Context) -> None:
    """Datalayer.load(lazy=False) of that model: read, verify, unpickle."""
    ctx.db.load("model", "bench", lazy=False)


@contextmanager
def fresh_context(backend: str, data: bytes, sha256: str) -> Iterator[Context]:
    """A new database of ``backend`` with superlite's tables and the raw table, and a scratch dir."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="superlite-bench-")))
        uri = stack.enter_context(isolated_database(backend, workdir))
        settings = Settings(uri=uri)
        stores = open_sql_stores(settings)
        db = stack.enter_context(Datalayer(settings, Registry(settings, stores.metadata, stores.artifacts)))
        engine: sa.Engine = stores.extra["engine"]  # type: ignore[assignment]
        raw_table.create(engine)
        _store_like_chunks(engine)
        yield Context(backend, stores, db, engine, workdir, data, sha256)


_STORAGE = {"e": "EXTERNAL", "x": "EXTENDED", "m": "MAIN", "p": "PLAIN"}
_COMPRESSION = {"l": "lz4", "p": "pglz"}


def _store_like_chunks(engine: sa.Engine) -> None:
    """On PostgreSQL, give the raw table's value the storage and compression of superlite's chunks,
    so that both baselines ask the server for the same work (its default, pglz, takes sparse bytes
    at about 35 MB/s, which would flatter every ratio against it)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        storage, compression = connection.exec_driver_sql(
            "SELECT attstorage, attcompression FROM pg_attribute "
            "WHERE attrelid = 'superlite_artifact_chunks'::regclass AND attname = 'data'"
        ).one()
        connection.exec_driver_sql(f"ALTER TABLE bench_raw ALTER COLUMN data SET STORAGE {_STORAGE[storage]}")
        if compression in _COMPRESSION:
            connection.exec_driver_sql(f"ALTER TABLE bench_raw ALTER COLUMN data SET COMPRESSION {_COMPRESSION[compression]}")


def timed(action: Callable[[], None]) -> float:
    """Seconds ``action`` takes."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


Results = dict[tuple[str, str], "float | str"]


def measure(backend: str, data: bytes, sha256: str, repeat: int) -> Results:
    """Best time of every case on ``backend`` (or why it cannot run), each repetition on a fresh database."""
    best: Results = {}
    for _ in range(repeat):
        with fresh_context(backend, data, sha256) as ctx:
            for direction in (WRITE, READ):
                for item in CASES:
                    if item.direction != direction:
                        continue
                    key = (item.name, direction)
                    try:
                        seconds = timed(lambda run=item.run: run(ctx))  # type: ignore[misc]
                    except NotApplicable as reason:
                        best[key] = str(reason)
                        continue
                    previous = best.get(key)
                    best[key] = min(seconds, previous) if isinstance(previous, float) else seconds
    return best


def report(backend: str, size_mb: int, best: Results) -> None:
    """Print each figure; each store figure with its ratios to the baselines that could run."""
    for direction in (WRITE, READ):
        for item in CASES:
            if item.direction != direction:
                continue
            seconds = best[(item.name, direction)]
            label = f"{backend} {item.name} {direction if item.name in (RAW, FILE) else ''}".rstrip()
            if isinstance(seconds, str):
                print(f"{label} {size_mb}MB: n/a ({seconds})")
                continue
            figures = [f"{size_mb / seconds:.0f} MB/s"]
            if item.name not in (RAW, FILE):
                for baseline in (RAW, FILE):
                    reference = best[(baseline, direction)]
                    if isinstance(reference, float):
                        figures.append(f"{seconds / reference:.2f}x {baseline}")
            print(f"{label} {size_mb}MB: {seconds:.2f} s  ({', '.join(figures)})")


def random_bytes(size: int) -> bytes:
    """Dense weights: bytes no compressor can shrink."""
    return os.urandom(size)


def sparse_float32(size: int) -> bytes:
    """Sparse weights: normal float32 values, nine in ten of them zero."""
    import numpy as np

    rng = np.random.default_rng(0)
    values = rng.standard_normal(size // 4, dtype=np.float32)
    values[rng.random(values.size) < 0.9] = 0.0
    return values.tobytes()


DATA = {"random": random_bytes, "sparse": sparse_float32}


def main() -> None:
    """Parse the arguments, run every case on every backend, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100, help="artifact size in MiB (default 100)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql,mariadb")
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend; the best is reported")
    parser.add_argument("--data", default="random,sparse", help=f"comma-separated kinds of bytes: {','.join(DATA)}")
    args = parser.parse_args()

    for kind in (name.strip() for name in args.data.split(",")):
        data = DATA[kind](args.size_mb * 1024 * 1024)
        sha256 = hashlib.sha256(data).hexdigest()
        print(
            f"SQL artifact benchmark: {args.size_mb} MiB of {kind} bytes, chunks of {CHUNK_SIZE >> 20} MiB, "
            f"best of {args.repeat}"
        )
        for backend in (name.strip() for name in args.backends.split(",")):
            try:
                best = measure(backend, data, sha256, args.repeat)
            except pytest.skip.Exception as skipped:
                print(f"{backend}: skipped ({skipped.msg})")
                continue
            report(backend, args.size_mb, best)


if __name__ == "__main__":
    main()
