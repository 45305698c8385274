"""Alignment measures (CCA, cca_r2, SVCCA, PWCCA, Procrustes, mutual kNN): float64 references,
invariances, identities, rank deficiency, n <= d, ties, and all pairs against the double loop."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg

import jaxrsa
from jaxrsa import measures
from jaxrsa._pairwise import _layout
from tests import references as ref
from tests import references_alignment as aref

NAMES = ["cca", "cca_r2", "svcca", "pwcca", "procrustes", "mutual_knn"]
SYMMETRIC = [n for n in NAMES if n != "pwcca"]


def pair(rng, n=30, dx=7, dy=11):
    x = rng.normal(size=(n, dx))
    y = np.tanh(x @ rng.normal(size=(dx, dy))) + 0.5 * rng.normal(size=(n, dy))
    return x, y


def sim(x, y, measure):
    return float(jaxrsa.similarity(x, y, measure))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_matches_reference(rng, name, dtype, tol):
    x, y = pair(rng)
    expected = aref.measure(name, x, y)
    got = jaxrsa.similarity(x.astype(dtype), y.astype(dtype), name)
    assert got.dtype == dtype
    assert abs(float(got) - expected) <= tol, (float(got), expected)
    assert 0.05 < expected < 0.99  # the test would catch a wrong measure


@pytest.mark.parametrize("name", NAMES)
def test_self_similarity_one_and_symmetry(rng, name):
    x, y = pair(rng)
    assert sim(x, x, name) == pytest.approx(1.0, abs=1e-12)
    if name in SYMMETRIC:
        assert sim(x, y, name) == pytest.approx(sim(y, x, name), abs=1e-12)


def test_pwcca_side_and_asymmetry(rng):
    x, y = pair(rng)
    assert sim(x, y, measures.PWCCA(side="y")) == pytest.approx(aref.pwcca(y, x), abs=1e-10)
    assert sim(x, y, measures.PWCCA(side="y")) == pytest.approx(sim(y, x, "pwcca"), abs=1e-12)
    assert abs(sim(x, y, "pwcca") - sim(y, x, "pwcca")) > 1e-3  # documented: not symmetric
    assert not measures.PWCCA().symmetric


@pytest.mark.parametrize(
    "measure, reference",
    [
        (measures.SVCCA(max_dims=4), lambda x, y: aref.svcca(x, y, dims=4)),
        (measures.SVCCA(variance=0.8), lambda x, y: aref.svcca(x, y, variance=0.8)),
        (
            measures.SVCCA(variance=0.8, squared=True),
            lambda x, y: aref.cca_r2(aref.svd_reduce(x, 0.8), aref.svd_reduce(y, 0.8)),
        ),
        (measures.CCA(max_dims=5), lambda x, y: aref.svcca(x, y, dims=5)),
        (
            measures.PWCCA(max_dims=5),
            lambda x, y: aref.pwcca(aref.svd_reduce(x, dims=5), aref.svd_reduce(y, dims=5), x),
        ),
        (measures.Procrustes("angular"), lambda x, y: np.arccos(aref.procrustes(x, y))),
        (
            measures.Procrustes("euclidean"),
            lambda x, y: np.sqrt(2 - 2 * aref.procrustes(x, y)),
        ),
        (measures.MutualKNN(k=3), lambda x, y: aref.mutual_knn(x, y, k=3)),
    ],
)
def test_configured_measures(rng, measure, reference):
    x, y = pair(rng)
    np.testing.assert_allclose(sim(x, y, measure), reference(x, y), atol=1e-10)


def test_svcca_default_keeps_99_percent_of_the_variance(rng):
    """Low-rank signal plus small noise: 99% keeps fewer directions than the width, so SVCCA
    differs from CCA and equals the reference's reduction."""
    latent = rng.normal(size=(30, 3))
    x = latent @ rng.normal(size=(3, 7)) + 0.01 * rng.normal(size=(30, 7))
    y = np.tanh(latent @ rng.normal(size=(3, 11))) + 0.05 * rng.normal(size=(30, 11))
    assert aref.svd_reduce(x).shape[1] < 7
    np.testing.assert_allclose(sim(x, y, "svcca"), aref.svcca(x, y), atol=1e-10)
    assert abs(sim(x, y, "svcca") - sim(x, y, "cca")) > 1e-2


def test_options_objects_equal_names():
    assert measures.get("cca") == measures.CCA()
    assert measures.get("cca_r2") == measures.CCA(squared=True)
    assert measures.get("svcca") == measures.SVCCA() == measures.SVCCA(variance=0.99)
    assert hash(measures.SVCCA()) == hash(measures.SVCCA(variance=0.99))
    assert measures.get("pwcca") == measures.PWCCA()
    assert measures.get("procrustes") == measures.Procrustes()
    assert measures.get("mutual_knn") == measures.MutualKNN(k=10)


# ------------------------------------------------------------------- n <= d and rank deficiency


@pytest.mark.parametrize("name", ["cca", "cca_r2", "pwcca"])
@pytest.mark.parametrize("d", [20, 19, 40])  # n = 20: d >= n - 1 spans every centred direction
def test_n_at_most_d_is_an_error_with_the_remedy(rng, name, d):
    x, y = rng.normal(size=(20, d)), rng.normal(size=(20, 5))
    with pytest.raises(ValueError, match=r"x: .*CCA is undefined when n <= d.*max_dims=k"):
        jaxrsa.similarity(x, y, name)


def test_svcca_keeping_every_direction_is_an_error(rng):
    x, y = rng.normal(size=(20, 40)), rng.normal(size=(20, 5))
    with pytest.raises(ValueError, match=r"y: .*undefined when n <= d.*SVCCA\(max_dims=k\)"):
        jaxrsa.similarity(y, x, measures.SVCCA(variance=1.0))


def test_wide_but_low_rank_activations_are_fine(rng):
    """d > n is only a problem when the rank reaches n - 1: the rank-revealing basis sees 5."""
    latent, y = rng.normal(size=(20, 5)), rng.normal(size=(20, 5))
    x = latent @ rng.normal(size=(5, 40))
    np.testing.assert_allclose(sim(x, y, "cca"), aref.cca(latent, y), atol=1e-10)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_max_dims_is_the_remedy_for_wide_activations(rng, dtype, tol):
    x, y = rng.normal(size=(20, 40)), rng.normal(size=(20, 25))
    y[:, :5] += x[:, :5]
    for measure, expected in [
        (measures.CCA(max_dims=6), aref.svcca(x, y, dims=6)),
        (measures.SVCCA(variance=0.5), aref.svcca(x, y, variance=0.5)),
    ]:
        assert abs(sim(x.astype(dtype), y.astype(dtype), measure) - expected) <= tol


@pytest.mark.parametrize("name", ["cca", "cca_r2", "svcca", "pwcca", "procrustes"])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 2e-5)])
def test_rank_deficient_activations(rng, name, dtype, tol):
    """Dead units, duplicated and constant features: finite, <= 1, and the result of the distinct
    features (PWCCA: canonical variates of the distinct features, weighted by every neuron, so a
    duplicated neuron counts twice; Procrustes: duplicates change the norm, so the wide data)."""
    x, y = pair(rng, n=40, dx=6, dy=8)
    dead = np.zeros((40, 2))
    wide = np.hstack([x, dead, x[:, :3], np.full((40, 1), 3.7)])  # 12 features, rank 6
    wide_y = np.hstack([y[:, :4], y, -2.0 * y[:, 1:2]])
    if name == "procrustes":
        expected = aref.procrustes(wide, wide_y)
    elif name == "pwcca":
        expected = aref.pwcca(x, y, neurons=wide)
    else:
        expected = aref.measure(name, x, y)
    got = sim(wide.astype(dtype), wide_y.astype(dtype), name)
    assert np.isfinite(got) and got <= 1.0
    assert abs(got - expected) <= tol, (got, expected)
    assert sim(wide.astype(dtype), wide.astype(dtype), name) == pytest.approx(1.0, abs=tol)


@pytest.mark.parametrize("name", ["cca", "procrustes", "svcca"])
def test_zero_variance_is_an_error(name):
    x = np.ones((10, 3))
    with pytest.raises(ValueError, match="x: .*same representation"):
        jaxrsa.similarity(x, np.eye(10, 3), name)


def test_near_identical_float32_never_exceeds_one(rng):
    x = rng.normal(size=(30, 7)).astype(np.float32)
    y = x + np.float32(1e-6) * rng.normal(size=x.shape).astype(np.float32)
    for name in NAMES:
        got = sim(x, y, name)
        assert 0.999 <= got <= 1.0, (name, got)


# ------------------------------------------------------------------- mutual kNN


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mutual_knn_ties_go_to_the_lower_index(rng, dtype):
    """Duplicated examples tie exactly; the lower index wins, as a stable sort would order them."""
    base = rng.normal(size=(8, 5)).astype(dtype)
    x = base[np.r_[np.arange(8), [0, 3, 3, 5, 1, 0]]]  # 14 examples, several duplicates
    y = rng.normal(size=(14, 4)).astype(dtype)
    m = measures.MutualKNN(k=4)
    idx = np.asarray(m.prepare(jax.numpy.asarray(x))).astype(int)
    for i, row in enumerate(aref.neighbours(x, 4)):
        assert set(idx[i]) == row
    assert set(idx[0][:1]) == {8}  # example 0's duplicate (similarity 1) before anything else
    assert set(idx[8][:1]) == {0} and 13 not in idx[8][:1]  # 8's first neighbour: 0 before 13
    np.testing.assert_allclose(sim(x, y, m), aref.mutual_knn(x, y, k=4), atol=1e-6)


def test_mutual_knn_needs_k_below_n_and_nonzero_examples(rng):
    x = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match=r"MutualKNN\(k=10\) needs at least 11 examples, got 10"):
        jaxrsa.similarity(x, x, "mutual_knn")
    assert sim(x, x[:, ::-1], measures.MutualKNN(k=9)) == 1.0
    x[4] = 0.0
    with pytest.raises(ValueError, match="x: .*example 4 has zero norm"):
        jaxrsa.similarity(x, x + 1, measures.MutualKNN(k=3))


# ------------------------------------------------------------------- invariances

transforms = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "scale": st.floats(0.01, 100.0),
        "shift": st.floats(-50.0, 50.0),
    }
)


@settings(max_examples=10, deadline=None)
@given(transforms)
@pytest.mark.parametrize("name", ["cca", "cca_r2"])
def test_cca_invariant_to_invertible_linear_maps_of_either_side(name, t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng)
    before = sim(x, y, name)
    ax, ay = aref.random_invertible(rng, 7), aref.random_invertible(rng, 11)
    after = sim(t["scale"] * x @ ax + t["shift"], y @ ay - t["shift"], name)
    assert after == pytest.approx(before, abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(transforms)
def test_pwcca_invariant_to_invertible_linear_maps_of_the_other_side(t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng)
    ay = t["scale"] * aref.random_invertible(rng, 11)
    assert sim(x, y @ ay + t["shift"], "pwcca") == pytest.approx(sim(x, y, "pwcca"), abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(transforms)
@pytest.mark.parametrize("name", ["svcca", "procrustes"])
def test_orthogonal_translation_and_scaling_invariance(name, t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng)
    qx, qy = ref.random_orthogonal(rng, 7), ref.random_orthogonal(rng, 11)
    after = sim(t["scale"] * x @ qx + t["shift"], y @ qy, name)
    assert after == pytest.approx(sim(x, y, name), abs=1e-9)


@pytest.mark.parametrize("name", ["svcca", "procrustes"])
def test_general_linear_maps_change_svcca_and_procrustes(rng, name):
    x, y = pair(rng)
    a = rng.normal(size=(7, 7)) * np.array([8.0, 1, 1, 1, 1, 0.2, 0.05])
    assert abs(sim(x @ a, y, name) - sim(x, y, name)) > 1e-2


@settings(max_examples=10, deadline=None)
@given(transforms)
def test_mutual_knn_invariant_to_orthogonal_maps_and_scaling(t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng)
    per_example = t["scale"] * rng.uniform(0.1, 10.0, size=(30, 1))
    after = sim(per_example * (x @ ref.random_orthogonal(rng, 7)), y, "mutual_knn")
    assert after == sim(x, y, "mutual_knn")


# ------------------------------------------------------------------- identities


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 2.0), st.floats(0.05, 2.0))
def test_angular_procrustes_satisfies_the_triangle_inequality(seed, a, b):
    """y lies between x and z, so the inequality is nearly tight, not trivially satisfied."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(30, 7))
    y = x @ ref.random_orthogonal(rng, 7) + a * rng.normal(size=(30, 7))
    z = np.hstack([y, np.zeros((30, 4))]) + b * rng.normal(size=(30, 11))
    angular = measures.Procrustes("angular")
    dxz, dxy, dyz = sim(x, z, angular), sim(x, y, angular), sim(y, z, angular)
    assert dxz <= dxy + dyz + 1e-12
    assert dxz == pytest.approx(np.arccos(aref.procrustes(x, z)), abs=1e-10)


def test_cca_of_orthonormal_bases_is_the_mean_cosine_of_principal_angles(rng):
    x = np.linalg.qr(aref.centre(rng.normal(size=(30, 7))))[0]  # orthonormal, centred columns
    y = np.linalg.qr(aref.centre(rng.normal(size=(30, 11)) + 2.0 * x @ rng.normal(size=(7, 11))))[0]
    cosines = np.cos(linalg.subspace_angles(x, y))
    np.testing.assert_allclose(sim(x, y, "cca"), cosines.mean(), atol=1e-12)
    np.testing.assert_allclose(sim(x, y, "cca_r2"), (cosines**2).mean(), atol=1e-12)


def test_procrustes_distances_are_zero_for_identical_representations(rng):
    reps = [rng.normal(size=(30, w)).astype(np.float32) for w in (20, 40)]
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=measures.Procrustes("angular")))
    assert np.all(np.diag(got) == 0.0) and got[0, 1] > 0.1
    assert sim(reps[0], reps[0], measures.Procrustes("euclidean")) == 0.0


# ------------------------------------------------------------------- all pairs


def zoo(rng, m, n, widths):
    base = rng.normal(size=(n, 6))
    return [
        np.tanh(base @ rng.normal(size=(6, w))) + 0.3 * rng.normal(size=(n, w))
        for w in np.resize(widths, m)
    ]


def double_loop(a, b, measure):
    return np.array([[sim(x, y, measure) for y in b] for x in a])


ALL_PAIRS = [
    ("cca", (7, 11)),  # the shapes of `pair`: compilations are shared with the tests above
    ("cca_r2", (7, 11)),
    ("svcca", (7, 11)),
    ("procrustes", (7, 11)),
    ("mutual_knn", (7, 11)),
    (measures.CCA(max_dims=6), (40, 50)),  # widths above n = 30, reduced
    (measures.Procrustes("euclidean"), (40, 50)),
]


@pytest.mark.parametrize("measure, widths", ALL_PAIRS, ids=str)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_matrix_equals_double_loop(rng, measure, widths, dtype, tol):
    reps = [r.astype(dtype) for r in zoo(rng, m=4, n=30, widths=widths)]
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure, block_size=3))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, double_loop(reps, reps, measure), rtol=0, atol=tol)
    assert np.array_equal(got, got.T)


def test_matrix_with_widths_below_and_above_n(rng):
    measure = measures.CCA(max_dims=6)
    reps = zoo(rng, m=6, n=16, widths=(4, 20, 30))
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure, block_size=4))
    np.testing.assert_allclose(got, double_loop(reps, reps, measure), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_matrix_matches_float64_reference(rng, name):
    reps = [r.astype(np.float32) for r in zoo(rng, m=4, n=30, widths=(7, 11))]
    expected = np.array([[aref.measure(name, x, y) for y in reps] for x in reps])
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=name))
    np.testing.assert_allclose(got, expected, atol=2e-5)


def test_pwcca_cross_matrix_equals_double_loop(rng):
    """n = 30 > d_x + d_y + 1 for every pair: no canonical correlation is forced to tie at 1."""
    reps = zoo(rng, m=4, n=30, widths=(7, 11))
    got = np.asarray(jaxrsa.similarity_matrix(reps, reps, measure="pwcca", block_size=3))
    np.testing.assert_allclose(got, double_loop(reps, reps, "pwcca"), rtol=0, atol=1e-12)
    assert not np.allclose(got, got.T)


def test_pwcca_matrix_of_one_set_equals_double_loop(rng):
    reps = zoo(rng, m=4, n=30, widths=(7, 11))
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure="pwcca", block_size=3))
    np.testing.assert_allclose(got, double_loop(reps, reps, "pwcca"), rtol=0, atol=1e-12)


def test_second_call_with_same_shapes_does_not_recompile(rng):
    reps = zoo(rng, m=4, n=30, widths=(7, 11))
    jaxrsa.similarity_matrix(reps, measure="cca", block_size=3)
    fns = (_layout.prepare_chunk, _layout.block)
    sizes = [f._cache_size() for f in fns]
    jaxrsa.similarity_matrix([r + 1.0 for r in reps], measure=measures.CCA(), block_size=3)
    assert [f._cache_size() for f in fns] == sizes


# ------------------------------------------------------------------- bad options and jit


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: measures.CCA(max_dims=0), "max_dims must be a positive integer"),
        (lambda: measures.CCA(max_dims=2.5), "max_dims must be a positive integer"),
        (lambda: measures.SVCCA(variance=0.9, max_dims=3), "either variance or max_dims"),
        (lambda: measures.SVCCA(variance=1.5), r"variance must be a fraction in \(0, 1\]"),
        (lambda: measures.SVCCA(variance=0.0), "variance must be a finite positive number"),
        (lambda: measures.PWCCA(side="z"), "unknown PWCCA side 'z'"),
        (lambda: measures.Procrustes(output="cosine"), "unknown Procrustes output"),
        (lambda: measures.MutualKNN(k=0), "k must be a positive integer"),
    ],
)
def test_bad_options_fail_at_construction(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("name", NAMES)
def test_measure_call_works_under_jit(rng, name):
    x, y = pair(rng)
    got = float(jax.jit(measures.get(name))(x, y))
    np.testing.assert_allclose(got, aref.measure(name, x, y), atol=1e-10)


def test_public_names():
    assert set(measures.names()) >= set(NAMES)
    for name in ("CCA", "SVCCA", "PWCCA", "Procrustes", "MutualKNN"):
        assert name in measures.__all__ and hasattr(measures, name)


# google/svcca `pwcca.compute_pwcca(acts1, acts2)[0]` (commit 1f3fbf1), run once on these centred
# inputs (transposed to google's [neurons, examples]; for d_x > d_y on (y, x), since google's
# code raises an IndexError there).
GOOGLE_PWCCA = [
    ((40, 5, 7, 0), 0.7598208261371834),
    ((60, 8, 6, 1), 0.7581698998897576),
    ((50, 4, 4, 2), 0.64298341128616),
]


def google_pair(n, dx, dy, seed):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, dx))
    y = np.tanh(x @ r.normal(size=(dx, dy))) + 0.5 * r.normal(size=(n, dy))
    return x - x.mean(0), y - y.mean(0)


def google_reference(x, y, signs):
    """google's formula (narrower side weighted; x narrower here) in float64 NumPy, with the
    signs of its canonical directions given: Xc u_i + mean_i, QR, weights over uncentred x."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    ux, sx, _ = np.linalg.svd(xc, full_matrices=False)
    uy = np.linalg.svd(yc, full_matrices=False)[0]
    a, rho, _ = np.linalg.svd(ux.T @ uy)
    p = np.linalg.qr((ux * sx) @ (a * signs) + x.mean(0))[0]
    weights = np.abs(p.T @ x).sum(axis=1)
    return float(weights @ rho / weights.sum())


@pytest.mark.parametrize("shape, expected", GOOGLE_PWCCA)
def test_pwcca_google_convention_reproduces_google_svcca(shape, expected):
    x, y = google_pair(*shape)
    got = sim(x, y, measures.PWCCA(convention="google"))
    assert got == pytest.approx(expected, abs=1e-6)
    narrow, wide = (x, y) if x.shape[1] <= y.shape[1] else (y, x)
    assert google_reference(narrow, wide, np.ones(narrow.shape[1])) == pytest.approx(
        expected, abs=1e-10
    )
    assert abs(got - sim(x, y, "pwcca")) > 1e-3  # the conventions differ


def test_pwcca_google_convention_on_uncentred_activations_is_one_of_the_sign_choices():
    """google adds the neuron means back, so its value depends on the signs of the SVD."""
    x, y = google_pair(40, 4, 6, 3)
    x, y = x + 1.0, y + 2.0
    got = sim(x, y, measures.PWCCA(convention="google"))
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * 4)).reshape(4, -1).T
    variants = np.array([google_reference(x, y, s) for s in signs])
    assert np.abs(variants - got).min() < 1e-10
    assert np.ptp(variants) > 1e-3  # the documented ambiguity is real


def test_pwcca_google_convention_options():
    with pytest.raises(ValueError, match="leave side='x'"):
        measures.PWCCA(convention="google", side="y")
    with pytest.raises(ValueError, match="unknown PWCCA convention"):
        measures.PWCCA(convention="svcca")
    assert measures.PWCCA().translation_invariant
    assert not measures.PWCCA(convention="google").translation_invariant


def resi_svcca(x, y):
    """ReSi's `SVCCA` as its code computes it, in float64 NumPy: each side centred and reduced to
    its first k principal components, k the first index where the cumulative explained fraction
    reaches 0.99 times the total sum of s^2 (its `top_k_pca_comps`), then google's covariance
    CCA (`get_cca_similarity`, epsilon 1e-10: rescaled covariances, small directions removed,
    epsilon on the diagonal, pseudo-inverse square roots) and the mean of every coefficient."""

    def reduce(a):
        a = a - a.mean(axis=0)
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        total = np.sum(s**2)
        k = int(np.argmax(np.cumsum(s**2) / total >= 0.99 * total)) + 1
        return a @ vt[:k].T

    def inverse_root(c):
        w, v = np.linalg.eigh(np.linalg.pinv(c))
        return v @ np.diag(np.sqrt(w)) @ v.T

    a, b = reduce(x), reduce(y)
    cov = np.cov(a.T, b.T).reshape(a.shape[1] + b.shape[1], -1)
    ka = a.shape[1]
    sxx, sxy, syy = cov[:ka, :ka], cov[:ka, ka:], cov[ka:, ka:]
    xmax, ymax = np.abs(sxx).max(), np.abs(syy).max()
    sxx, syy, sxy = sxx / xmax, syy / ymax, sxy / np.sqrt(xmax * ymax)
    keep_x, keep_y = np.diag(sxx) >= 1e-10, np.diag(syy) >= 1e-10
    sxx, syy, sxy = sxx[keep_x][:, keep_x], syy[keep_y][:, keep_y], sxy[keep_x][:, keep_y]
    sxx, syy = sxx + 1e-10 * np.eye(len(sxx)), syy + 1e-10 * np.eye(len(syy))
    rho = np.linalg.svd(inverse_root(sxx) @ sxy @ inverse_root(syy), compute_uv=False)
    return float(np.mean(np.abs(rho)))


def scaled_to_total(a, total):
    """`a` scaled so that the sum of its centred squares (sum of s^2) is `total`."""
    return a * np.sqrt(total / np.sum((a - a.mean(axis=0)) ** 2))


@pytest.mark.parametrize("totals", [(None, None), (0.98, 0.6), (0.995, 1.5)])
def test_svcca_resi_convention_reproduces_resi(rng, totals):
    x, y = pair(rng, n=60, dx=6, dy=8)
    tx, ty = totals
    x = x if tx is None else scaled_to_total(x, tx)
    y = y if ty is None else scaled_to_total(y, ty)
    got = sim(x, y, measures.SVCCA(convention="resi"))
    assert got == pytest.approx(resi_svcca(x, y), abs=1e-9)
    assert abs(got - sim(x, y, "svcca")) > 1e-3  # ReSi's rule keeps fewer directions


def test_svcca_resi_convention_keeps_one_direction_at_ordinary_scale(rng):
    """The documented bug: with sum s^2 > 1 / 0.99, ReSi's SVCCA is |corr| of the first PCs."""
    x, y = pair(rng, n=60, dx=6, dy=8)
    pcs = [np.linalg.svd(a - a.mean(0), full_matrices=False)[0][:, 0] for a in (x, y)]
    first = abs(np.corrcoef(*pcs)[0, 1])
    assert sim(x, y, measures.SVCCA(convention="resi")) == pytest.approx(first, abs=1e-10)
    small = scaled_to_total(x, 0.98), scaled_to_total(y, 0.98)
    assert abs(sim(*small, measures.SVCCA(convention="resi")) - first) > 1e-3  # scale matters
    assert not measures.SVCCA(convention="resi").scale_invariant
    assert measures.SVCCA().scale_invariant


def test_svcca_convention_options():
    with pytest.raises(ValueError, match="unknown SVCCA convention"):
        measures.SVCCA(convention="google")
    with pytest.raises(ValueError, match="no max_dims"):
        measures.SVCCA(convention="resi", max_dims=3)


@pytest.mark.parametrize("offset", [0.0, 3.0])
def test_mutual_knn_of_coinciding_examples_raises(rng, offset):
    y = rng.normal(size=(20, 3))
    same = np.tile(rng.normal(size=(1, 3)), (20, 1)) + offset
    with pytest.raises(ValueError, match="x: .*all its examples point the same way"):
        jaxrsa.similarity(same, y, "mutual_knn")
    with pytest.raises(ValueError, match=r"reps\[1\]: .*point the same way"):
        jaxrsa.similarity_matrix([y, same], measure="mutual_knn")
