"""rdm and rsm against SciPy, batched == loop, dtype, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist

import jaxrsa
from jaxrsa import first_order
from jaxrsa._numerics import triangle_indices
from tests import references as ref

METRICS = ["euclidean", "sqeuclidean", "correlation", "cosine"]
KERNELS = ["dot", "cosine", "correlation", "rbf"]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_rdm_matches_scipy(rng, metric, dtype, tol):
    x = rng.normal(size=(23, 7)) + 0.5
    expected = ref.rdm(x, metric)
    got = jaxrsa.rdm(x.astype(dtype), metric)
    assert got.dtype == dtype
    scale = np.abs(expected).max()
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=tol * scale)
    assert np.array_equal(np.asarray(got), np.asarray(got).T)
    assert np.all(np.diag(np.asarray(got)) == 0)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_rsm_matches_reference(rng, kernel, dtype, tol):
    x = rng.normal(size=(24, 6)) - 0.3
    expected = ref.rsm(x, kernel)
    got = np.asarray(jaxrsa.rsm(x.astype(dtype), kernel))
    np.testing.assert_allclose(got, expected, rtol=0, atol=tol * np.abs(expected).max())
    assert np.array_equal(got, got.T)


@pytest.mark.parametrize("n", [5, 6])  # odd and even n^2: the median has one or two middles
@pytest.mark.parametrize("threshold", [0.5, 1.7])
def test_rbf_bandwidth_uses_median_of_all_entries(rng, n, threshold):
    x = rng.normal(size=(n, 3))
    got = jaxrsa.rsm(x, "rbf", threshold=threshold)
    np.testing.assert_allclose(np.asarray(got), ref.rbf_gram(x, threshold), rtol=1e-12)


def test_batched_equals_loop(rng):
    x = rng.normal(size=(4, 12, 5))
    for fn, option in [(jaxrsa.rdm, "correlation"), (jaxrsa.rsm, "rbf")]:
        batched = np.asarray(fn(x, option))
        looped = np.stack([np.asarray(fn(xi, option)) for xi in x])
        np.testing.assert_allclose(batched, looped, rtol=1e-12, atol=1e-14)


def test_integer_input_gives_default_float():
    x = np.arange(12).reshape(4, 3) ** 2
    assert jaxrsa.rdm(x, "euclidean").dtype == jnp.result_type(float)


def test_jit_and_grad_compose(rng):
    x = jnp.asarray(rng.normal(size=(8, 3)))
    f = jax.jit(lambda a: first_order.CorrelationDistance().matrix(a).sum())
    g = jax.grad(f)(x)
    assert np.all(np.isfinite(np.asarray(g)))


@pytest.mark.parametrize(
    "name, obj",
    [
        ("euclidean", first_order.Euclidean()),
        ("sqeuclidean", first_order.SqEuclidean()),
        ("correlation", first_order.CorrelationDistance()),
        ("cosine", first_order.CosineDistance()),
    ],
)
def test_metric_objects_equal_names_and_give_their_triangle(rng, name, obj):
    x = rng.normal(size=(9, 4)) + 0.3
    full = np.asarray(jaxrsa.rdm(x, obj))
    np.testing.assert_array_equal(full, np.asarray(jaxrsa.rdm(x, name)))
    i, j = triangle_indices(9)
    np.testing.assert_allclose(np.asarray(obj.triangle(jnp.asarray(x))), full[i, j], atol=1e-13)
    # `ordinal` ranks as the triangle does
    np.testing.assert_array_equal(
        stats.rankdata(np.asarray(obj.ordinal(jnp.asarray(x)))), stats.rankdata(full[i, j])
    )


def test_kernel_objects_equal_names(rng):
    x = rng.normal(size=(9, 4))
    np.testing.assert_array_equal(
        np.asarray(jaxrsa.rsm(x, first_order.RBF(1.3))),
        np.asarray(jaxrsa.rsm(x, "rbf", threshold=1.3)),
    )
    np.testing.assert_array_equal(
        np.asarray(jaxrsa.rsm(x, first_order.Dot())), np.asarray(jaxrsa.rsm(x, "dot"))
    )


def test_user_metric_serves_rdm_and_rsa(rng):
    class Cityblock(first_order.Metric):
        name, degree, translation_invariant = "cityblock", 1, True

        def matrix(self, x):
            return jnp.sum(jnp.abs(x[:, None, :] - x[None, :, :]), axis=-1)

    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 5))
    np.testing.assert_allclose(
        np.asarray(jaxrsa.rdm(x, Cityblock())), ref.rdm(x, "cityblock"), atol=1e-12
    )
    got = float(jaxrsa.similarity(x, y, jaxrsa.measures.RSA(Cityblock(), "spearman")))
    expected = stats.spearmanr(pdist(x, "cityblock"), pdist(y, "cityblock"))[0]
    assert abs(got - expected) <= 1e-12


@pytest.mark.parametrize("metric, degree", [("cosine", 0), ("correlation", 0), ("euclidean", 1)])
@pytest.mark.parametrize("scale", [1e20, 1e-20])
def test_any_finite_magnitude(rng, metric, degree, scale):
    """Issue 14: rescaled per model before the products, so 1e20 is not all ones or inf."""
    x = rng.normal(size=(3, 10, 4)).astype(np.float32)
    expected = np.asarray(jaxrsa.rdm(x, metric)) * np.float32(scale) ** degree
    got = np.asarray(jaxrsa.rdm(x * np.float32(scale), metric))
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6 * np.abs(expected).max())
    k = np.asarray(jaxrsa.rsm(x * np.float32(scale), "cosine"))
    np.testing.assert_allclose(k, np.asarray(jaxrsa.rsm(x, "cosine")), atol=2e-6)


def test_overflow_is_an_error(rng):
    x = rng.normal(size=(5, 3)).astype(np.float32) * np.float32(1e20)
    with pytest.raises(ValueError, match="x: its distance overflows float32"):
        jaxrsa.rdm(x, "sqeuclidean")


def test_precomputed_checks_its_matrix(rng):
    d = ref.rdm(rng.normal(size=(5, 2)), "euclidean")
    np.testing.assert_array_equal(np.asarray(jaxrsa.rdm(d, first_order.Precomputed())), d)
    bad = d.copy()
    bad[0, 2] += 1.0
    with pytest.raises(ValueError, match=r"model 1: the precomputed RDM is not symmetric"):
        jaxrsa.rdm(np.stack([d, bad]), first_order.Precomputed())


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: jaxrsa.rdm(x[0, 0]), r"expected \[n, d\]"),
        (lambda x: jaxrsa.rdm(x[None]), r"expected \[n, d\]"),
        (lambda x: jaxrsa.rdm(x[0], "manhattan"), "unknown metric 'manhattan'.*'euclidean'"),
        (lambda x: jaxrsa.rsm(x[0], "linear"), "unknown kernel 'linear'.*'dot'"),
        (lambda x: jaxrsa.rsm(x[0], "rbf", threshold=0), "threshold must be"),
        (lambda x: jaxrsa.rdm(x[0, :1]), "at least 2 examples"),
        (
            lambda x: jaxrsa.rdm(np.where(np.arange(4)[:, None] == 2, np.nan, x[0])),
            "non-finite.*example 2",
        ),
        (lambda x: jaxrsa.rdm(x.at[1, 3].set(0.0), "cosine"), "model 1: example 3 has zero norm"),
        (lambda x: jaxrsa.rdm(x[0].at[2].set(7.0)), "x: example 2 is constant across features"),
        (lambda x: jaxrsa.rdm(x[0], 3), "unknown metric 3"),
        (lambda x: jaxrsa.rsm(jnp.ones((4, 3)), "rbf"), "median squared distance is zero"),
        (lambda x: jaxrsa.rdm("abc"), "expected"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 3)))
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)


def test_euclidean_derivative_is_finite_at_coinciding_examples(rng):
    """The diagonal (and any two equal examples) is a zero of sqrt: the derivative there is 0,
    elsewhere (x_i - x_j) / ||x_i - x_j|| per entry."""
    x = rng.normal(size=(6, 3))
    w = rng.normal(size=(6, 6))
    metric = first_order.Euclidean()
    grad = jax.grad(lambda z: jnp.sum(w * metric.matrix(z)))(jnp.asarray(x))
    diff = x[:, None, :] - x[None, :, :]
    dist = np.linalg.norm(diff, axis=-1)
    unit = np.where(dist[..., None] > 0, diff / np.where(dist > 0, dist, 1)[..., None], 0)
    expected = np.einsum("ij,ijk->ik", w + w.T, unit)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-9, atol=1e-12)
    x[5] = x[4]
    grad = jax.grad(lambda z: jnp.sum(metric.triangle(z)))(jnp.asarray(x))
    assert np.isfinite(np.asarray(grad)).all()
