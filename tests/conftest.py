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
