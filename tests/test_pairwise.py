"""similarity_matrix: equals the double loop, blocking and budgets change nothing, ragged widths."""

import numpy as np
import pytest

import jaxrsa
from jaxrsa import _inputs, measures
from jaxrsa._pairwise import _engine, _layout
from tests import references as ref

NAMES = measures.names()


def zoo(rng, m=7, n=16, widths=(5,)):
    """m models of the same n examples; widths cycle through `widths`."""
    base = rng.normal(size=(n, 6))
    return [
        np.tanh(base @ rng.normal(size=(6, w)) + 0.3 * rng.normal(size=(n, w)))
        for w in np.resize(widths, m)
    ]


def double_loop(reps, others, name):
    return np.array([[float(jaxrsa.similarity(x, y, name)) for y in others] for x in reps])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matrix_equals_double_loop(rng, name, dtype, tol):
    reps = np.stack(zoo(rng, m=5)).astype(dtype)
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=name))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, double_loop(reps, reps, name), rtol=0, atol=tol)
    assert np.array_equal(got, got.T) or not measures.get(name).symmetric


@pytest.mark.parametrize("name", ["rsa", "rsa_spearman", "cka_debiased"])
def test_matrix_matches_float64_reference(rng, name):
    reps = zoo(rng, m=4, widths=(3, 8))
    expected = np.array([[ref.measure(name, x, y) for y in reps] for x in reps])
    got = np.asarray(jaxrsa.similarity_matrix([r.astype(np.float32) for r in reps], measure=name))
    np.testing.assert_allclose(got, expected, atol=2e-5)


@pytest.mark.parametrize("name", ["rsa", "cka", "rsa_pearson"])
@pytest.mark.parametrize("block_size", [1, 2, 3, 5, 11])
def test_blocked_equals_unblocked(rng, name, block_size):
    reps = np.stack(zoo(rng, m=11))
    whole = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, block_size=11))
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, block_size=block_size))
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", ["rsa", "cka_rbf"])
def test_small_budget_streams_blocks_and_changes_nothing(rng, name):
    reps = zoo(rng, m=10, widths=(4, 9, 6))
    whole = np.asarray(jaxrsa.similarity_matrix(reps, measure=name))
    n, f = 16, 8  # float64 bytes
    features = n * n * f  # upper bound of one prepared model
    budget = measures.get(name).workspace(n, 9) * f + 5 * features
    plan_blocks = _engine.job(
        measures.get(name), _inputs.as_reps(reps), None, None, budget, None, "float32"
    ).plan
    assert plan_blocks.capacity < len(plan_blocks.blocks)  # really streams
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, memory_budget=budget))
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-13)


def test_budget_too_small_names_the_minimum(rng):
    reps = np.stack(zoo(rng, m=3))
    with pytest.raises(ValueError, match=r"memory_budget=1000 bytes is too small.*at least \d+"):
        jaxrsa.similarity_matrix(reps, memory_budget=1000)


def test_ragged_widths_list_and_dict(rng):
    reps = zoo(rng, m=6, widths=(3, 10, 4))
    as_list = np.asarray(jaxrsa.similarity_matrix(reps, measure="cka"))
    named = dict(zip("abcdef", reps, strict=True))
    as_dict = np.asarray(jaxrsa.similarity_matrix(named, measure="cka"))
    np.testing.assert_array_equal(as_list, as_dict)
    np.testing.assert_allclose(as_list, double_loop(reps, reps, "cka"), atol=1e-12)


@pytest.mark.parametrize("name", ["rsa", "rsa_spearman"])
def test_others_gives_the_cross_matrix(rng, name):
    reps = zoo(rng, m=5, widths=(4, 7))
    a, b = reps[:3], reps[3:] + [reps[0] * 2.0]
    got = np.asarray(jaxrsa.similarity_matrix(a, b, measure=name, block_size=2))
    assert got.shape == (3, 3)
    np.testing.assert_allclose(got, double_loop(a, b, name), atol=1e-12)


def test_diagonal_is_the_self_similarity(rng):
    reps = np.stack(zoo(rng, m=6)).astype(np.float32)
    got = np.asarray(jaxrsa.similarity_matrix(reps, block_size=4))
    np.testing.assert_allclose(np.diag(got), 1.0, atol=2e-7)
    assert np.all(np.diag(got) <= 1.0)


def test_second_call_with_same_shapes_does_not_recompile(rng):
    reps = np.stack(zoo(rng, m=6))
    jaxrsa.similarity_matrix(reps, measure="rsa_pearson", block_size=4)
    sizes = [f._cache_size() for f in (_layout.prepare_chunk, _layout.block)]
    jaxrsa.similarity_matrix(reps + 1.0, measure="rsa_pearson", block_size=4)
    jaxrsa.similarity_matrix(reps, measure=measures.RSA("correlation", "pearson"), block_size=4)
    assert [f._cache_size() for f in (_layout.prepare_chunk, _layout.block)] == sizes


def test_memory_mapped_input_equals_in_memory(rng, tmp_path):
    reps = np.stack(zoo(rng, m=5))
    np.save(tmp_path / "reps.npy", reps)
    mapped = np.load(tmp_path / "reps.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        np.asarray(jaxrsa.similarity_matrix(mapped, block_size=2)),
        np.asarray(jaxrsa.similarity_matrix(reps, block_size=2)),
    )


@pytest.mark.parametrize(
    "reps, kwargs, match",
    [
        (np.ones((3, 4)), {}, r"reps: an array of models must have shape \[m, n, d\]"),
        ([], {}, "reps: no models given"),
        ("abc", {}, "expected an \\[m, n, d\\] array, a list or a dict"),
        (
            {"a": np.ones((5, 2)), "b": np.ones((6, 2))},
            {},
            "reps\\['b'\\]: has 6 examples but reps\\['a'\\] has 5",
        ),
        ([np.eye(5, 2) + 1, np.ones((5,))], {}, r"reps\[1\]: expected activations of shape"),
        ([np.eye(5, 2)] * 2, {"others": [np.ones((4, 2))]}, "others\\[0\\]: has 4 examples"),
        (
            [np.eye(5, 2) + 1, np.eye(5, 2)],
            {"measure": "rsa"},
            "reps\\[1\\]: .*example 2 has zero norm",
        ),
        (
            [np.eye(5, 2) + 1, np.where(np.eye(5, 2), np.nan, 1)],
            {"measure": "cka"},
            "reps\\[1\\]: activations contain a non-finite value",
        ),
        ([np.eye(5, 2) + 1] * 2, {"block_size": 0}, "block_size must be a positive integer"),
        ([np.eye(5, 2).astype(complex)] * 2, {}, "real numbers"),
    ],
)
def test_bad_input_is_a_clear_error(reps, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        jaxrsa.similarity_matrix(reps, **kwargs)


def test_public_names():
    assert {"rdm", "rsm", "similarity", "similarity_matrix", "measures"} <= set(jaxrsa.__all__)
    for name in jaxrsa.__all__:
        assert hasattr(jaxrsa, name)
    assert set(NAMES) >= {
        "rsa",
        "rsa_rowwise_pearson",
        "rsa_pearson",
        "rsa_spearman",
        "rsa_cosine",
        "cka",
        "cka_debiased",
        "cka_rbf",
    }


@pytest.mark.parametrize("precision, tol", [("tf32", 5e-3), ("bfloat16", 5e-3)])
@pytest.mark.parametrize("name", ["rsa", "cka"])
def test_reduced_precision_stays_close_to_float64(rng, precision, tol, name):
    reps = np.stack(zoo(rng, m=6, n=40)).astype(np.float32)
    exact = double_loop(reps.astype(np.float64), reps.astype(np.float64), name)
    got = np.asarray(jaxrsa.similarity_matrix(reps, measure=name, precision=precision))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact, rtol=0, atol=tol)


def test_reduced_precision_is_only_for_gram_measures(rng):
    reps = np.stack(zoo(rng, m=3))
    with pytest.raises(ValueError, match="applies to Gram-type measures"):
        jaxrsa.similarity_matrix(reps, measure="procrustes", precision="bfloat16")
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        jaxrsa.similarity_matrix(reps, precision="fp8")


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_diagonal_is_rounded_as_the_entries_beside_it(rng, precision):
    """The diagonal comes from the block products: a model and its copy give the same entry
    off and on the diagonal, bit for bit, also with bfloat16 storage."""
    x, y = zoo(rng, m=2, n=20)
    got = np.asarray(
        jaxrsa.similarity_matrix(
            [x.astype(np.float32), x.astype(np.float32), y.astype(np.float32)],
            measure="rsa_pearson",
            precision=precision,
            block_size=3,
        )
    )
    assert got[0, 1] == got[0, 0] == got[1, 1]
    assert got[0, 2] == got[1, 2]
