"""Signing benchmark: what record signatures cost an apply and a load, against no signing.

Measured in one run on one SQLite file per configuration: ``--models`` small ``ObjectModel``
versions applied, then each loaded back with ``lazy=False`` (record read, signature checked,
class checked, artifact read, verified and unpickled), with no key (the baseline), with an
HMAC-SHA256 key and with an Ed25519 key, signatures required. Each figure is the best of
``--repeat`` runs. Usage::

    .venv/bin/python bench/signing.py [--models 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import superlite
from superlite import ObjectModel
from superlite.security import generate_key


def run(directory: Path, count: int, options: dict[str, object]) -> tuple[float, float]:
    """Seconds to apply ``count`` models, and to load them all back."""
    with superlite.connect(f"sqlite:///{directory / 'bench.db'}", broker=None, **options) as db:
        started = time.perf_counter()
        for i in range(count):
            db.apply(ObjectModel(f"m{i}", object=abs, description=f"model {i}"))
        applied = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(count):
            db.load("model", f"m{i}", lazy=False)
        return applied, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hmac_key, _ = generate_key("hmac")
    ed_key, _ = generate_key("ed25519")
    configurations = {
        "no signing": {},
        "hmac-sha256": {"signing_key": hmac_key, "require_signatures": True},
        "ed25519": {"signing_key": ed_key, "require_signatures": True},
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for name, options in configurations.items():
            with tempfile.TemporaryDirectory() as directory:
                applied, loaded = run(Path(directory), args.models, options)
            previous = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(previous[0], applied), min(previous[1], loaded))
    base_apply, base_load = best["no signing"]
    print(f"{args.models} models, best of {args.repeat}, SQLite")
    print(f"{'configuration':<14} {'apply ms/model':>15} {'ratio':>7} {'load ms/model':>14} {'ratio':>7}")
    for name, (applied, loaded) in best.items():
        print(
            f"{name:<14} {1000 * applied / args.models:>15.3f} {applied / base_apply:>7.2f} "
            f"{1000 * loaded / args.models:>14.3f} {loaded / base_load:>7.2f}"
        )


if __name__ == "__main__":
    main()
