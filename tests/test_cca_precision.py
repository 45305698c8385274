"""Float32 CCA, CCA r2 and PWCCA against float64 on ill-conditioned activations.

Weak directions count as much as strong ones, so each model's rank must be decided below its
weakest real direction: float32 stays within 1e-4 of float64 (the same float32 values computed in
float64, and an independent NumPy reference) for condition numbers up to 1e5, dead units included,
while float32 rounding noise still counts as rank deficiency.
"""

import jax
import numpy as np
import pytest

import jaxrsa
from jaxrsa import measures
from tests import references_alignment as aref

N, D = 1000, 64
NAMES = ["cca", "cca_r2", "pwcca"]


def spectrum(rng, cond, n=N, d=D):
    """`[n, d]` activations U diag(s) V^T, s log-spaced from 1 to 1 / cond."""
    u = np.linalg.qr(rng.normal(size=(n, d)))[0]
    v = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return (u * np.logspace(0, -np.log10(cond), d)) @ v.T


def gaussian(rng, cond):
    """x of condition number `cond`; y a noisy linear map of it."""
    x = spectrum(rng, cond)
    y = x @ rng.normal(size=(D, D)) + 0.3 * np.std(x) * rng.normal(size=(N, D))
    return x, y


def relu(rng, cond):
    """ReLU units with log-spaced magnitudes (condition number about 1.5 `cond`) and an eighth of
    them dead; y a ReLU of a noisy linear map of x, with its own dead units."""
    z = rng.normal(size=(N, D)) @ rng.normal(size=(D, D)) / np.sqrt(D)
    x = np.maximum(z + 0.5, 0) * np.logspace(0, -np.log10(cond), D)
    x[:, rng.permutation(D)[: D // 8]] = 0.0
    y = np.maximum(x @ rng.normal(size=(D, D)) + 0.1 * np.std(x) * rng.normal(size=(N, D)), 0)
    y[:, : D // 8] = 0.0
    return x, y


def reference(name, x, y):
    """Independent float64 value on the live (not all-zero) features; PWCCA weighs every neuron."""
    live_x, live_y = x[:, x.any(axis=0)], y[:, y.any(axis=0)]
    if name == "pwcca":
        return aref.pwcca(live_x, live_y, neurons=x)
    return getattr(aref, name)(live_x, live_y)


def float32_pair(make, cond):
    rng = np.random.default_rng(int(np.log10(cond)))
    return tuple(a.astype(np.float32) for a in make(rng, cond))


@pytest.mark.parametrize("cond", [1e3, 1e4, 1e5])
@pytest.mark.parametrize("make", [gaussian, relu])
def test_float32_within_1e_4_of_float64(make, cond):
    x, y = float32_pair(make, cond)
    for name in NAMES:
        single = float(jaxrsa.similarity(x, y, name))
        double = float(jaxrsa.similarity(x.astype(np.float64), y.astype(np.float64), name))
        expected = reference(name, x, y)
        assert abs(double - expected) <= 1e-6, (name, double, expected)
        assert abs(single - double) <= 1e-4, (name, single, double)


def test_float32_rounding_noise_is_not_a_direction(rng):
    """Features computed in float32 from others are independent only by rounding (about eps |x|):
    the float64 basis still sees the distinct features alone."""
    x = spectrum(rng, 1e3, n=200, d=8).astype(np.float32)
    y = (x @ rng.normal(size=(8, 6)) + 0.01 * rng.normal(size=(200, 6))).astype(np.float32)
    wide = np.hstack([x, x[:, :3] @ rng.normal(size=(3, 4)).astype(np.float32)])
    assert np.linalg.matrix_rank(wide.astype(np.float64), tol=1e-12) == 12  # rounding noise
    for name, expected in [
        ("cca", aref.cca(x, y)),
        ("cca_r2", aref.cca_r2(x, y)),
        ("pwcca", aref.pwcca(x, y, neurons=wide)),
    ]:
        assert abs(float(jaxrsa.similarity(wide, y, name)) - expected) <= 1e-5, name


@pytest.mark.parametrize("x64", [True, False])
def test_basis_dtype_follows_the_input(rng, x64):
    x = rng.normal(size=(50, 6)).astype(np.float32)
    with jax.enable_x64(x64):
        assert measures.CCA().prepare(x).q.dtype == np.float32
        prepared = measures.PWCCA().prepare(x)
        assert prepared.q.dtype == prepared.coords.dtype == np.float32
        assert jaxrsa.similarity(x, x[:, ::-1], "cca").dtype == np.float32


def test_without_float64_moderate_condition_numbers_are_unchanged():
    """The float32 SVD (x64 disabled) drops directions below s_max max(n, d) eps (1.2e-4 s_max
    here), so up to a condition number of about 8e3 it agrees with float64 too."""
    x, y = float32_pair(gaussian, 1e3)
    double = float(jaxrsa.similarity(x.astype(np.float64), y.astype(np.float64), "cca"))
    with jax.enable_x64(False):
        single = float(jaxrsa.similarity(x, y, "cca"))
    assert abs(single - double) <= 1e-4
