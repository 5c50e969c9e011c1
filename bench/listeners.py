"""Benchmark listener back-fills against a hand-written loop, and insert-to-output delay.

    python bench/listeners.py [--rows 100000] [--kinds sqlite,postgresql] [--broker redis://127.0.0.1:6379/0] [--workers 2]

For each database kind, on a fresh database holding ``items(id, x)`` with ``--rows`` rows:

(a) hand-written loop: ``SELECT id, x``, ``predict`` each row in this process, insert the outputs
    1000 rows per ``executemany`` into a plain table (the baseline);
(b) listener back-fill in-process: ``db.catch_up`` of a listener applied with ``backfill=False``;
(c) listener back-fill on ``--workers`` single-process Celery workers (chunks on the broker);
(d) delay from an ``INSERT`` by another connection to its output being visible, with
    ``superlite listen`` running in another process: p50 and p99 over ``--samples`` inserts.

Ratios are rows/s of the listener over rows/s of the loop, measured in the same run: the median
of ``--rounds`` rounds, loop and listener alternating, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from measure import percentile
from sqlalchemy.pool import NullPool


def tiny(x: int) -> int:
    """The tiny model."""
    return 2 * x + 1


def fill(app: sa.Engine, rows: int) -> None:
    with app.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE items (id INTEGER PRIMARY KEY, x INTEGER)")
        connection.exec_driver_sql("CREATE TABLE hand_outputs (id INTEGER PRIMARY KEY, output INTEGER)")
        insert = sa.text("INSERT INTO items (id, x) VALUES (:id, :x)")
        for start in range(0, rows, 10_000):
            connection.execute(insert, [{"id": i, "x": i % 997} for i in range(start, min(rows, start + 10_000))])


def hand_loop(app: sa.Engine) -> float:
    """Seconds for select, predict, insert over every row: what one would write by hand."""
    with app.begin() as connection:
        connection.exec_driver_sql("DELETE FROM hand_outputs")
    started = time.perf_counter()
    with app.connect() as reader:
        rows = reader.exec_driver_sql("SELECT id, x FROM items ORDER BY id").all()
    insert = sa.text("INSERT INTO hand_outputs (id, output) VALUES (:id, :output)")
    for start in range(0, len(rows), 1000):
        with app.begin() as connection:
            connection.execute(insert, [{"id": i, "output": tiny(x)} for i, x in rows[start : start + 1000]])
    return time.perf_counter() - started


def backfill(db, name: str) -> float:
    """Seconds for ``db.catch_up`` of a new listener over every row (the listener is removed after)."""
    from superlite import Listener

    db.apply(Listener(name, model="tiny", table="items", key="x", backfill=False))
    started = time.perf_counter()
    counts = db.catch_up(name)
    seconds = time.perf_counter() - started
    assert counts["failed"] == 0, counts
    db.remove("listener", name)
    return seconds


def interleaved(app: sa.Engine, db, label: str, rounds: int) -> tuple[float, float]:
    """Median seconds of the hand loop and of a back-fill, run alternately ``rounds`` times each.

    Alternating keeps both under the same machine load (other processes come and go).
    """
    loops, fills = [], []
    for n in range(rounds):
        loops.append(hand_loop(app))
        fills.append(backfill(db, f"bench-{label}-{n}"))
    return statistics.median(loops), statistics.median(fills)


def insert_delay(uri: str, app: sa.Engine, rows: int, samples: int, log: Path) -> list[float]:
    """Seconds from each INSERT (committed by ``app``) to its output row being visible."""
    env = {k: v for k, v in os.environ.items() if k != "SUPERLITE_BROKER"}
    with open(log, "wb") as out:
        listening = subprocess.Popen([sys.executable, "-m", "superlite", "--uri", uri, "listen"], stdout=out, stderr=subprocess.STDOUT, env=env)
    quote = app.dialect.identifier_preparer.quote
    probe = sa.text(f"SELECT 1 FROM {quote('_outputs__bench-delay')} WHERE source_id = :id")
    delays = []
    try:
        for n in range(-1, samples):  # the first insert only waits for the listener to be up
            source_id = rows + 1 + n
            with app.begin() as connection:
                connection.execute(sa.text("INSERT INTO items (id, x) VALUES (:id, 1)"), {"id": source_id})
            inserted = time.perf_counter()
            deadline = inserted + 60
            with app.connect() as connection:
                while connection.execute(probe, {"id": source_id}).first() is None:
                    connection.rollback()  # a fresh snapshot on the next look
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"no output after 60 s; see {log}")
                    time.sleep(0.002)
            if n >= 0:
                delays.append(time.perf_counter() - inserted)
    finally:
        listening.send_signal(signal.SIGTERM)
        listening.wait(60)
    return delays


def run_kind(kind: str, args: argparse.Namespace, tmp: Path) -> None:
    import superlite
    from superlite import Listener, ObjectModel
    from superlite.stores.sql.engine import normalize_url
    from superlite.testing.databases import isolated_database
    from superlite.testing.workers import start_worker

    with isolated_database(kind, tmp) as uri:
        app = sa.create_engine(normalize_url(uri), poolclass=NullPool)
        fill(app, args.rows)
        with superlite.connect(uri, broker=None) as db:
            db.apply(ObjectModel("tiny", object=tiny))
            loop, local = interleaved(app, db, "local", args.rounds)
        remote = None
        if args.workers:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            workers = [start_worker(uri, args.broker, queue, tmp, "--concurrency", "1") for _ in range(args.workers)]
            try:
                for worker in workers:
                    worker.wait_ready()
                with superlite.connect(uri, broker=args.broker, queue=queue) as db:
                    loop_for_remote, remote = interleaved(app, db, "workers", args.rounds)
            finally:
                for worker in workers:
                    worker.terminate()
        with superlite.connect(uri, broker=None) as db:
            db.apply(Listener("bench-delay", model="tiny", table="items", key="x"))
        delays = insert_delay(uri, app, args.rows, args.samples, tmp / f"listen-{kind}.log")
        app.dispose()

    print(f"{kind}: {args.rows} rows, tiny model, median of {args.rounds} alternating rounds")
    print(f"    (a) hand-written loop         {args.rows / loop:9.0f} rows/s")
    print(f"    (b) listener, in-process      {args.rows / local:9.0f} rows/s   ratio {loop / local:5.2f} x  (goal >= 0.8 x)")
    if remote is not None:
        print(f"    (a') hand-written loop        {args.rows / loop_for_remote:9.0f} rows/s   (rounds alternating with (c))")
        print(f"    (c) listener, {args.workers} workers       {args.rows / remote:9.0f} rows/s   ratio {loop_for_remote / remote:5.2f} x  (goal >= 1.5 x)")
    print(f"    (d) insert -> output visible  p50 {statistics.median(delays) * 1000:7.1f} ms   p99 {percentile(delays, 0.99) * 1000:7.1f} ms"
          f"   ({len(delays)} inserts, superlite listen; goal p99 <= 1000 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kinds", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql, mariadb")
    parser.add_argument("--broker", default=os.environ.get("SUPERLITE_BROKER", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--workers", type=int, default=2, help="Celery workers for (c); 0 skips it")
    parser.add_argument("--samples", type=int, default=100, help="inserts timed in (d)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a) with (b), and of (a) with (c)")
    args = parser.parse_args()
    print(f"superlite listener benchmark, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="superlite-bench-") as tmp:
        for kind in args.kinds.split(","):
            run_kind(kind.strip(), args, Path(tmp))


if __name__ == "__main__":
    main()
