"""Shared test set-up: float64 enabled so that references and float64 paths are exact; offline."""

import os

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


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    Each XLA:CPU executable holds a few memory mappings and a pytest-xdist worker lives for
    hundreds of tests: one reached 60,000 of Linux's 65,530 (`vm.max_map_count`), and the next
    compilation segfaulted inside LLVM. Clearing the caches unmaps them.
    """
    yield
    jax.clear_caches()
