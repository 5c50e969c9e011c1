"""A model for the micro-batching worker tests, importable by worker processes (on their PYTHONPATH)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from superlite import Model


@dataclass
class BatchReport(Model):
    """Answers ``[x, size of the batch x was computed in, pid of the process]``; "slow" takes a second."""

    def predict(self, x: Any) -> Any:
        return [x, 0, os.getpid()]

    def predict_batches(self, xs: Any) -> list[Any]:
        if "slow" in xs:
            time.sleep(1)
        return [[x, len(xs), os.getpid()] for x in xs]
