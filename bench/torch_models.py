"""TorchModel benchmark: apply and load of a large state_dict, against torch + the raw driver.

Measured in one run, on the same database server and the same module:

* baseline write: ``torch.save`` into a ``BytesIO``, then one raw driver INSERT of those bytes
  (``sqlite3`` in WAL mode, as superlite's SQLite store runs; ``psycopg`` with a binary
  parameter);
* baseline read: one raw driver SELECT of the bytes, then ``torch.load(weights_only=True)``
  from a ``BytesIO``;
* superlite: ``db.apply(TorchModel(...))`` (state_dict, rebuild check, ``torch.save`` hashed
  with BLAKE3 and streamed to the store in chunks while it runs) and
  ``db.load(..., lazy=False)`` (chunked read, BLAKE3 check, ``torch.load(weights_only=True)``,
  module rebuilt on the meta device around the loaded tensors).

Each time is the best of ``--repeat`` runs, printed with its ratio to the baseline (goals:
apply within 1.2x on SQLite and 1.0x on PostgreSQL, load within 1.0x). Then, unless
``--skip-large``, peak memory of applying and of loading a ~1 GB state_dict, each in a fresh
process (peak RSS from ``VmHWM``, reset before the operation), as a multiple of the state_dict
size (goal for apply: 1.1x), and the time of a lazy load (the record only; goal < 10 ms). Usage::

    .venv/bin/python bench/torch_models.py                      # 100 MB, then 1 GB memory
    .venv/bin/python bench/torch_models.py --skip-large --repeat 5
    .venv/bin/python bench/torch_models.py --backends sqlite --size-mb 20 --large-mb 200
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from superlite_torch import TorchModel
from torch import nn

import superlite
from superlite.stores.sql.engine import normalize_url

MB = 1024 * 1024

# nn.Transformer advises batch_first on every construction, including superlite's rebuilds.
warnings.filterwarnings("ignore", message="enable_nested_tensor is True")

#: One transformer encoder layer of this width holds ~50 MB of float32 weights.
WIDTH, FEEDFORWARD, HEADS = 1024, 4096, 16


def transformer_args(size_mb: int) -> dict[str, object]:
    """``nn.Transformer`` arguments (JSON) for a model of about ``size_mb`` MB, in ~50 MB layers."""
    layers = max(1, round(size_mb / 50.4))
    return {
        "d_model": WIDTH,
        "nhead": HEADS,
        "num_encoder_layers": layers,
        "num_decoder_layers": 0,
        "dim_feedforward": FEEDFORWARD,
    }


def build(size_mb: int) -> tuple[nn.Module, dict[str, object]]:
    """A real multi-tensor model (an encoder stack) of about ``size_mb`` MB, and its arguments."""
    arguments = transformer_args(size_mb)
    torch.manual_seed(0)
    return nn.Transformer(**arguments), arguments  # type: ignore[arg-type]


def state_dict_bytes(module: nn.Module) -> int:
    """Bytes of tensor data in ``module``'s state_dict."""
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def best(function: Callable[[], object], repeat: int, before: Callable[[], object] | None = None) -> float:
    """The shortest of ``repeat`` timed calls; ``before`` runs untimed ahead of each."""
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# -- raw driver baselines ---------------------------------------------------------------------


class RawSQLite:
    """One BLOB row through the sqlite3 module, WAL journal as superlite's SQLite store uses."""

    def __init__(self, directory: Path) -> None:
        self.connection = sqlite3.connect(directory / "raw.db")
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, data BLOB)")

    def write(self, data: bytes | memoryview) -> None:
        with self.connection:
            self.connection.execute("INSERT INTO raw (id, data) VALUES (1, ?)", (data,))

    def read(self) -> bytes:
        return self.connection.execute("SELECT data FROM raw WHERE id = 1").fetchone()[0]

    def clear(self) -> None:
        with self.connection:
            self.connection.execute("DELETE FROM raw")

    def close(self) -> None:
        self.connection.close()


class RawPostgres:
    """One bytea row through psycopg, sent and received in binary format."""

    def __init__(self, uri: str) -> None:
        import psycopg

        url = normalize_url(uri)
        options = url.query.get("options")
        self.connection = psycopg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password or None, dbname=url.database, options=options
        )
        with self.connection.transaction():
            self.connection.execute("CREATE TABLE raw (id int PRIMARY KEY, data bytea)")
            self.connection.execute("ALTER TABLE raw ALTER COLUMN data SET STORAGE EXTERNAL")

    def write(self, data: bytes | memoryview) -> None:
        with self.connection.transaction():
            self.connection.execute("INSERT INTO raw (id, data) VALUES (1, %b)", (data,))

    def read(self) -> bytes:
        with self.connection.cursor(binary=True) as cursor:
            cursor.execute("SELECT data FROM raw WHERE id = 1")
            data = cursor.fetchone()[0]
        self.connection.commit()
        return data

    def clear(self) -> None:
        with self.connection.transaction():
            self.connection.execute("DELETE FROM raw")

    def close(self) -> None:
        self.connection.close()


# -- one backend ------------------------------------------------------------------------------


@contextmanager
def isolated(kind: str, directory: Path) -> Iterator[str | None]:
    """A fresh database of ``kind`` (None when its service is not running)."""
    import pytest

    from superlite.testing.databases import isolated_database

    try:
        with isolated_database(kind, directory) as uri:
            yield uri
    except pytest.skip.Exception as skipped:
        print(f"{kind}: skipped ({skipped})")
        yield None


def bench_backend(kind: str, uri: str, directory: Path, size_mb: int, repeat: int) -> None:
    """Print apply/load times on ``uri`` against the raw baseline of the same database."""
    module, arguments = build(size_mb)
    size = state_dict_bytes(module)
    raw = RawSQLite(directory) if kind == "sqlite" else RawPostgres(uri)
    held: dict[str, object] = {}

    def raw_write() -> None:
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        raw.write(buffer.getbuffer())

    def raw_read() -> None:
        held["raw"] = torch.load(io.BytesIO(raw.read()), weights_only=True)

    with superlite.connect(uri) as db:

        def apply() -> None:
            db.apply(TorchModel("bench", object=module, module_args=arguments))

        def remove() -> None:
            if db.show("model"):
                db.remove("model", "bench")

        def load() -> None:
            held["loaded"] = db.load("model", "bench", lazy=False)

        raw_write_s = best(raw_write, repeat, before=raw.clear)
        apply_s = best(apply, repeat, before=remove)
        raw_read_s = best(raw_read, repeat, before=lambda: held.clear())
        load_s = best(load, repeat, before=lambda: held.clear())

        x = torch.randn(1, 8, WIDTH)
        reference = module.eval().encoder(x)
        assert torch.equal(held["loaded"].object.encoder(x), reference), "loaded model differs"  # type: ignore[attr-defined]
    raw.close()
    print(f"{kind}: state_dict {size / MB:.0f} MB ({len(module.state_dict())} tensors), best of {repeat}")
    print(f"  apply  {apply_s:7.3f} s   baseline torch.save + raw write {raw_write_s:7.3f} s   ratio {apply_s / raw_write_s:5.2f}x")
    print(f"  load   {load_s:7.3f} s   baseline raw read + torch.load  {raw_read_s:7.3f} s   ratio {load_s / raw_read_s:5.2f}x")


# -- peak memory of the large case, each operation in a fresh process -------------------------


def rss_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (``VmRSS`` or ``VmHWM``), in MB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def reset_peak() -> None:
    """Make ``VmHWM`` restart from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def memory_child(operation: str, uri: str, size_mb: int) -> None:
    """Run one operation in this (fresh) process and print its memory figures as JSON."""
    with superlite.connect(uri) as db:
        db.show()  # connect, create tables, import everything before measuring
        base = rss_mb("VmRSS")
        if operation == "apply":
            module, arguments = build(size_mb)
            size = state_dict_bytes(module)
            resident = rss_mb("VmRSS")
            reset_peak()
            start = time.perf_counter()
            db.apply(TorchModel("large", object=module, module_args=arguments))
            seconds = time.perf_counter() - start
            figures = {"base": base, "resident": resident, "peak": rss_mb("VmHWM"), "size": size / MB, "seconds": seconds}
        else:
            start = time.perf_counter()
            db.load("model", "large", lazy=True)
            lazy_seconds = time.perf_counter() - start
            reset_peak()
            start = time.perf_counter()
            model = db.load("model", "large", lazy=False)
            seconds = time.perf_counter() - start
            peak = rss_mb("VmHWM")
            touched = sum(float(t.float().sum()) for t in model.object.state_dict().values())  # type: ignore[attr-defined]
            figures = {
                "base": base, "peak": peak, "after_touch": rss_mb("VmRSS"), "seconds": seconds, "checksum": touched,
                "lazy_seconds": lazy_seconds,
            }
    print(json.dumps(figures))


def run_child(operation: str, uri: str, size_mb: int) -> dict[str, float]:
    """Run :func:`memory_child` in a fresh interpreter and return its figures."""
    command = [sys.executable, __file__, "--memory-child", operation, "--uri", uri, "--large-mb", str(size_mb)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def bench_memory(kind: str, uri: str, size_mb: int) -> None:
    """Print peak memory of applying and of loading a ~``size_mb`` MB state_dict on ``uri``."""
    applied = run_child("apply", uri, size_mb)
    loaded = run_child("load", uri, size_mb)
    size = applied["size"]
    apply_peak = applied["peak"] - applied["base"]
    load_peak = loaded["peak"] - loaded["base"]
    print(f"{kind}: peak memory, state_dict {size:.0f} MB (RSS above the process before the model existed)")
    print(
        f"  apply  peak {apply_peak:7.0f} MB = {apply_peak / size:4.2f}x model (model itself {applied['resident'] - applied['base']:.0f} MB; "
        f"apply added {applied['peak'] - applied['resident']:.0f} MB)   {applied['seconds']:.2f} s"
    )
    print(
        f"  load   peak {load_peak:7.0f} MB = {load_peak / size:4.2f}x model   {loaded['seconds']:.2f} s; "
        f"after reading every weight {loaded['after_touch'] - loaded['base']:.0f} MB"
    )
    print(f"  lazy load (the record only, weights read on first use)   {loaded['lazy_seconds'] * 1000:.1f} ms   (goal < 10 ms)")


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=100, help="state_dict size of the timed case (default 100)")
    parser.add_argument("--large-mb", type=int, default=1024, help="state_dict size of the memory case (default 1024)")
    parser.add_argument("--skip-large", action="store_true", help="skip the ~1 GB memory case")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is kept (default 3)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--memory-child", choices=["apply", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.uri, args.large_mb)
        return
    kinds = [kind.strip() for kind in args.backends.split(",") if kind.strip()]
    print(f"torch {torch.__version__}, superlite {superlite.__version__}, {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory(prefix="superlite_bench_") as temporary:
        directory = Path(temporary)
        for kind in kinds:
            (directory / kind).mkdir()
            with isolated(kind, directory / kind) as uri:
                if uri is not None:
                    bench_backend(kind, uri, directory / kind, args.size_mb, args.repeat)
        if not args.skip_large:
            for kind in kinds:
                with isolated(kind, directory) as uri:
                    if uri is not None:
                        bench_memory(kind, uri, args.large_mb)


if __name__ == "__main__":
    main()
