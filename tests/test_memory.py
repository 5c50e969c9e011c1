"""pin_mmap_threshold: freed model-sized buffers go back to the OS (glibc), so a worker's memory follows its cache."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import pytest

from superlite.common.memory import pin_mmap_threshold

# An LRU of at most 6 buffers of 5-20 MB, 120 loads: resident memory growth over what is held.
CHURN = textwrap.dedent(
    """
    import json, random, sys
    from collections import OrderedDict
    import numpy as np
    from superlite.common.memory import pin_mmap_threshold
    if sys.argv[1] == "pinned":
        assert pin_mmap_threshold()
    def rss():
        return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmRSS:"))
    base, held, growth = rss(), OrderedDict(), []
    rng = random.Random(0)
    for i in range(120):
        held[i] = np.ones(rng.randint(5, 20) * 2**20 // 8)
        while len(held) > 6:
            held.popitem(last=False)
        growth.append((rss() - base) / sum(a.nbytes for a in held.values()))
    print(json.dumps(max(growth[20:])))
    """
)


def peak_ratio(mode: str) -> float:
    result = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout))


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc",
    reason="needs glibc: mallopt(M_MMAP_THRESHOLD) is how workers pin the threshold, and only glibc has it",
)
def test_a_pinned_threshold_keeps_resident_memory_at_what_is_held() -> None:
    assert pin_mmap_threshold()
    assert peak_ratio("pinned") < 1.3
    assert peak_ratio("default") > 1.5  # what workers did before: freed buffers kept in the heap
