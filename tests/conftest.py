"""Shared test set-up: float64 enabled so that references and float64 paths are exact; offline."""

import os
from pathlib import Path

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)
os.environ["JAXRSA_OFFLINE"] = "1"  # no test may download a dataset
# pytest-xdist workers (started after this file is read) must collect the same tests in the same
# order: fix the string hash seed, which orders sets used to parametrize
os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# Each XLA:CPU executable holds a few memory mappings, and a pytest-xdist worker lives for hundreds
# of tests: one reached 60,000 of Linux's 65,530 (`vm.max_map_count`), and the next compilation
# segfaulted inside LLVM. Clearing JAX's caches unmaps them (3,196 -> 520 measured).
MAPPINGS = Path("/proc/self/maps")
MAX_MAPPINGS = 20_000


@pytest.fixture(autouse=True)
def _free_compiled_programs():
    """After a test, drop JAX's compiled programs once the process holds many mappings."""
    yield
    if MAPPINGS.exists():
        with MAPPINGS.open("rb") as f:
            if sum(1 for _ in f) > MAX_MAPPINGS:
                jax.clear_caches()
