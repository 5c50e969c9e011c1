"""The benchmark scripts run as ``python bench/NAME.py``, which puts ``bench/`` first on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_no_bench_script_shadows_a_standard_library_module() -> None:
    # bench/http.py once shadowed the standard ``http`` package: ``import torch`` in any other
    # benchmark then failed with a circular import inside urllib.
    shadowing = sorted(p.name for p in BENCH.glob("*.py") if p.stem in sys.stdlib_module_names)
    assert not shadowing, f"rename these benchmark scripts: {shadowing}"
