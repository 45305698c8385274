"""ReSi, netrep, platonic-rep and ENSD measures: the reference implementations' numbers (pinned),
independent float64 references written here, invariances, direction, all pairs against the
double loop, blocks that do not divide m, and bad inputs."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import jaxrsa
from jaxrsa import measures

NAMES = [
    "distance_correlation",
    "eigenspace_overlap_score",
    "linear_regression",
    "gulp",
    "jaccard_similarity",
    "rank_similarity",
    "second_order_cosine_similarity",
    "rsm_norm_difference",
    "magnitude_difference",
    "concentricity_difference",
    "uniformity_difference",
    "hard_correlation_match",
    "soft_correlation_match",
    "aligned_cosine_similarity",
    "permutation_procrustes",
    "orthogonal_angular_shape_metric_centered",
    "orthogonal_procrustes_centered_and_normalized",
    "procrustes_size_and_shape_distance",
    "shape_metric",
    "permutation_metric",
    "cknna",
    "cycle_knn",
    "ensd",
]
DISTANCES = {
    "gulp",
    "rsm_norm_difference",
    "magnitude_difference",
    "concentricity_difference",
    "uniformity_difference",
    "permutation_procrustes",
    "orthogonal_angular_shape_metric_centered",
    "orthogonal_procrustes_centered_and_normalized",
    "procrustes_size_and_shape_distance",
    "shape_metric",
    "permutation_metric",
}
ASYMMETRIC = {"linear_regression", "cknna", "cycle_knn"}
GRAM = {"distance_correlation", "ensd"}  # GramMeasure; the other all-pairs products below
PRODUCT = {"eigenspace_overlap_score", "linear_regression", "gulp", "rsm_norm_difference"}


def data(seed=0, n=30, dx=5, dy=7, noise=0.8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dx))
    y = np.tanh(x @ rng.normal(size=(dx, dy))) + noise * rng.normal(size=(n, dy))
    return x, y


# The reference implementations on `data()`, (measure(x, y), measure(y, x)), float64: computed
# once by the ports in benchmarks/bench_measures.py of ReSi (mklabunde/resi), netrep, platonic-rep
# and camillerb/ENSD. Keys: a registry name, or a name and the options of the reference's own
# behaviour where jaxrsa's default differs (see PINNED_MEASURE).
PINNED = {
    "distance_correlation": (0.8117610764767075, 0.8117610764767075),
    "eigenspace_overlap_score": (0.403195111882258, 0.40319511188225793),
    "linear_regression": (0.6358346920868363, 0.489522245863859),
    "gulp": (6.30082289378881, 6.300822893788809),
    "gulp_lambda_0.1": (1.9859234292837042, 1.9859234292837038),
    "jaccard_similarity": (0.38007972419737135, 0.38007972419737135),
    "rank_similarity": (0.25832742636166417, 0.25832742636166417),
    "second_order_cosine_similarity": (0.801163668185169, 0.801163668185169),
    "rsm_norm_difference_spectral": (43.237343368866256, 43.237343368866256),
    "magnitude_difference": (0.09671554977306551, 0.09671554977306551),
    "concentricity_difference": (0.009004547748047348, 0.009004547748047348),
    "uniformity_difference": (0.1232700727922027, 0.1232700727922027),
    "hard_correlation_match": (0.3020452472003525, 0.3020452472003525),
    "soft_correlation_match": (0.2882102579937804, 0.2882102579937804),
    "aligned_cosine_similarity": (0.6617165959470781, 0.6617165959470782),
    "permutation_procrustes": (17.586040478537903, 17.586040478537903),
    "orthogonal_angular_shape_metric_centered": (0.8324179348928854, 0.8324179348928856),
    "orthogonal_procrustes_centered_and_normalized": (0.8085919626113611, 0.8085919626113611),
    "procrustes_size_and_shape_distance": (11.997499869122867, 11.997499869122864),
    "shape_metric": (0.8324179348928853, 0.8324179348928853),
    "shape_metric_alpha_0.5": (0.8358169436210484, 0.8358169436210486),
    "permutation_metric": (1.3073139011106971, 1.3073139011106971),
    "cknna_eps_1e-6": (0.608308946272974, 0.6178943543489355),
    "cycle_knn_k3": (0.6333333333333333, 0.5666666666666667),
    "ensd": (2.4386673648332313, 2.4386673648332313),
}
PINNED_MEASURE = {
    "gulp_lambda_0.1": measures.GULP(lmbda=0.1),
    "rsm_norm_difference_spectral": measures.RSMNormDifference(norm="spectral"),
    "shape_metric_alpha_0.5": measures.ShapeMetric(alpha=0.5),
    "cknna_eps_1e-6": measures.CKNNA(eps=1e-6),
    "cycle_knn_k3": measures.CycleKNN(k=3),
}


def value(x, y, measure):
    return float(jaxrsa.similarity(x, y, measure))


@pytest.mark.parametrize("key", list(PINNED))
def test_matches_reference_implementation(key):
    x, y = data()
    measure = PINNED_MEASURE.get(key, key)
    for (a, b), expected in zip([(x, y), (y, x)], PINNED[key], strict=True):
        assert abs(value(a, b, measure) - expected) <= 1e-9 * max(1.0, abs(expected))


# ---------------------------------------------------------------- independent references


def _centre(x):
    return x - x.mean(axis=0)


def _padded(x, y):
    d = max(x.shape[1], y.shape[1])
    return [np.hstack([a, np.zeros((a.shape[0], d - a.shape[1]))]) for a in (x, y)]


def _projection(x):
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    u = u[:, s > s[0] * max(x.shape) * np.finfo(float).eps]
    return u @ u.T


def _cosine_neighbours(x, k):
    xh = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xh @ xh.T
    np.fill_diagonal(s, -np.inf)
    return np.argsort(-s, axis=1, kind="stable")[:, :k], 1 - xh @ xh.T, xh @ xh.T


def _whitened(x, alpha):
    xc = _centre(x)
    lam, v = np.linalg.eigh(xc.T @ xc)
    return xc @ (v * (alpha + (1 - alpha) / np.sqrt(np.maximum(lam, 1e-7)))) @ v.T


def _nuclear(a, b):
    return np.linalg.svd(a.T @ b, compute_uv=False).sum()


def _angle(c):
    return np.arccos(np.clip(c, -1, 1))


def ref_dcor(x, y):
    def dcov(a, b):
        return np.sqrt(np.mean(a * b))

    h = np.eye(len(x)) - 1 / len(x)
    a, b = h @ cdist(x, x) @ h, h @ cdist(y, y) @ h
    return dcov(a, b) / np.sqrt(dcov(a, a) * dcov(b, b))


def ref_eos(x, y):
    return np.trace(_projection(x) @ _projection(y)) / max(x.shape[1], y.shape[1])


def ref_linear_regression(x, y):
    xc, yc = _centre(x), _centre(y)
    beta = np.linalg.lstsq(yc, xc, rcond=None)[0]
    return 1 - np.sum((xc - yc @ beta) ** 2) / np.sum(xc**2)


def ref_gulp(x, y, lmbda=0.0):
    def hat(z):
        n = len(z)
        z = _centre(z)
        z = z * np.sqrt(n) / np.linalg.norm(z)
        if lmbda == 0:
            return _projection(z)
        return z @ np.linalg.solve(z.T @ z / n + lmbda * np.eye(z.shape[1]), z.T) / n

    return np.sum((hat(x) - hat(y)) ** 2)


def _knn_lists(x, y, k=10):
    return _cosine_neighbours(x, k), _cosine_neighbours(y, k)


def ref_jaccard(x, y, k=10):
    (a, _, _), (b, _, _) = _knn_lists(x, y, k)
    return np.mean([len(set(p) & set(q)) / len(set(p) | set(q)) for p, q in zip(a, b, strict=True)])


def ref_rank(x, y, k=10):
    (a, _, _), (b, _, _) = _knn_lists(x, y, k)
    total = 0.0
    for p, q in zip(a, b, strict=True):
        rp, rq = {j: r + 1 for r, j in enumerate(p)}, {j: r + 1 for r, j in enumerate(q)}
        both = set(p) & set(q)
        s = sum(2 / ((1 + abs(rp[j] - rq[j])) * (rp[j] + rq[j])) for j in both)
        total += s / sum(1 / t for t in range(1, len(both) + 1)) if both else 0.0
    return total / len(a)


def ref_second_order_cosine(x, y, k=10):
    (a, dx, _), (b, dy, _) = _knn_lists(x, y, k)
    out = []
    for i in range(len(x)):
        u = sorted(set(a[i]) | set(b[i]))
        p, q = np.clip(dx[i, u], 0, 2), np.clip(dy[i, u], 0, 2)
        out.append(p @ q / (np.linalg.norm(p) * np.linalg.norm(q)))
    return np.mean(out)


def ref_rsm_norm(x, y, norm="fro"):
    return np.linalg.norm(cdist(x, x) - cdist(y, y), ord=norm)


def ref_magnitude(x, y):
    return abs(np.linalg.norm(x.mean(0)) - np.linalg.norm(y.mean(0)))


def ref_concentricity(x, y):
    def c(z):
        m = z.mean(0)
        return np.mean(z @ m / (np.linalg.norm(z, axis=1) * np.linalg.norm(m)))

    return abs(c(x) - c(y))


def ref_uniformity(x, y):
    def u(z):
        return np.log(np.mean(np.exp(-2 * cdist(z, z, "sqeuclidean"))))

    return abs(u(x) - u(y))


def _corr(x, y):
    return np.corrcoef(x.T, y.T)[: x.shape[1], x.shape[1] :]


def ref_hard_match(x, y):
    c = _corr(x, y)
    r, k = scipy.optimize.linear_sum_assignment(-c)
    return c[r, k].mean()


def ref_soft_match(x, y):
    c = _corr(x, y)
    return (c.max(1).mean() + c.max(0).mean()) / 2


def ref_aligned_cosine(x, y):
    x, y = _padded(x, y)
    xa = x @ scipy.linalg.orthogonal_procrustes(x, y)[0]
    return np.mean(np.sum(xa * y, 1) / (np.linalg.norm(xa, axis=1) * np.linalg.norm(y, axis=1)))


def ref_permutation(x, y, centre=True, angular=True):
    x, y = _padded(_centre(x), _centre(y)) if centre else _padded(x, y)
    r, k = scipy.optimize.linear_sum_assignment(-(x.T @ y))
    if angular:
        return _angle(np.sum(x[:, r] * y[:, k]) / (np.linalg.norm(x) * np.linalg.norm(y)))
    return np.linalg.norm(x[:, r] - y[:, k])


def ref_shape(x, y, alpha=1.0):
    xw, yw = _whitened(x, alpha), _whitened(y, alpha)
    return _angle(_nuclear(xw, yw) / (np.linalg.norm(xw) * np.linalg.norm(yw)))


def ref_procrustes_distance(x, y, normalize):
    xc, yc = _centre(x), _centre(y)
    if normalize:
        xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    return np.sqrt(max(np.sum(xc**2) + np.sum(yc**2) - 2 * _nuclear(xc, yc), 0.0))


def _hsic(k, g):
    n = len(k)
    k, g = k - np.diag(np.diag(k)), g - np.diag(np.diag(g))
    ones = np.ones(n)  # Song et al. (2012), eq. 5, with the diagonals zeroed
    return (
        np.trace(k @ g)
        + (ones @ k @ ones) * (ones @ g @ ones) / ((n - 1) * (n - 2))
        - 2 * ones @ k @ g @ ones / (n - 2)
    ) / (n * (n - 3))


def ref_cknna(x, y, k=10, eps=0.0):
    (a, _, kx), (b, _, ky) = _knn_lists(x, y, k)
    n = len(x)
    ma, mb = np.zeros((n, n)), np.zeros((n, n))
    for i in range(n):
        ma[i, a[i]], mb[i, b[i]] = 1, 1

    def sim(p, q, mask):
        return _hsic(mask * p, mask * q)

    return sim(kx, ky, ma * mb) / (np.sqrt(sim(kx, kx, ma) * sim(ky, ky, mb)) + eps)


def ref_cycle(x, y, k=10):
    (a, _, _), (b, _, _) = _knn_lists(x, y, k)
    return np.mean([any(i in a[j] for j in b[i]) for i in range(len(x))])


def ref_ensd(x, y):
    kx, ky = _centre(x) @ _centre(x).T, _centre(y) @ _centre(y).T

    def pr(k):
        return np.trace(k) ** 2 / np.sum(k * k)

    cka = np.sum(kx * ky) / (np.linalg.norm(kx) * np.linalg.norm(ky))
    return np.sqrt(pr(kx) * pr(ky)) * cka


REFERENCE = {
    "distance_correlation": ref_dcor,
    "eigenspace_overlap_score": ref_eos,
    "linear_regression": ref_linear_regression,
    "gulp": ref_gulp,
    "jaccard_similarity": ref_jaccard,
    "rank_similarity": ref_rank,
    "second_order_cosine_similarity": ref_second_order_cosine,
    "rsm_norm_difference": ref_rsm_norm,
    "magnitude_difference": ref_magnitude,
    "concentricity_difference": ref_concentricity,
    "uniformity_difference": ref_uniformity,
    "hard_correlation_match": ref_hard_match,
    "soft_correlation_match": ref_soft_match,
    "aligned_cosine_similarity": ref_aligned_cosine,
    "permutation_procrustes": lambda x, y: ref_permutation(x, y, centre=False, angular=False),
    "orthogonal_angular_shape_metric_centered": ref_shape,
    "orthogonal_procrustes_centered_and_normalized": lambda x, y: ref_procrustes_distance(
        x, y, True
    ),
    "procrustes_size_and_shape_distance": lambda x, y: ref_procrustes_distance(x, y, False),
    "shape_metric": ref_shape,
    "permutation_metric": ref_permutation,
    "cknna": ref_cknna,
    "cycle_knn": ref_cycle,
    "ensd": ref_ensd,
}


# float32 for one measure of each module (compilations are the suite's cost)
FLOAT32 = {
    "ensd",
    "gulp",
    "uniformity_difference",
    "shape_metric",
    "soft_correlation_match",
    "rank_similarity",
}
CASES = [(name, np.float64, 1e-9) for name in NAMES]
CASES += [(n, np.float32, 2e-4) for n in sorted(FLOAT32)]


@pytest.mark.parametrize("name, dtype, tol", CASES)
def test_matches_independent_reference(name, dtype, tol):
    x, y = data(seed=1)
    expected = REFERENCE[name](x, y)
    got = jaxrsa.similarity(x.astype(dtype), y.astype(dtype), name)
    assert got.dtype == dtype
    assert abs(float(got) - expected) <= tol * max(1.0, abs(expected)), (float(got), expected)
    assert abs(expected) > 1e-3  # a measure that returned 0 would fail


@pytest.mark.parametrize(
    "measure, reference",
    [
        (measures.GULP(lmbda=0.3), lambda x, y: ref_gulp(x, y, 0.3)),
        (measures.RSMNormDifference(norm="spectral"), lambda x, y: ref_rsm_norm(x, y, 2)),
        (measures.ShapeMetric(alpha=0.0), lambda x, y: ref_shape(x, y, 0.0)),
        (measures.ShapeMetric(alpha=0.3), lambda x, y: ref_shape(x, y, 0.3)),
        (measures.CKNNA(k=5, eps=1e-6), lambda x, y: ref_cknna(x, y, 5, 1e-6)),
        (measures.JaccardSimilarity(k=4), lambda x, y: ref_jaccard(x, y, 4)),
        (
            measures.PermutationMetric(score="euclidean"),
            lambda x, y: ref_permutation(x, y, angular=False),
        ),
    ],
)
def test_options_match_independent_reference(measure, reference):
    x, y = data(seed=2)
    assert abs(value(x, y, measure) - reference(x, y)) <= 1e-9 * max(1.0, reference(x, y))


def test_eigenspace_overlap_rank_denominator_and_wide_models():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 16))  # d > n: rank 10, ReSi divides by the width
    assert value(x, x, "eigenspace_overlap_score") == pytest.approx(10 / 16, abs=1e-12)
    assert value(x, x, measures.EigenspaceOverlapScore(denominator="rank")) == pytest.approx(1.0)


def test_gulp_and_linear_regression_defined_when_d_exceeds_n():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(10, 16)), rng.normal(size=(10, 12))
    # both centred models span the same (n - 1)-dimensional space: the projections coincide
    assert value(x, y, "gulp") == pytest.approx(0.0, abs=1e-9)
    assert value(x, y, "linear_regression") == pytest.approx(1.0, abs=1e-9)


def test_ensd_counts_shared_dimensions():
    rng = np.random.default_rng(5)
    q = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    z = rng.normal(size=(200, 8))
    x = z[:, :4] @ q[:4]  # 4 directions of about equal variance
    y = z[:, 2:6] @ q[2:6]  # shares 2 of them with x, through the same examples
    assert value(x, x, "ensd") == pytest.approx(4.0, rel=0.15)
    assert value(x, y, "ensd") == pytest.approx(2.0, rel=0.2)


# ---------------------------------------------------------------- properties


def test_direction_and_symmetry():
    for name in NAMES:
        m = measures.get(name)
        assert m.larger_is_more_similar is (name not in DISTANCES), name
        assert m.symmetric is (name not in ASYMMETRIC), name
        assert isinstance(m, measures.GramMeasure) is (name in GRAM), name
    for name in PRODUCT:
        assert isinstance(measures.get(name), measures.InnerProductMeasure), name


@pytest.mark.parametrize("name", NAMES)
def test_identical_models(name):
    x, _ = data(seed=6, n=30)
    got = value(x, x, name)
    if name == "ensd":
        assert got == pytest.approx(ref_ensd(x, x), rel=1e-9)
    else:
        assert got == pytest.approx(0.0 if name in DISTANCES else 1.0, abs=1e-9)


def _orthogonal(d, seed):
    return np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))[0]


# Maps of x that leave each measure unchanged (ReSi's invariance flags, checked).
ORTHOGONAL = set(NAMES) - {
    "hard_correlation_match",
    "soft_correlation_match",
    "permutation_procrustes",
    "permutation_metric",
}
TRANSLATION = {
    "distance_correlation",
    "gulp",
    "linear_regression",
    "rsm_norm_difference",
    "uniformity_difference",
    "hard_correlation_match",
    "soft_correlation_match",
    "orthogonal_angular_shape_metric_centered",
    "shape_metric",
    "orthogonal_procrustes_centered_and_normalized",
    "procrustes_size_and_shape_distance",
    "permutation_metric",
    "ensd",
}
SCALING = {
    "distance_correlation",
    "aligned_cosine_similarity",
    "eigenspace_overlap_score",
    "linear_regression",
    "gulp",
    "jaccard_similarity",
    "rank_similarity",
    "second_order_cosine_similarity",
    "concentricity_difference",
    "hard_correlation_match",
    "soft_correlation_match",
    "orthogonal_angular_shape_metric_centered",
    "orthogonal_procrustes_centered_and_normalized",
    "shape_metric",
    "permutation_metric",
    "cknna",
    "cycle_knn",
    "ensd",
}
PERMUTATION = set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_invariances(name):
    x, y = data(seed=7)
    base = value(x, y, name)
    maps = {
        "orthogonal": (ORTHOGONAL, x @ _orthogonal(5, 8)),
        "translation": (TRANSLATION, x + 3.0),
        "scaling": (SCALING, 2.5 * x),
        "permutation": (PERMUTATION, x[:, [3, 0, 4, 1, 2]]),
    }
    for kind, (invariant, mapped) in maps.items():
        if name in invariant:
            assert value(mapped, y, name) == pytest.approx(base, rel=1e-8, abs=1e-10), kind
        elif kind != "permutation":
            assert abs(value(mapped, y, name) - base) > 1e-6, kind  # the flag is not too modest


@settings(max_examples=4, deadline=None)
@given(alpha=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_shape_metric_any_alpha(alpha, seed):
    x, y = data(seed=seed)
    m = measures.ShapeMetric(alpha=alpha)
    assert value(x, y, m) == pytest.approx(ref_shape(x, y, alpha), abs=1e-8)
    a = np.random.default_rng(seed).normal(size=(5, 5)) + 3 * np.eye(5)
    if alpha == 0.0:  # full whitening: invariant to invertible linear maps
        assert value(x @ a, y, m) == pytest.approx(value(x, y, m), abs=1e-7)


# One measure of each kind of all-pairs path in the fast suite; every measure under `slow`.
ALL_PAIRS_FAST = [
    "distance_correlation",
    "linear_regression",
    "gulp",
    "magnitude_difference",
    "shape_metric",
    "hard_correlation_match",
    "cknna",
    "second_order_cosine_similarity",
]
ALL_PAIRS = [pytest.param(n, marks=[] if n in ALL_PAIRS_FAST else pytest.mark.slow) for n in NAMES]


@pytest.mark.parametrize("name", ALL_PAIRS)
def test_all_pairs_equal_double_loop_and_blocks(name):
    rng = np.random.default_rng(9)
    base = rng.normal(size=(30, 5))
    reps = {
        f"m{i}": np.tanh(base @ rng.normal(size=(5, d))) + 0.5 * rng.normal(size=(30, d))
        for i, d in enumerate([5, 7, 5, 7])
    }
    arrays = list(reps.values())
    full = np.asarray(jaxrsa.similarity_matrix(reps, measure=name))
    loop = np.array([[value(a, b, name) for b in arrays] for a in arrays])
    np.testing.assert_allclose(full, loop, rtol=1e-9, atol=1e-10)
    blocked = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, block_size=3))
    np.testing.assert_allclose(blocked, full, rtol=1e-9, atol=1e-10)
    if name not in ASYMMETRIC:
        np.testing.assert_allclose(full, full.T, rtol=1e-9, atol=1e-10)


def test_others_rectangular_block():
    x, y = data(seed=10, dy=5)
    reps, others = [x, y, x + 1], [y, 2 * x]
    for name in ["gulp", "cknna"]:
        got = np.asarray(jaxrsa.similarity_matrix(reps, others, measure=name, block_size=3))
        loop = np.array([[value(a, b, name) for b in others] for a in reps])
        np.testing.assert_allclose(got, loop, rtol=1e-9, atol=1e-10, err_msg=name)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "name",
    [
        "distance_correlation",
        "linear_regression",
        "gulp",
        "ensd",
        "shape_metric",
        "permutation_metric",
        "hard_correlation_match",
        "procrustes_size_and_shape_distance",
    ],
)
def test_constant_model_is_an_error(name):
    x, _ = data(seed=11)
    flat = np.ones_like(x)
    with pytest.raises(ValueError, match=r"flat.*(zero variance|constant)"):
        jaxrsa.similarity_matrix({"good": x, "flat": flat}, measure=name)


@pytest.mark.parametrize(
    "name",
    [
        "jaccard_similarity",
        "rank_similarity",
        "second_order_cosine_similarity",
        "cknna",
        "cycle_knn",
    ],
)
def test_neighbour_measures_errors(name):
    x, _ = data(seed=12)
    zero_row = x.copy()
    zero_row[3] = 0
    with pytest.raises(ValueError, match="y: .*example 3"):
        jaxrsa.similarity(x, zero_row, name)
    with pytest.raises(ValueError, match="examples"):
        jaxrsa.similarity(x[:8], x[:8], name)  # k = 10 needs n > 10


def test_zero_models_and_zero_means_are_errors():
    x, _ = data(seed=13)
    for name in ["aligned_cosine_similarity", "permutation_procrustes"]:
        with pytest.raises(ValueError, match="zero"):
            jaxrsa.similarity(x, np.zeros_like(x), name)
    with pytest.raises(ValueError, match="mean representation is zero"):
        jaxrsa.similarity(x, x - x.mean(0), "concentricity_difference")


def test_aligned_cosine_leaves_out_zero_examples():
    x, y = data(seed=14, dy=5)
    y[5] = 0.0
    xp, yp = np.delete(x, 5, 0), np.delete(y, 5, 0)
    q = scipy.linalg.orthogonal_procrustes(x, y)[0]
    xa = xp @ q
    expected = np.mean(
        np.sum(xa * yp, 1) / (np.linalg.norm(xa, axis=1) * np.linalg.norm(yp, axis=1))
    )
    assert value(x, y, "aligned_cosine_similarity") == pytest.approx(expected, abs=1e-10)


def test_constant_neuron_correlates_zero():
    x, y = data(seed=15)
    y[:, 2] = 7.0
    c = _corr(x, np.delete(y, 2, 1))
    c = np.insert(c, 2, 0.0, axis=1)  # scikit-learn's cosine of a zero vector: 0 (as ReSi)
    r, k = scipy.optimize.linear_sum_assignment(-c)
    assert value(x, y, "hard_correlation_match") == pytest.approx(c[r, k].mean(), abs=1e-10)
    soft = (c.max(1).mean() + c.max(0).mean()) / 2
    assert value(x, y, "soft_correlation_match") == pytest.approx(soft, abs=1e-10)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: measures.ShapeMetric(alpha=1.5), "alpha"),
        (lambda: measures.ShapeMetric(score="cosine"), "score"),
        (lambda: measures.PermutationMetric(score="x"), "score"),
        (lambda: measures.GULP(lmbda=-1.0), "lmbda"),
        (lambda: measures.RSMNormDifference(norm="l1"), "norm"),
        (lambda: measures.CKNNA(k=1), "k >= 2"),
        (lambda: measures.CKNNA(eps=-1.0), "eps"),
        (lambda: measures.JaccardSimilarity(k=0), "k"),
        (lambda: measures.CorrelationMatch(mode="medium"), "mode"),
        (lambda: measures.EigenspaceOverlapScore(denominator="n"), "denominator"),
        (lambda: measures.UniformityDifference(t=0.0), "t"),
    ],
)
def test_bad_options(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_float32_all_pairs_dtype():
    x, y = data(seed=16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = jaxrsa.similarity_matrix([x.astype(np.float32), y.astype(np.float32)], measure="gulp")
    assert out.dtype == np.float32
    assert float(out[0, 1]) == pytest.approx(ref_gulp(x, y), rel=1e-4)
