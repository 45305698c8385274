"""RSA's forms: rsatoolbox's comparators, precomputed RDMs, exact ties, and the prepared-vector
layout that the permutation test and the bootstrap rely on."""

import dataclasses
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

import jaxrsa
from jaxrsa import measures
from jaxrsa.first_order import Metric
from tests import references as ref

COMPARATORS = ["kendall", "tau_a", "rho_a", "corr_cov", "cosine_cov", "bures"]
TRIANGLE = ["pearson", "spearman", "cosine", *COMPARATORS]


def inputs(n=12):
    """Deterministic inputs (no RNG stream to change between NumPy versions)."""
    i = np.arange(1, n + 1)[:, None]
    x = np.sin(0.7 * i * np.arange(1, 6) + 0.3)
    y = np.tanh(x @ np.cos(np.arange(20).reshape(5, 4))) + 0.3 * np.cos(1.3 * i * np.arange(1, 5))
    xi = np.floor(2.5 * np.sin(1.1 * i * np.arange(1, 4)))  # integer data: tied distances
    mix = np.array([[1.0, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]])
    yi = xi @ mix + np.floor(1.5 * np.cos(0.9 * i * np.arange(1, 5)))
    return x, y, xi, yi


# rsatoolbox 0.3.2, `rsatoolbox.rdm.compare(pdist(x, metric)[None], pdist(y, metric)[None],
# method)` on `inputs()` (x, y for correlation; xi, yi for sqeuclidean).
RSATOOLBOX = {
    ("correlation", "kendall"): 0.34265734265734266,
    ("correlation", "tau_a"): 0.34265734265734266,
    ("correlation", "rho_a"): 0.44523536165327204,
    ("correlation", "corr_cov"): 0.5328089850072975,
    ("correlation", "cosine_cov"): 0.6309935355521001,
    ("correlation", "bures"): 0.6995364182815135,
    ("sqeuclidean", "kendall"): 0.511961043939995,
    ("sqeuclidean", "tau_a"): 0.5002331002331002,
    ("sqeuclidean", "rho_a"): 0.6825174825174826,
    ("sqeuclidean", "corr_cov"): 0.7023442772478797,
    ("sqeuclidean", "cosine_cov"): 0.7725320955302556,
    ("sqeuclidean", "bures"): 0.8863876235861855,
}


@pytest.mark.parametrize("metric, second", list(RSATOOLBOX))
def test_rsatoolbox_values(metric, second):
    x, y, xi, yi = inputs()
    a, b = (xi, yi) if metric == "sqeuclidean" else (x, y)
    got = float(jaxrsa.similarity(a, b, measures.RSA(metric, second)))
    # Bures is ill-conditioned for kernels of rank below n - 1 (here d < n): rounding-level
    # eigenvalues move it by about sqrt(eps), in rsatoolbox as in any float64 computation
    tol = 1e-7 if second == "bures" else 1e-10
    assert abs(got - RSATOOLBOX[metric, second]) <= tol
    # the independent reference agrees, so the pinned numbers are not a copy of jaxrsa's
    assert abs(ref.rdm_comparison(pdist(a, metric), pdist(b, metric), second) - got) <= tol


@pytest.mark.parametrize(
    "second, dtype",
    [(s, np.float64) for s in COMPARATORS] + [(s, np.float32) for s in ("kendall", "bures")],
)
def test_comparators_match_reference_and_registry(rng, second, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-7 if second == "bures" else 1e-10
    x = rng.normal(size=(25, 6))
    y = np.tanh(x @ rng.normal(size=(6, 5))) + 0.5 * rng.normal(size=(25, 5))
    expected = ref.rdm_comparison(pdist(x, "correlation"), pdist(y, "correlation"), second)
    got = jaxrsa.similarity(x.astype(dtype), y.astype(dtype), f"rsa_{second}")
    assert got.dtype == dtype
    assert abs(float(got) - expected) <= tol
    assert 0.1 < expected < 0.99  # a wrong comparator would be caught
    assert measures.get(f"rsa_{second}") == measures.RSA("correlation", second)


@pytest.mark.parametrize("metric", ["correlation", "cosine", "sqeuclidean", "euclidean"])
@pytest.mark.parametrize("d", [4, 20])
def test_bures_every_metric(rng, metric, d):
    """The metric's kernel factor (d < n and d > n) and the eigendecomposition (Euclidean)
    give the reference's value."""
    x = rng.normal(size=(15, d))
    y = np.tanh(x[:, :3] @ rng.normal(size=(3, 5))) + 0.5 * rng.normal(size=(15, 5))
    expected = ref.rdm_comparison(pdist(x, metric), pdist(y, metric), "bures")
    got = float(jaxrsa.similarity(x, y, measures.RSA(metric, "bures")))
    assert abs(got - expected) <= 1e-7
    assert 0.1 < expected < 0.99


@pytest.mark.parametrize("second", ["kendall", "bures"])
def test_all_pairs_equal_double_loop(rng, second):
    reps = {f"m{i}": rng.normal(size=(9, 3 + i)) for i in range(3)}
    measure = measures.RSA("euclidean", second)
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure, block_size=2))
    loop = [[float(jaxrsa.similarity(a, b, measure)) for b in reps.values()] for a in reps.values()]
    np.testing.assert_allclose(got, loop, atol=1e-12)


# ------------------------------------------------------------------- precomputed RDMs


@pytest.mark.parametrize("second", ["pearson", "spearman", "kendall", "corr_cov", "bures"])
def test_precomputed_equals_activations(rng, second):
    x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 6))
    dx, dy = np.asarray(jaxrsa.rdm(x, "euclidean")), np.asarray(jaxrsa.rdm(y, "euclidean"))
    got = float(jaxrsa.similarity(dx, dy, measures.RSA("precomputed", second)))
    expected = ref.rdm_comparison(pdist(x), pdist(y), second)
    assert abs(got - expected) <= (1e-7 if second == "bures" else 1e-10)


def test_model_rdms_against_brain_rdms(rng):
    rdms = np.stack([squareform(pdist(rng.normal(size=(8, 3)))) for _ in range(4)])
    brain = squareform(rng.uniform(size=28))
    measure = measures.RSA(first="precomputed", second="spearman")
    got = np.asarray(jaxrsa.similarity_matrix(rdms, [brain], measure=measure))
    expected = [[stats.spearmanr(squareform(r), squareform(brain))[0]] for r in rdms]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def _asymmetric(d):
    d = d.copy()
    d[1, 4] += 0.1
    return d


def _diagonal(d):
    d = d.copy()
    d[3, 3] = 0.2
    return d


def _nan(d):
    d = d.copy()
    d[2, 5] = d[5, 2] = np.nan
    return d


@pytest.mark.parametrize(
    "spoil, match",
    [
        (lambda d: d[:, :-1], r"'brain'\]: .*must be square \[n, n\], got shape \[6, 5\]"),
        (
            _asymmetric,
            r"'brain'\]: .*not symmetric: entries \((1, 4|4, 1)\) and \((4, 1|1, 4)\) differ",
        ),
        (_diagonal, r"'brain'\]: .*non-zero diagonal at entry \(3, 3\)"),
        (_nan, r"'brain'\]: .*non-finite value"),
    ],
)
def test_precomputed_bad_rdm_is_named(rng, spoil, match):
    good = squareform(pdist(rng.normal(size=(6, 2))))
    reps = {"model": good, "brain": spoil(good)}
    with pytest.raises(ValueError, match=match):
        jaxrsa.similarity_matrix(reps, measure=measures.RSA("precomputed", "pearson"))


def test_precomputed_accepts_rounding_asymmetry(rng):
    d = squareform(pdist(rng.normal(size=(7, 3))))
    noisy = d * (1 + 1e-16 * rng.normal(size=d.shape))
    np.fill_diagonal(noisy, 0.0)
    measure = measures.RSA("precomputed", "pearson")
    assert float(jaxrsa.similarity(noisy, d, measure)) == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------- exact ties (issue 14)


@pytest.mark.parametrize(
    "second, metric, dtype",
    [
        ("spearman", "sqeuclidean", np.float32),
        ("spearman", "euclidean", np.float64),
        ("kendall", "sqeuclidean", np.float32),
        ("rho_a", "euclidean", np.float64),
    ],
)
def test_ranks_of_integer_data_tie_exactly(rng, dtype, metric, second):
    x = rng.integers(-3, 4, size=(40, 5))
    y = x[:, :3] + rng.integers(-1, 2, size=(40, 3))
    a, b = pdist(x.astype(np.float64), metric), pdist(y.astype(np.float64), metric)
    assert len(np.unique(a)) < len(a) // 4  # many true ties
    got = float(jaxrsa.similarity(x.astype(dtype), y.astype(dtype), measures.RSA(metric, second)))
    # float32 rounds the coefficient itself; a broken tie would move it by about 1e-4
    assert abs(got - ref.rdm_comparison(a, b, second)) <= (1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["rsa_spearman", "rsa_kendall"])
def test_ranks_of_repeated_patterns_tie_exactly(rng, dtype, name):
    """Correlation distances of repeated examples: exact distances from the distinct patterns."""
    bx, by = rng.normal(size=(5, 8)), rng.normal(size=(5, 6)) * 10.0 + 3.0
    which = rng.integers(0, 5, size=30)
    i, j = np.triu_indices(30, 1)
    exact = [squareform(pdist(b, "correlation"))[which[i], which[j]] for b in (bx, by)]
    got = jaxrsa.similarity(bx[which].astype(dtype), by[which].astype(dtype), name)
    expected = ref.rdm_comparison(*exact, name.removeprefix("rsa_"))
    assert abs(float(got) - expected) <= (1e-6 if dtype == np.float32 else 1e-12)


def test_ranks_at_extreme_magnitudes(rng):
    x, y = rng.normal(size=(15, 4)), rng.normal(size=(15, 3))
    base = float(jaxrsa.similarity(x, y, "rsa_spearman"))
    for scale in (1e20, 1e-20):
        x32 = (x * scale).astype(np.float32)
        assert float(jaxrsa.similarity(x32, y.astype(np.float32), "rsa_spearman")) == pytest.approx(
            base, abs=1e-6
        )


# ------------------------------------------------------------------- layout of prepared vectors


class Cityblock(Metric):
    """A user's metric: only its full matrix is written."""

    name, degree, translation_invariant = "cityblock", 1, True

    def matrix(self, x):
        return jnp.sum(jnp.abs(x[:, None, :] - x[None, :, :]), axis=-1)


CONFIGS = [
    *[n for n in measures.names() if n.startswith("rsa")],
    *[
        measures.RSA(k, s)
        for k in ("cosine", "correlation", "dot", "rbf")
        for s in ("rowwise_pearson", "rowwise_cosine")
    ],
    *[measures.RSA(k, "rowwise_pearson", diagonal=True) for k in ("dot", "rbf")],
    # every metric, every comparison (the registry names cover "correlation" with each)
    *[measures.RSA("euclidean", s) for s in ("pearson", "kendall")],
    *[measures.RSA("sqeuclidean", s) for s in ("spearman", "corr_cov")],
    *[measures.RSA("cosine", s) for s in ("cosine", "rho_a", "bures")],
    *[measures.RSA("precomputed", s) for s in ("tau_a", "cosine_cov", "spearman")],
    measures.RSA(Cityblock(), "spearman"),
    measures.RSA(Cityblock(), "pearson"),
]


def _as_input(measure, x):
    precomputed = getattr(measure, "first", None) == "precomputed"
    return np.asarray(jaxrsa.rdm(x, "euclidean")) if precomputed else x


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_prepare_commutes_with_permutations_and_resamples(rng, config):
    measure = measures.get(config)
    n = 7
    x = _as_input(measure, rng.normal(size=(n, 4)))
    same = measure.prepare_resampled(x, jnp.arange(n))
    for a, b in zip(jax.tree.leaves(same), jax.tree.leaves(measure.prepare(x)), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-14)
    if not isinstance(measure, measures.GramMeasure):
        return
    prepared = np.asarray(measure.prepare(x))
    perm = rng.permutation(n)
    xp = x[perm][:, perm] if getattr(measure, "first", None) == "precomputed" else x[perm]
    i, j = measure.example_pairs(n)
    where = {(a, b): k for k, (a, b) in enumerate(zip(i.tolist(), j.tolist(), strict=True))}
    gather = [
        where.get((perm[a], perm[b]), where.get((perm[b], perm[a])))
        for a, b in zip(i, j, strict=True)
    ]
    np.testing.assert_allclose(np.asarray(measure.prepare(xp)), prepared[gather], atol=1e-12)


@pytest.mark.parametrize("config", ["rsa", "rsa_pearson", "rsa_spearman", "rsa_rho_a"])
def test_resampled_copies_are_left_out(rng, config):
    measure = measures.get(config)
    idx = jnp.array([0, 1, 1, 2, 3, 4, 4, 5])
    x = rng.normal(size=(8, 3))
    prepared = np.asarray(measure.prepare_resampled(x, idx))
    i, j = measure.example_pairs(8)
    copies = np.asarray(idx)[i] == np.asarray(idx)[j]
    assert copies.any() and np.all(prepared[copies] == 0)
    assert np.all(np.isfinite(prepared))


# ------------------------------------------------------------------- objects and options


def test_objects_pickle_and_replace():
    for m in (
        measures.RSA(),
        measures.RSA("euclidean", "kendall"),
        measures.RSA("cosine", "cosine_cov"),
    ):
        assert pickle.loads(pickle.dumps(m)) == m
    assert dataclasses.replace(measures.RSA(), first="dot") == measures.RSA("dot")
    assert repr(measures.get("rsa_bures")) == (
        "RSA(first='correlation', second='bures', threshold=0.5, diagonal=False)"
    )


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: measures.RSA(second="nope"), ValueError, "unknown second-order comparison 'nope'"),
        (
            lambda: measures.RSA("precomputed"),
            ValueError,
            "first-order kernel for 'rowwise_pearson'",
        ),
        (lambda: measures.RSA("dot", "kendall"), ValueError, "first-order metric for 'kendall'"),
        (lambda: measures.RSA("euclidean", "bures", diagonal=True), ValueError, "row-wise"),
        (lambda: measures.RSA("euclidean", "bures", diagonal=1), TypeError, "True or False"),
    ],
)
def test_bad_options(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("p", [1, 2, 3, 17, 64, 1000])
@pytest.mark.parametrize("levels", [2, 50, None])
def test_inversions_count_strictly_greater_earlier_values(rng, p, levels):
    """The radix count of inversions against the O(p^2) definition, with many, some and no
    ties, at sizes that are and are not powers of two."""
    from jaxrsa.measures import _rsa

    v = rng.integers(0, levels, p) if levels else rng.permutation(p)
    r = _rsa.ranked(jnp.asarray(v, jnp.float32))
    got = jax.jit(_rsa.inversions, static_argnums=2)(r.ranks, r.below, jnp.float32)
    assert float(got) == sum(int(np.sum(v[:k] > v[k])) for k in range(p))
    # the dense ranks keep the order and the ties of the values; `order` sorts them
    assert np.array_equal(np.asarray(r.ranks), np.unique(v, return_inverse=True)[1])
    assert np.array_equal(v[np.asarray(r.order)], np.sort(v))
    assert int(r.longest) == np.max(np.unique(v, return_counts=True)[1])


@pytest.mark.parametrize("levels", [(3, 3), (3, 400), (400, 3), (20, 30), (None, None)])
def test_discordant_and_joint_ties_every_path(rng, levels):
    """Discordant pairs and joint ties against the O(p^2) definitions, on each path: long runs
    on both sides (sort), short runs on one side or the other (counted inside runs), none."""
    from jaxrsa.measures import _rsa

    p = 700
    a, b = (rng.integers(0, k, p) if k else rng.permutation(p) for k in levels)
    sign = np.sign(a[:, None] - a[None, :]) * np.sign(b[:, None] - b[None, :])
    upper = np.triu(np.ones((p, p), bool), 1)
    tied = (a[:, None] == a[None, :]) & (b[:, None] == b[None, :])
    ra, rb = (_rsa.ranked(jnp.asarray(v, jnp.float32)) for v in (a, b))
    dis, joint = jax.jit(_rsa.discordant, static_argnums=2)(ra, rb, jnp.float32)
    assert float(dis) == np.sum((sign < 0) & upper)
    assert float(joint) == np.sum(tied & upper)


def test_kendall_refuses_gradients(rng):
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    with pytest.raises(TypeError, match="not differentiable"):
        jax.grad(lambda a: measures.get("rsa_kendall")(a, y))(x)


def test_constant_rdm_is_undefined_for_kendall_only():
    eq = np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]])  # every dissimilarity equal
    other = np.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]])
    with pytest.raises(ValueError, match="x: .*dissimilarities are equal"):
        jaxrsa.similarity(eq, other, measures.RSA("precomputed", "kendall"))
    assert float(jaxrsa.similarity(eq, other, measures.RSA("precomputed", "tau_a"))) == 0.0
