"""The allocator setting every model process makes: freed batches stay in the process."""

import subprocess
import sys

import pytest

FAULTS = """
import resource, sys
import numpy as np
from core.allocator import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
for _ in range(2):
    block = np.ones(40 * 2**20 // 8); del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    block = np.ones(40 * 2**20 // 8); del block
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def page_faults_per_block(mode: str) -> float:
    """Page faults of allocating, filling and freeing a 40 MB array, after two warm-up rounds."""
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
    return float(out.stdout)


@pytest.mark.unit
def test_a_freed_batch_is_reused_without_faulting_its_pages_in_again() -> None:
    assert page_faults_per_block("default") > 100  # glibc maps each block afresh and unmaps it
    assert page_faults_per_block("tuned") < 5
