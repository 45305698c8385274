"""Scale in examples and magnitude: linear CKA in feature space equals the Gram path and an
independent reference, the engine picks the path by cost, and every scale-invariant measure gives
the same value at any finite magnitude (float64 offsets keep their signal)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrsa
from jaxrsa import _inputs, measures
from jaxrsa._pairwise import _engine, _features


def feature_cka_reference(x, y, debiased):
    """Kornblith et al.'s feature-space linear CKA (their `feature_space_linear_cka`), float64."""
    x, y = (np.asarray(a, np.float64) - np.mean(a, axis=0) for a in (x, y))
    n = len(x)

    def hsic(a, b):
        value = np.linalg.norm(a.T @ b) ** 2
        if debiased:
            ra, rb = np.sum(a * a, axis=1), np.sum(b * b, axis=1)
            value += -n / (n - 2) * ra @ rb + ra.sum() * rb.sum() / ((n - 1) * (n - 2))
        return value

    return hsic(x, y) / np.sqrt(hsic(x, x) * hsic(y, y))


def models(rng, n=40, widths=(3, 8, 5)):
    base = rng.normal(size=(n, 4))
    return [np.tanh(base @ rng.normal(size=(4, w))) + 0.3 * rng.normal(size=(n, w)) for w in widths]


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("budget", [None, 20_000])  # 20 kB: blocks of 4, panels of 5 rows
def test_feature_path_equals_gram_path_and_reference(rng, debiased, budget):
    reps = models(rng, n=41, widths=(3, 8, 5, 7, 2, 6, 4))
    gram = measures.CKA(debiased=debiased)
    job = _engine.job(gram, _inputs.as_reps(reps), None, 3, budget, None, "float32")
    assert isinstance(job.plan, _features.Plan)
    if budget is not None:  # panels that do not divide n, blocks that do not divide m
        assert 41 % job.plan.rows and len(job.plan.blocks) == 3
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=gram, block_size=3,
                                              memory_budget=budget))  # fmt: skip
    by_gram = np.array([[float(jax.jit(gram)(x, y)) for y in reps] for x in reps])
    expected = np.array([[feature_cka_reference(x, y, debiased) for y in reps] for x in reps])
    np.testing.assert_allclose(got, by_gram, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.diag(got), 1.0, atol=1e-15)
    cross = jaxrsa.similarity_matrix(reps[:3], reps[2:], measure=gram, memory_budget=budget)
    np.testing.assert_allclose(np.asarray(cross), expected[:3, 2:], rtol=0, atol=1e-12)


def test_feature_path_float32_stays_close(rng):
    reps = [r.astype(np.float32) for r in models(rng, n=200)]
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure="cka_debiased"))
    expected = np.array([[feature_cka_reference(x, y, True) for y in reps] for x in reps])
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize(
    "n, width, m, feature",
    [(1000, 16, 8, True), (50, 500, 4, False), (8500, 256, 1, True), (200, 8, 500, True)],
)
def test_engine_picks_the_path_by_cost(n, width, m, feature):
    reps = _inputs.as_reps([jax.ShapeDtypeStruct((n, width), jnp.float32)] * m)
    job = _engine.job(measures.CKA(), reps, None, None, None, None, "float32")
    assert isinstance(job.plan, _features.Plan) == feature
    gram = _engine.job(measures.CKA(kernel="rbf"), reps, None, None, 2**40, None, "float32")
    assert not isinstance(gram.plan, _features.Plan)  # no feature form


def test_progress_says_which_path(rng, capsys):
    reps = models(rng)
    jaxrsa.similarity_matrix(reps, measure="cka", progress=True)
    jaxrsa.similarity_matrix(reps, measure="rsa", progress=True)
    err = capsys.readouterr().err
    assert "cka (feature space)" in err and "rsa (prepared vectors)" in err


def test_large_n_needs_no_n_by_n_budget(rng):
    """n = 8,500 failed with the default budget when CKA prepared n x n Grams."""
    x = rng.normal(size=(8500, 16)).astype(np.float32)
    y = x @ rng.normal(size=(16, 16)).astype(np.float32)
    value = float(jaxrsa.similarity(x, y, "cka"))
    np.testing.assert_allclose(value, feature_cka_reference(x, y, False), atol=1e-5)


# ------------------------------------------------------------------------------ magnitude

INVARIANT = [name for name in measures.names() if measures.get(name).scale_invariant]


@pytest.mark.parametrize("name", INVARIANT)
def test_scale_invariant_measures_ignore_magnitude(rng, name):
    x, y = (r.astype(np.float32) for r in models(rng, n=30, widths=(6, 9)))
    plain = float(jaxrsa.similarity(x, y, name))
    for scale in (1e20, 1e-20, 2.0**100):
        scaled = float(jaxrsa.similarity(x * np.float32(scale), y, name))
        np.testing.assert_allclose(scaled, plain, rtol=0, atol=2e-5, err_msg=f"{scale}")


def test_every_builtin_measure_declares_scale_invariance():
    assert set(INVARIANT) >= {"rsa", "cka", "cka_debiased", "cka_rbf", "cca", "procrustes"}


@pytest.mark.parametrize("name", ["cka", "cca", "procrustes"])
def test_float64_offset_is_centred_before_the_float32_cast(rng, name):
    x, y = models(rng, n=60, widths=(6, 9))
    exact = float(jaxrsa.similarity(x, y, name))  # float64 throughout (x64 is on in the tests)
    with jax.enable_x64(False):
        shifted = float(jaxrsa.similarity(x + 1e7, y, name))  # float64 data, float32 compute
    np.testing.assert_allclose(shifted, exact, rtol=0, atol=2e-4)


@dataclasses.dataclass(frozen=True)
class MeanProduct(measures.Measure):
    """Not scale invariant: the mean of Xc^T Yc (a test measure)."""

    def prepare(self, x):
        return x

    def pair(self, px, py):
        return jnp.mean(px.T @ py)


def test_not_scale_invariant_measure_overflow_is_named(rng):
    x, y = (r.astype(np.float32) for r in models(rng, n=20, widths=(3, 3)))
    assert np.isfinite(float(jaxrsa.similarity(x, y, MeanProduct())))
    with pytest.raises(ValueError, match=r"x: activations up to 1e\+30 .* overflow the float32"):
        jaxrsa.similarity(x / np.abs(x).max() * np.float32(1e30), y, MeanProduct())


def test_float64_beyond_float32_names_the_cast(rng):
    x, y = models(rng, n=20, widths=(3, 3))
    with jax.enable_x64(False), pytest.raises(ValueError, match="overflow the float32"):
        jaxrsa.similarity(x * 1e200, y, MeanProduct())
    with jax.enable_x64(False):
        value = float(jaxrsa.similarity(x * 1e200, y, "cka"))  # scale invariant: rescaled
    np.testing.assert_allclose(value, float(jaxrsa.similarity(x, y, "cka")), atol=1e-6)


def test_feature_path_holds_a_panel_not_the_activations():
    """At n = 100k, m = 16, d = 256 (1.5 GiB of float32 activations) the feature path holds one
    panel of example rows and the cross-covariances, within half the default budget and a small
    share of the activations (planned and compiled on shapes: nothing is computed)."""
    m, n, d = 16, 100_000, 256
    budget = _engine.DEFAULT_MEMORY_BUDGET
    p = _features.plan([[d] * m], n, budget, 4)
    assert len(p.blocks) == 1 and p.steps == (_features.Step(0, 0, "upper"),) and p.rows < n
    z = (jax.ShapeDtypeStruct((p.rows, d), jnp.float32),) * m
    pairs = _features._pairs("upper", m, m)
    memory = _features._products.lower(z, z, pairs).compile().memory_analysis()
    held = sum(getattr(memory, f"{what}_size_in_bytes") for what in ("argument", "output", "temp"))
    assert held <= budget // 2 and held < m * n * d * 4 // 4


def test_feature_path_budget_too_small_names_the_minimum(rng):
    reps = models(rng, n=50, widths=(8, 8, 8))
    with pytest.raises(ValueError, match=r"memory_budget=100 bytes is too small for linear CKA "
                       r"in feature space on models 8 wide: at least \d+ bytes"):  # fmt: skip
        jaxrsa.similarity_matrix(reps, measure="cka", memory_budget=100)
