"""Tests of the MDS subpackage: SMACOF (metric, weighted, non-metric), classical MDS, Procrustes
alignment and similarity-to-dissimilarity conversion, against float64 NumPy / SciPy /
scikit-learn references. Shapes are shared between tests so that each jit compiles once."""

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from sklearn.isotonic import IsotonicRegression, isotonic_regression
from sklearn.manifold import smacof

import jaxrsa
from jaxrsa._mds import _align, _classical, _convert, _isotonic, _mds, _smacof
from jaxrsa._mds._mds import _fit

M = 20  # points in most tests


# ---------------------------------------------------------------- references and data


def distances(p):
    """Float64 Euclidean distance matrix of the rows of p."""
    p = np.asarray(p, np.float64)
    return np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1))


def np_stress(x, delta, w=None):
    """Raw stress sum_{i<j} w (d - delta)^2 in float64."""
    w = np.ones_like(delta) if w is None else w
    return 0.5 * float((w * (distances(x) - delta) ** 2).sum())


def np_guttman(x, delta, w):
    """Weighted Guttman transform pinv(V) B(X) X in float64."""
    d = distances(x)
    ratio = np.where(d > 0, w * delta / np.where(d > 0, d, 1), 0)
    b = np.diag(ratio.sum(1)) - ratio
    v = np.diag(w.sum(1)) - w
    return np.linalg.pinv(v) @ b @ x


def np_classical(d, k):
    """Torgerson MDS in float64 with the largest-entry-positive sign convention."""
    m = d.shape[0]
    j = np.eye(m) - 1 / m
    evals, evecs = np.linalg.eigh(-0.5 * j @ (d**2) @ j)
    evals, evecs = evals[::-1][:k], evecs[:, ::-1][:, :k]
    evecs = evecs * np.sign(evecs[np.abs(evecs).argmax(0), np.arange(k)])
    return evecs * np.sqrt(np.maximum(evals, 0))


def noisy_problem(rng, m=M, dim=5, noise=0.1):
    """Distances of random dim-D points plus symmetric noise: no exact low-D solution."""
    d = distances(rng.normal(size=(m, dim)))
    n = rng.normal(scale=noise * d.mean(), size=(m, m))
    d = np.abs(d + (n + n.T) / 2)
    np.fill_diagonal(d, 0)
    return d


def tol(dtype):
    """Absolute tolerance for O(1) coordinates and distances."""
    return {np.float32: 1e-4, np.float64: 1e-10}[dtype]


# ---------------------------------------------------------------- public face


def test_public_names():
    names = {"mds", "classical_mds", "procrustes_align", "to_dissimilarity", "MDSResult"}
    assert names | {"MDSStatus"} <= set(jaxrsa.__all__)
    assert jaxrsa.mds is _mds.mds
    assert [s.name for s in jaxrsa.MDSStatus] == ["CONVERGED", "MAX_ITER", "NONFINITE"]


@pytest.mark.parametrize("module", [_align, _classical, _convert, _mds])
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=True).attempted > 0


# ---------------------------------------------------------------- to_dissimilarity


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("method", "ref"),
    [
        ("angular", np.arccos),
        ("sqrt", lambda s: np.sqrt(2 - 2 * s)),
        ("linear", lambda s: 1 - s),
    ],
)
def test_to_dissimilarity(rng, method, ref, dtype):
    v = rng.normal(size=(2, 6, 4))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    s = np.einsum("bik,bjk->bij", v, v)
    s[:, 0, 1] = s[:, 1, 0] = 1.0  # a pair of equal examples
    s_noisy = (s + 2e-7).astype(dtype)  # round-off: 1 + 2e-7 on the diagonal
    d = jaxrsa.to_dissimilarity(s_noisy, method)
    assert d.dtype == dtype and d.shape == s.shape
    d = np.asarray(d)
    assert np.all(np.isfinite(d))
    np.testing.assert_array_equal(d, np.swapaxes(d, -1, -2))
    np.testing.assert_array_equal(np.diagonal(d, axis1=1, axis2=2), 0)
    expect = ref(np.clip(s, -1, 1))
    expect[:, np.arange(6), np.arange(6)] = 0
    np.testing.assert_allclose(d, expect, atol=2e-3)  # arccos, sqrt amplify 2e-7 near s = 1
    off = ~np.eye(6, dtype=bool) & (np.abs(s) < 0.9)  # away from the steep ends
    np.testing.assert_allclose(d[off], expect[off], rtol=1e-5, atol=1e-6)


def test_to_dissimilarity_integer_input():
    d = jaxrsa.to_dissimilarity(np.eye(3, dtype=np.int32), "linear")
    assert d.dtype == jnp.result_type(float)
    np.testing.assert_array_equal(d, 1 - np.eye(3))


@pytest.mark.parametrize(
    ("s", "method", "match"),
    [
        (np.eye(3), "cosine", "method must be one of"),
        (np.ones((3, 4)), "linear", "square"),
        (np.array([[1.0, 0.5], [0.2, 1.0]]), "linear", "not symmetric"),
        (np.array([[1.0, 1.5], [1.5, 1.0]]), "sqrt", r"outside \[-1, 1\]"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "angular", "non-finite"),
    ],
)
def test_to_dissimilarity_errors(s, method, match):
    with pytest.raises(ValueError, match=match):
        jaxrsa.to_dissimilarity(s, method)


@pytest.mark.parametrize("name", ["gulp", "shape_metric", "concentricity_difference"])
def test_to_dissimilarity_of_a_distance_measure_keeps_its_values(rng, name):
    """A distance measure's matrix is already a dissimilarity: kept, whatever the method (a small
    distance read as a similarity would become arccos(d) ~ pi / 2 and map every pair alike)."""
    x = rng.normal(size=(4, 40, 6)) * np.array([1.0, 2.0, 3.0, 4.0])[:, None, None]
    d = np.asarray(jaxrsa.similarity_matrix(x, measure=name))
    for method in ("angular", "linear"):
        got = np.asarray(jaxrsa.to_dissimilarity(d, method, measure=name))
        expect = (d + d.T) / 2
        np.fill_diagonal(expect, 0.0)
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=0)
    s = np.asarray(jaxrsa.similarity_matrix(x, measure="cka"))
    np.testing.assert_array_equal(
        jaxrsa.to_dissimilarity(s, measure="cka"), jaxrsa.to_dissimilarity(s)
    )


def test_to_dissimilarity_of_a_distance_checks_it():
    with pytest.raises(ValueError, match="negative"):
        jaxrsa.to_dissimilarity(np.array([[0.0, -1.0], [-1.0, 0.0]]), measure="gulp")
    with pytest.raises(ValueError, match="diagonal"):
        jaxrsa.to_dissimilarity(np.array([[1.0, 2.0], [2.0, 1.0]]), measure="gulp")
    with pytest.raises(ValueError, match="pass measure="):
        jaxrsa.to_dissimilarity(np.array([[0.0, 5.0], [5.0, 0.0]]))
    with pytest.raises(ValueError, match="unknown measure"):
        jaxrsa.to_dissimilarity(np.eye(2), measure="gulpp")


# ---------------------------------------------------------------- classical MDS


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 3])
def test_classical_recovers_euclidean_points(rng, k, dtype):
    p = rng.normal(size=(M, k))
    x = jaxrsa.classical_mds(distances(p).astype(dtype), k)
    assert x.dtype == dtype and x.shape == (M, k)
    np.testing.assert_allclose(distances(x), distances(p), atol=10 * tol(dtype))
    np.testing.assert_allclose(np.asarray(x).mean(0), 0, atol=tol(dtype))


def test_classical_matches_reference_and_batches(rng):
    d = np.stack([noisy_problem(rng, noise=0.5) for _ in range(3)])
    x = np.asarray(jaxrsa.classical_mds(d, 2))
    for i in range(3):
        np.testing.assert_allclose(x[i], np_classical(d[i], 2), atol=1e-10)


def test_classical_start_matches_exact(rng):
    """mds starts from Torgerson's solution by subspace iteration: exact when the top
    eigenvalues are separated."""
    d = distances(rng.normal(size=(M, 4)) * [3.0, 2.0, 0.5, 0.3])
    start = jax.jit(_classical.classical_start, static_argnums=1)(d, 2)
    np.testing.assert_allclose(start, np_classical(d, 2), atol=1e-10)


# ---------------------------------------------------------------- Procrustes


def random_orthogonal(rng, k, reflect):
    q, _ = np.linalg.qr(rng.normal(size=(k, k)))
    if (np.linalg.det(q) < 0) != reflect:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reflect", [False, True])
@pytest.mark.parametrize("scale", [False, True])
def test_procrustes_undoes_similarity_transform(rng, reflect, scale, dtype):
    ref = rng.normal(size=(M, 3))
    c = 2.5 if scale else 1.0
    x = c * ref @ random_orthogonal(rng, 3, reflect) + rng.normal(size=3)
    y = jaxrsa.procrustes_align(x.astype(dtype), ref.astype(dtype), scale=scale)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, ref, atol=tol(dtype))


def test_procrustes_matches_scipy_and_broadcasts(rng):
    ref = rng.normal(size=(M, 2))
    xs = ref + 0.3 * rng.normal(size=(4, M, 2)) + 1.0
    ys = np.asarray(jaxrsa.procrustes_align(xs, ref))
    for x, y in zip(xs, ys, strict=True):
        xc = x - x.mean(0)
        q, _ = scipy.linalg.orthogonal_procrustes(xc, ref - ref.mean(0))
        np.testing.assert_allclose(y, xc @ q + ref.mean(0), atol=1e-12)
        # least squares: no other rotation does better
        theta = 0.01
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        worse = (y - ref.mean(0)) @ rot + ref.mean(0)
        assert ((y - ref) ** 2).sum() < ((worse - ref) ** 2).sum()


def test_procrustes_errors():
    with pytest.raises(ValueError, match="same m and k"):
        jaxrsa.procrustes_align(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        jaxrsa.procrustes_align(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"batch shapes \(3,\) and \(2,\) do not broadcast"):
        jaxrsa.procrustes_align(np.zeros((3, 5, 2)), np.zeros((2, 5, 2)))
    with pytest.raises(TypeError, match="scale must be a bool"):
        jaxrsa.procrustes_align(np.zeros((5, 2)), np.zeros((5, 2)), scale="no")


@pytest.mark.parametrize("factor", [1e-20, 1e20, 1e150])
def test_procrustes_at_any_magnitude(rng, factor):
    """Rotation, shift and a scale of 2 undone at 1e20 (where x^T r overflows float32) and
    1e-20 (where it underflows), against the unit-scale answer."""
    ref = rng.normal(size=(7, 2))
    q = np.linalg.qr(rng.normal(size=(2, 2)))[0]
    x = 2.0 * ref @ q + 3.0
    for scale in (False, True):
        want = np.asarray(jaxrsa.procrustes_align(x, ref, scale=scale))
        got = np.asarray(jaxrsa.procrustes_align(x * factor, ref * factor, scale=scale))
        np.testing.assert_allclose(got / factor, want, rtol=1e-12, atol=1e-12)
    got32 = jaxrsa.procrustes_align(np.float32(x * 1e20), np.float32(ref * 1e20), scale=True)
    np.testing.assert_allclose(np.asarray(got32, np.float64) / 1e20, ref, atol=1e-5)


# ---------------------------------------------------------------- isotonic regression


@pytest.mark.parametrize("n", [1, 2, 5, 300])
def test_isotonic_matches_sklearn(rng, n):
    y = rng.normal(size=n) + np.linspace(0, 2, n)
    w = rng.uniform(0.1, 2.0, size=n)
    fit = jax.jit(_isotonic.isotonic_regression)(y, w, np.ones(n, bool))
    np.testing.assert_allclose(fit, isotonic_regression(y, sample_weight=w), atol=1e-12)


def test_isotonic_ties_and_zero_weights(rng):
    """Tied predictors share one value (as scikit-learn's IsotonicRegression, which averages
    ties); zero weights have no influence."""
    x = np.sort(rng.integers(0, 25, size=200)).astype(float)
    y = x + 5 * rng.normal(size=200)
    w = np.where(rng.uniform(size=200) < 0.2, 0.0, rng.uniform(0.5, 1.5, size=200))
    w[:3] = 0.0  # leading zero weights join the first block
    fit = jax.jit(lambda x, y, w: _isotonic.isotonic_regression(y, w, _isotonic.tie_blocks(x, w)))
    fit = np.asarray(fit(x, y, w))
    keep = w > 0
    expect = IsotonicRegression().fit(x[keep], y[keep], sample_weight=w[keep]).predict(x[keep])
    np.testing.assert_allclose(fit[keep], expect, atol=1e-12)
    assert np.all(np.diff(fit) >= 0)


def test_isotonic_worst_case_order():
    """One large drop after a long increasing run: the merge needs many rounds."""
    y = np.r_[np.arange(50.0), -1000.0]
    fit = jax.jit(_isotonic.isotonic_regression)(y, np.ones(51), np.ones(51, bool))
    np.testing.assert_allclose(fit, isotonic_regression(y), atol=1e-12)


# ---------------------------------------------------------------- SMACOF: recovery


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("init", ["classical", "random"])
def test_mds_recovers_points_2d(rng, init, dtype):
    """Classical init is exact for Euclidean input; from random starts SMACOF converges
    linearly, so it gets a tighter eps and more iterations."""
    p = rng.normal(size=(M, 2))
    random = init == "random"
    kwargs = {"key": jax.random.key(0), "eps": 1e-10, "max_iter": 3000} if random else {}
    res = jaxrsa.mds(distances(p).astype(dtype), init=init, **kwargs)
    assert res.embedding.dtype == dtype and res.stress.dtype == dtype
    assert res.embedding.shape == (M, 2) and res.restart_stress.shape == (4,)
    assert float(res.stress_1) < (1e-3 if dtype == np.float32 else 1e-4 if random else 1e-9)
    aligned = jaxrsa.procrustes_align(res.embedding, p.astype(dtype))
    np.testing.assert_allclose(aligned, p, atol=1e-2 if random else 1e-3)
    assert float(res.stress) == pytest.approx(np_stress(res.embedding, distances(p)), abs=1e-4)


def test_mds_recovers_points_3d(rng):
    p = rng.normal(size=(M, 3))
    res = jaxrsa.mds(distances(p), 3, metric=True)
    assert float(res.stress_1) < 1e-8
    np.testing.assert_allclose(jaxrsa.procrustes_align(res.embedding, p), p, atol=1e-7)


def test_mds_zero_matrix():
    res = jaxrsa.mds(np.zeros((M, M)))
    np.testing.assert_array_equal(res.embedding, 0)
    assert float(res.stress) == 0 and float(res.stress_1) == 0
    assert bool(res.converged)


def test_mds_integer_input_gives_default_float(rng):
    d = np.rint(10 * distances(rng.normal(size=(M, 2)))).astype(np.int64)
    res = jaxrsa.mds(d)
    assert res.embedding.dtype == jnp.result_type(float)
    assert float(res.stress) == pytest.approx(np_stress(res.embedding, d), rel=1e-10)


# ---------------------------------------------------------------- SMACOF: the iteration


@pytest.mark.parametrize("weighted", [False, True])
def test_stress_never_increases(rng, weighted):
    delta = noisy_problem(rng, noise=0.3)
    w = None
    if weighted:
        w = rng.uniform(0.2, 2.0, size=(M, M))
        w = (w + w.T) / 2 * (1 - np.eye(M))
    problem = _smacof.setup(jnp.asarray(delta), None if w is None else jnp.asarray(w), True)
    state = _smacof.init_state(problem, jnp.asarray(rng.uniform(size=(M, 2))))
    step = jax.jit(_smacof.step)
    history = [np_stress(state.x, delta, w)]
    for _ in range(40):
        state = step(problem, state, 0.0, 1000)
        history.append(np_stress(state.x, delta, w))
    assert np.all(np.diff(history) <= 1e-12 * history[0])
    assert history[-1] < 0.9 * history[1]


def test_weighted_matches_reference(rng):
    delta = noisy_problem(rng)
    w = (rng.uniform(size=(M, M)) < 0.6) * rng.uniform(0.5, 2.0, size=(M, M))
    w = np.triu(w, 1) + np.triu(w, 1).T
    x0 = rng.uniform(size=(M, 2))
    res = jaxrsa.mds(delta, weights=w, init=x0, max_iter=15, eps=0.0)
    x = x0
    for _ in range(15):
        x = np_guttman(x, delta, w)
    assert int(res.n_iter) == 15 and res.status == jaxrsa.MDSStatus.MAX_ITER
    np.testing.assert_allclose(res.embedding, x, atol=1e-9)
    assert float(res.stress) == pytest.approx(np_stress(x, delta, w), rel=1e-10)
    # missing entries (weight 0) are ignored, even NaN
    holes = np.where(w > 0, delta, np.nan)
    np.fill_diagonal(holes, 0)
    res_holes = jaxrsa.mds(holes, weights=w, init=x0, max_iter=15, eps=0.0)
    np.testing.assert_allclose(res_holes.embedding, res.embedding, atol=1e-12)
    # unit weights are the unweighted problem
    ones = jaxrsa.mds(delta, weights=np.ones((M, M)), init=x0, max_iter=15, eps=0.0)
    plain = jaxrsa.mds(delta, init=x0, max_iter=15, eps=0.0)
    np.testing.assert_allclose(ones.embedding, plain.embedding, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric", [True, False])
def test_parity_with_sklearn_from_same_start(rng, metric, dtype):
    delta = noisy_problem(rng, dim=4)
    x0 = rng.uniform(size=(M, 2))
    x_ref, stress_ref, n_ref = smacof(
        delta, metric=metric, init=x0, n_init=1, return_n_iter=True, normalized_stress=False
    )
    res = jaxrsa.mds(delta.astype(dtype), init=x0.astype(dtype), metric=metric)
    if not metric:  # scikit-learn reports sum_{i<j} (d - dhat)^2 with its disparities
        assert float(res.stress) > 0
    rel = 1e-4 if dtype == np.float32 else 1e-12
    assert float(res.stress) == pytest.approx(stress_ref, rel=rel)
    if dtype == np.float64:
        assert int(res.n_iter) == n_ref
        np.testing.assert_allclose(res.embedding, x_ref, atol=1e-10)


def test_best_restart_at_least_as_good_as_sklearn(rng):
    """From scikit-learn's own random starts (drawn as it draws them), our best-of-restarts
    equals its best: the runs agree one by one and the lowest stress wins."""
    delta = noisy_problem(rng, dim=6)
    state = np.random.RandomState(7)
    starts = np.stack([state.uniform(size=M * 2).reshape(M, 2) for _ in range(4)])
    _, best_ref = smacof(delta, n_init=4, random_state=7, normalized_stress=False)
    res = jaxrsa.mds(delta, init=starts)
    assert res.restart_stress.shape == (4,)
    assert float(res.stress) <= best_ref * (1 + 1e-12)
    assert float(res.stress) == pytest.approx(float(np.min(res.restart_stress)))


def test_restarts_by_lax_map_equal_vmap(rng, monkeypatch):
    """Large problems run restarts one after another (lax.map): same results as vmap."""
    delta, starts = jnp.asarray(noisy_problem(rng)), jnp.asarray(rng.uniform(size=(3, M, 2)))
    fit = functools.partial(_mds._fit_one, metric=True, init="array", n_init=3, k=2)
    assert _mds.vectorize_restarts(3, M, delta.dtype)
    vmapped = jax.jit(fit)(delta, None, starts, None, 1e-6, 300)
    monkeypatch.setattr(_mds, "VMAP_RESTART_BYTES", 0)
    assert not _mds.vectorize_restarts(3, M, delta.dtype)
    mapped = jax.jit(fit)(delta, None, starts, None, 1e-6, 300)  # a fresh trace
    for a, b in zip(vmapped, mapped, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_status_max_iter_and_no_recompilation(rng):
    delta = noisy_problem(rng)
    res = jaxrsa.mds(delta, max_iter=3, eps=0.0)
    assert int(res.n_iter) == 3 and not bool(res.converged)
    assert int(res.status) == jaxrsa.MDSStatus.MAX_ITER
    size = _fit._cache_size()
    res = jaxrsa.mds(noisy_problem(rng), max_iter=300, eps=1e-7)
    assert _fit._cache_size() == size
    assert bool(res.converged) and int(res.status) == jaxrsa.MDSStatus.CONVERGED


def test_nonfinite_status_under_jit(rng):
    """Inside a user's jit values cannot be checked; NaN ends as a status, not an error, and
    the run keeps its last finite configuration (here the start)."""
    delta = noisy_problem(rng)
    delta[2, 3] = delta[3, 2] = np.nan
    x0 = rng.uniform(size=(M, 2))
    res = jax.jit(lambda d, x: jaxrsa.mds(d, init=x))(delta, x0)
    assert int(res.status) == jaxrsa.MDSStatus.NONFINITE and not bool(res.converged)
    np.testing.assert_array_equal(res.embedding, x0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_equals_loop(rng, dtype):
    """Matrix i of a batch gets key split(key, b)[i]. In float64 the results are the loop's; in
    float32 batched kernels round differently, which can move a stopping iteration or swap
    two restarts of near-equal stress, so there only the stresses are compared."""
    deltas = np.stack([noisy_problem(rng) for _ in range(3)]).astype(dtype)
    key = jax.random.key(3)
    batch = jaxrsa.mds(deltas, key=key)
    assert batch.embedding.shape == (3, M, 2) and batch.restart_stress.shape == (3, 4)
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    for i, k in enumerate(jax.random.split(key, 3)):
        one = jaxrsa.mds(deltas[i], key=k)
        np.testing.assert_allclose(batch.restart_stress[i], one.restart_stress, rtol=rtol)
        np.testing.assert_allclose(batch.stress[i], one.stress, rtol=rtol)
        if dtype == np.float64:
            np.testing.assert_allclose(batch.embedding[i], one.embedding, atol=1e-10)
            assert int(batch.n_iter[i]) == int(one.n_iter)
    if dtype == np.float64:  # one start shared by the batch
        x0 = rng.uniform(size=(M, 2))
        shared = jaxrsa.mds(deltas, init=x0)
        for i in range(3):
            one = jaxrsa.mds(deltas[i], init=x0)
            np.testing.assert_allclose(shared.embedding[i], one.embedding, atol=1e-10)


# ---------------------------------------------------------------- bad input


def _sym(a):
    return (a + a.T) / 2


GOOD = distances(np.random.default_rng(1).normal(size=(6, 2)))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.ones((6, 5)),), {}, ValueError, "square"),
        ((np.ones((2, 2, 6, 6)),), {}, ValueError, "square"),
        ((GOOD + np.triu(np.ones((6, 6)), 1),), {}, ValueError, "not symmetric"),
        ((GOOD - 2 * _sym(np.ones((6, 6))) * (1 - np.eye(6)),), {}, ValueError, "negative"),
        ((np.where(np.eye(6, k=1) + np.eye(6, k=-1), np.inf, GOOD),), {}, ValueError, "non-finite"),
        ((GOOD + np.eye(6),), {}, ValueError, "non-zero diagonal"),
        ((GOOD[:2, :2],), {}, ValueError, "at least 3"),
        ((GOOD,), {"n_components": 0}, ValueError, "n_components"),
        ((GOOD,), {"weights": np.ones((5, 5))}, ValueError, "weights must have the shape"),
        ((GOOD,), {"weights": -np.ones((6, 6))}, ValueError, "weights has negative"),
        ((GOOD,), {"weights": np.kron(np.eye(2), np.ones((3, 3)))}, ValueError, "do not connect"),
        ((GOOD,), {"init": "random"}, ValueError, "needs a key"),
        ((GOOD,), {"init": "pca"}, ValueError, "init must be"),
        ((GOOD,), {"init": np.zeros((6, 3))}, ValueError, "init must be an array"),
        ((GOOD,), {"init": np.full((6, 2), np.nan)}, ValueError, "init has non-finite"),
        ((np.stack([GOOD] * 2),), {"init": np.zeros((3, 6, 2))}, ValueError, "init must be"),
        ((GOOD,), {"n_init": 0}, ValueError, "n_init"),
        ((GOOD,), {"max_iter": 2.5}, TypeError, "max_iter"),
        ((GOOD,), {"eps": -1.0}, ValueError, "eps"),
        ((GOOD,), {"metric": "yes"}, TypeError, "metric"),
        ((GOOD,), {"key": "0"}, TypeError, "key must be a PRNG key"),
        ((GOOD,), {"key": 1.5}, TypeError, "key must be a PRNG key"),
        ((GOOD,), {"key": -1}, ValueError, r"key must be an integer seed in \[0, 2\*\*63\)"),
        ((GOOD,), {"key": jax.random.split(jax.random.key(0))}, ValueError, "a single PRNG"),
        ((GOOD,), {"init": np.zeros((6, 2))}, ValueError, "init: the start is degenerate"),
        ((GOOD,), {"init": np.outer(np.arange(6.0), [1.0, 2.0])}, ValueError, "span 1 <"),
        (
            (GOOD,),
            {"init": np.stack([np.eye(6, 2), np.ones((6, 2))])},
            ValueError,
            r"init\[1\]: the start is degenerate",
        ),
        ((GOOD,), {"eps": "1e-6"}, TypeError, "eps must be a number"),
    ],
)
def test_mds_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        jaxrsa.mds(*args, **kwargs)


@pytest.mark.parametrize("metric", [True, False])
@pytest.mark.parametrize("factor", [1e-20, 1e20, 1e150])
def test_mds_at_any_magnitude(rng, metric, factor):
    """A map of rescaled dissimilarities is the map rescaled (metric; non-metric maps are
    scale-free): no NaN at 1e20, no all-zero map flagged as converged at 1e-20."""
    d = noisy_problem(rng, m=12)
    want = jaxrsa.mds(d, metric=metric)
    got = jaxrsa.mds(d * factor, metric=metric)
    back = factor if metric else 1.0
    np.testing.assert_allclose(np.asarray(got.embedding) / back, want.embedding, atol=1e-9)
    np.testing.assert_allclose(float(got.stress_1), float(want.stress_1), rtol=1e-9)
    np.testing.assert_allclose(float(got.stress) / back / back, float(want.stress), rtol=1e-9)
    assert bool(got.converged) and float(got.stress_1) > 0.01
    assert float(np.abs(np.asarray(got.embedding)).min(initial=np.inf)) >= 0  # finite
    np.testing.assert_allclose(
        np.asarray(jaxrsa.classical_mds(d * factor)) / factor,
        np_classical(d, 2),
        atol=1e-9,
    )


def test_mds_float32_magnitude(rng):
    """float32: 1e-20 (squares underflow) maps like 1; 1e20, whose raw stress cannot be held
    in float32, is a clear error rather than inf or NaN."""
    d = noisy_problem(rng, m=12).astype(np.float32)
    want = jaxrsa.mds(d)
    got = jaxrsa.mds(d * np.float32(1e-20))
    # As good a map: float32 runs stop where one step gains under eps (1e-6), so maps of
    # inputs that differ in the last bit differ by a few percent, not in quality.
    np.testing.assert_allclose(
        distances(np.asarray(got.embedding) / 1e-20), distances(want.embedding), rtol=0.05
    )
    np.testing.assert_allclose(float(got.stress_1), float(want.stress_1), rtol=1e-3)
    assert bool(got.converged)
    with pytest.raises(ValueError, match="raw stress .* overflow float32.*pass float64"):
        jaxrsa.mds(d * np.float32(1e20))
    big = np.asarray(jaxrsa.classical_mds(d * np.float32(1e20)), np.float64) / 1e20
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(distances(big), distances(np_classical(d, 2)), atol=1e-4)


def test_mds_key_may_be_a_seed_or_any_key(rng):
    d = noisy_problem(rng, m=12)
    typed = jaxrsa.mds(d, init="random", n_init=2, key=jax.random.key(3))
    for key in (3, np.int64(3), jax.random.PRNGKey(3)):
        same = jaxrsa.mds(d, init="random", n_init=2, key=key)
        np.testing.assert_array_equal(same.embedding, typed.embedding)


def test_classical_errors():
    with pytest.raises(ValueError, match="not symmetric"):
        jaxrsa.classical_mds(GOOD + np.triu(np.ones((6, 6)), 1))
    with pytest.raises(ValueError, match="at least 7"):
        jaxrsa.classical_mds(GOOD, 6)
