"""Shared test set-up: float64 enabled so that references and float64 paths are exact; offline."""

import os

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)
os.environ["JAXRSA_OFFLINE"] = "1"  # no test may download a dataset


@pytest.fixture
def rng():
    return np.random.default_rng(0)
