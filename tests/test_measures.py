"""Every Gram-type measure against its float64 reference, its invariances, and bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxrsa
from jaxrsa import measures
from tests import references as ref

GRAM = [
    "rsa",
    "rsa_rowwise_cosine",
    "rsa_rowwise_pearson",
    "rsa_pearson",
    "rsa_spearman",
    "rsa_cosine",
    "cka",
    "cka_debiased",
    "cka_rbf",
]


def pair(rng, n=30, dx=7, dy=11):
    x = rng.normal(size=(n, dx))
    y = np.tanh(x @ rng.normal(size=(dx, dy))) + 0.5 * rng.normal(size=(n, dy))
    return x, y


@pytest.mark.parametrize("name", GRAM)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-5)])
def test_matches_reference(rng, name, dtype, tol):
    x, y = pair(rng)
    expected = ref.measure(name, x, y)
    got = jaxrsa.similarity(x.astype(dtype), y.astype(dtype), name)
    assert got.dtype == dtype
    assert abs(float(got) - expected) <= tol, (float(got), expected)
    assert 0.05 < abs(expected) < 0.999  # the test would catch a wrong measure


@pytest.mark.parametrize(
    "measure, reference",
    [
        ("rsa_pearson", lambda x, y: ref.measure("rsa_pearson", x, y)),
        ("rsa_spearman", lambda x, y: ref.measure("rsa_spearman", x, y)),
        ("rsa_cosine", lambda x, y: ref.measure("rsa_cosine", x, y)),
        ("cka", lambda x, y: ref.measure("cka", x, y)),
        (
            measures.RSA(first="euclidean", second="pearson"),
            lambda x, y: ref.rsa_triangle(x, y, "euclidean", "pearson"),
        ),
        (
            measures.RSA(first="sqeuclidean", second="cosine"),
            lambda x, y: ref.rsa_triangle(x, y, "sqeuclidean", "cosine"),
        ),
    ],
)
@pytest.mark.parametrize("n", [601, 2101])
def test_triangle_measures_across_row_blocks(rng, measure, reference, n):
    """n past one row block of the blocked Gram triangle, blocks of unequal sizes."""
    x, y = pair(rng, n=n, dx=20, dy=13)
    got = float(jaxrsa.similarity(x, y, measure))
    np.testing.assert_allclose(got, reference(x, y), rtol=0, atol=1e-10)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    np.testing.assert_allclose(float(jaxrsa.similarity(x32, y32, measure)), got, atol=2e-5)


@pytest.mark.parametrize("name", GRAM)
def test_symmetric_and_self_similarity_one(rng, name):
    x, y = pair(rng)
    assert float(jaxrsa.similarity(x, y, name)) == pytest.approx(
        float(jaxrsa.similarity(y, x, name)), abs=1e-12
    )
    assert float(jaxrsa.similarity(x, x, name)) == pytest.approx(1.0, abs=1e-12)


def test_spearman_averages_ties(rng):
    """Ties get average ranks, equal to SciPy's on the exact distances of repeated examples
    (tests/test_rsa_forms.py checks the ties of integer data and of every rank comparison)."""
    from scipy import stats
    from scipy.spatial.distance import pdist, squareform

    base = rng.normal(size=(4, 5))
    which = rng.integers(0, 4, size=12)
    x, y = base[which], rng.normal(size=(12, 3))  # repeated examples
    i, j = np.triu_indices(12, 1)
    tx = squareform(pdist(base, "correlation"))[which[i], which[j]]
    assert len(np.unique(tx)) < len(tx) // 2
    expected = stats.spearmanr(tx, pdist(y, "correlation"))[0]
    np.testing.assert_allclose(float(jaxrsa.similarity(x, y, "rsa_spearman")), expected, atol=1e-12)


def test_rank_paths_agree(rng):
    from scipy.stats import rankdata as scipy_rankdata

    from jaxrsa._rank import rankdata_host, rankdata_xla

    for v in [rng.normal(size=1001), np.round(rng.normal(size=500), 1), np.array([0.0, -0.0, 1.0])]:
        for dtype in (np.float32, np.float64):
            w = v.astype(dtype)
            expected = scipy_rankdata(w)
            for f in (rankdata_host, rankdata_xla):
                np.testing.assert_array_equal(np.asarray(jax.jit(f)(jnp.asarray(w))), expected)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=60),
    st.sampled_from([np.float32, np.float64]),
    st.floats(0.01, 10.0),
)
def test_host_ranks_equal_scipy_with_many_ties(values, dtype, scale):
    from scipy.stats import rankdata as scipy_rankdata

    from jaxrsa._rank import _rank_rows_host

    v = (np.array(values, np.float64) * scale).astype(dtype)
    np.testing.assert_array_equal(_rank_rows_host(v[None])[0], scipy_rankdata(v))


@pytest.mark.parametrize("name", ["rsa_pearson", "cka", "cka_debiased", "rsa_rowwise_pearson"])
def test_options_objects_equal_names(rng, name):
    x, y = pair(rng)
    by_object = {
        "rsa_pearson": measures.RSA(first="correlation", second="pearson"),
        "cka": measures.CKA(),
        "cka_debiased": measures.CKA(debiased=True),
        "rsa_rowwise_pearson": measures.RSA(second="rowwise_pearson", diagonal=True),
    }[name]
    assert float(jaxrsa.similarity(x, y, by_object)) == float(jaxrsa.similarity(x, y, name))


@pytest.mark.parametrize(
    "obj, reference",
    [
        (
            measures.RSA(first="euclidean", second="spearman"),
            lambda x, y: ref.rsa_triangle(x, y, "euclidean", "spearman"),
        ),
        (
            measures.RSA(first="correlation", second="rowwise_cosine"),
            lambda x, y: ref.rsa_rowwise(x, y, "correlation", "cosine", diagonal=False),
        ),
        (
            measures.RSA(first="dot", second="rowwise_pearson"),
            lambda x, y: ref.rsa_rowwise(x, y, "dot", "pearson", diagonal=False),
        ),
        (
            measures.RSA(first="dot", second="rowwise_pearson", diagonal=True),
            lambda x, y: ref.rsa_rowwise(x, y, "dot", "pearson"),
        ),
        (
            measures.RSA(first="rbf", second="rowwise_cosine", threshold=0.8),
            lambda x, y: ref.rsa_rowwise(x, y, "rbf", "cosine", diagonal=False, threshold=0.8),
        ),
        (
            measures.CKA(kernel="rbf", threshold=1.3),
            lambda x, y: ref.cka_gram(ref.rbf_gram(x, 1.3), ref.rbf_gram(y, 1.3)),
        ),
        (
            measures.CKA(kernel="rbf", debiased=True),
            lambda x, y: ref.cka_gram(ref.rbf_gram(x), ref.rbf_gram(y), debiased=True),
        ),
    ],
)
def test_configured_measures(rng, obj, reference):
    x, y = pair(rng)
    np.testing.assert_allclose(float(jaxrsa.similarity(x, y, obj)), reference(x, y), atol=1e-10)


def test_user_defined_gram_measure(rng):
    """A measure written by a user: prepare returns a unit vector, the engine does the rest."""

    class MeanCosine(measures.GramMeasure):
        def prepare(self, x):
            v = jnp.mean(x, axis=1)
            return v / jnp.linalg.norm(v)

    reps = rng.normal(size=(5, 20, 4)) + 1.0
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=MeanCosine()))
    v = reps.mean(axis=2)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    np.testing.assert_allclose(got, v @ v.T, atol=1e-12)


# ------------------------------------------------------------------- invariances

transforms = st.fixed_dictionaries(
    {"seed": st.integers(0, 2**31 - 1), "scale": st.floats(0.01, 100.0)}
)


@settings(max_examples=12, deadline=None)
@given(transforms)
@pytest.mark.parametrize("name", ["cka", "cka_debiased", "cka_rbf"])
def test_cka_orthogonal_and_isotropic_scaling_invariance(name, t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng, n=20, dx=6, dy=6)
    q = ref.random_orthogonal(rng, 6)
    before = float(jaxrsa.similarity(x, y, name))
    after = float(jaxrsa.similarity(t["scale"] * x @ q, y, name))
    assert after == pytest.approx(before, abs=1e-9)


@settings(max_examples=12, deadline=None)
@given(transforms)
@pytest.mark.parametrize("name", ["rsa", "rsa_rowwise_cosine", "rsa_rowwise_pearson"])
def test_rsa_orthogonal_and_per_example_scaling_invariance(name, t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng, n=20, dx=6, dy=6)
    q = ref.random_orthogonal(rng, 6)
    per_example = t["scale"] * rng.uniform(0.1, 10.0, size=(20, 1))
    before = float(jaxrsa.similarity(x, y, name))
    after = float(jaxrsa.similarity(per_example * (x @ q), y, name))
    assert after == pytest.approx(before, abs=1e-9)


@settings(max_examples=8, deadline=None)
@given(transforms)
def test_linear_cka_translation_invariance(t):
    rng = np.random.default_rng(t["seed"])
    x, y = pair(rng, n=20, dx=6, dy=6)
    shift = t["scale"] * rng.normal(size=(1, 6))
    assert float(jaxrsa.similarity(x + shift, y, "cka")) == pytest.approx(
        float(jaxrsa.similarity(x, y, "cka")), abs=1e-9
    )


def test_rsa_is_not_invariant_to_general_linear_maps(rng):
    """The invariance tests above could not pass for a measure that ignores its input."""
    x, y = pair(rng, n=20, dx=6, dy=6)
    a = rng.normal(size=(6, 6)) * np.array([5.0, 1, 1, 1, 1, 0.1])
    assert abs(float(jaxrsa.similarity(x @ a, y)) - float(jaxrsa.similarity(x, y))) > 1e-3


# ------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "x, y, measure, error, match",
    [
        (np.ones((10, 3)), np.ones((10, 3, 1)), "rsa", ValueError, r"y: expected .*\[n, d\]"),
        (np.ones((10, 3)), np.ones((9, 3)), "rsa", ValueError, "y: has 9 examples but x has 10"),
        (np.eye(3), np.eye(3), "cka_debiased", ValueError, "at least 4 examples, got 3"),
        (np.eye(2, 3), np.eye(2, 3), "rsa_pearson", ValueError, "at least 3 examples"),
        (np.full((5, 2), np.inf), np.ones((5, 2)), "cka", ValueError, "x: .*non-finite.*example 0"),
        (
            np.arange(1.0, 11.0).reshape(5, 2),
            np.eye(5, 2),
            "rsa",
            ValueError,
            "y: .*example 2 has zero norm",
        ),
        (
            np.eye(5, 3) + 1,
            np.vander(np.arange(5.0), 3),
            "rsa_pearson",
            ValueError,
            "x: .*example 3 is constant across features",
        ),
        (
            np.eye(5, 3) + 1,
            np.vander(np.arange(5.0), 3),
            "rsa_spearman",  # ranks must not hide the undefined correlation
            ValueError,
            "x: .*example 3 is constant across features",
        ),
        (np.ones((5, 2)), np.eye(5, 2), "cka", ValueError, "x: .*same representation"),
        (np.ones((5, 2)), np.eye(5, 2), "nope", ValueError, "unknown measure 'nope'.*'rsa'"),
        (np.ones((5, 2)), np.eye(5, 2), 3, TypeError, "measure must be a name"),
        (np.ones((5, 0)), np.eye(5, 2), "cka", ValueError, "no features"),
    ],
)
def test_bad_input_is_a_clear_error(x, y, measure, error, match):
    with pytest.raises(error, match=match):
        jaxrsa.similarity(x, y, measure)


def test_degenerate_similarity_pattern_is_an_error():
    # Two examples in 2-D: every correlation distance is the same single value.
    x = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0]])
    with pytest.raises(ValueError, match="x: .*pairwise dissimilarities are equal"):
        jaxrsa.similarity(x, x, "rsa_pearson")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: measures.RSA(first="euclidean"), "first-order kernel for 'rowwise_pearson'"),
        (lambda: measures.RSA(second="pearson", diagonal=True), "applies to row-wise"),
        (lambda: measures.RSA(first="dot", second="spearman"), "first-order metric"),
        (lambda: measures.RSA(second="kendal"), "unknown second-order comparison"),
        (lambda: measures.CKA(kernel="poly"), "unknown CKA kernel"),
        (lambda: measures.CKA(kernel="rbf", threshold=-1), "threshold must be"),
    ],
)
def test_bad_options_fail_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_measure_call_works_under_jit(rng):
    x, y = pair(rng)
    m = measures.get("rsa_spearman")
    np.testing.assert_allclose(
        float(jax.jit(m)(x, y)), ref.measure("rsa_spearman", x, y), atol=1e-10
    )
