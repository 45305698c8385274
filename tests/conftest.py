"""Shared test set-up: float64 enabled so that references and float64 paths are exact."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
