"""Permutation test and bootstrap against brute force and float64 references, coverage, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import pdist, squareform

import jaxrsa
from jaxrsa import measures
from tests import references as ref


def models(rng, m=3, n=24, d=5):
    shared = rng.normal(size=(n, d))
    return [np.tanh(shared @ rng.normal(size=(d, d + i)) + 0.8 * rng.normal(size=(n, d + i)))
            for i in range(m)]  # fmt: skip


def permutations(key, count, n):
    keys = jax.random.split(key, count)
    return [np.asarray(jax.random.permutation(k, n)) for k in keys]


# ------------------------------------------------------------------ permutation test


@pytest.mark.parametrize(
    "name", ["rsa", "rsa_rowwise_cosine", "rsa_spearman", "cka", "cka_debiased", "cka_rbf",
             "cca", "procrustes", "mutual_knn", "pwcca"],
)  # fmt: skip
def test_permutation_null_equals_brute_force(rng, name):
    """The null of (i, j) is similarity(x_i, x_j[perm]) for the replicate's permutation."""
    reps = models(rng, m=3, n=20 if name != "mutual_knn" else 30)
    count, key = 12, jax.random.key(3)
    res = jaxrsa.permutation_test(reps, measure=name, n_permutations=count, key=key)
    n = reps[0].shape[0]
    observed = np.array([[float(jaxrsa.similarity(a, b, name)) for b in reps] for a in reps])
    null = np.array(
        [
            [[float(jaxrsa.similarity(a, b[p], name)) for b in reps] for a in reps]
            for p in permutations(key, count, n)
        ]
    )
    tol = 1e-9
    np.testing.assert_allclose(res.similarity, observed, atol=tol)
    np.testing.assert_allclose(res.null_mean, null.mean(0), atol=tol)
    np.testing.assert_allclose(res.null_std, null.std(0, ddof=1), atol=1e-8)
    larger = measures.get(name).larger_is_more_similar
    extreme = (null >= observed - 1e-12) if larger else (null <= observed + 1e-12)
    np.testing.assert_allclose(res.p_value, (1 + extreme.sum(0)) / (1 + count))
    assert res.n_permutations == count


@pytest.mark.parametrize("second", ["pearson", "kendall"])
def test_permutation_of_precomputed_rdms_permutes_rows_and_columns(rng, second):
    """A precomputed RDM's examples index its rows and columns: the null permutes both (the
    gather path for triangle comparisons, preparing again for Kendall's per-pair work)."""
    dx, dy = (squareform(pdist(v, "correlation")) for v in models(rng, m=2, n=18))
    measure = measures.RSA(first="precomputed", second=second)
    count, key = 6, jax.random.key(8)
    res = jaxrsa.permutation_test([dx, dy], measure=measure, n_permutations=count, key=key)
    i, j = np.triu_indices(18, 1)
    compare = stats.pearsonr if second == "pearson" else stats.kendalltau
    null = [compare(dx[i, j], dy[np.ix_(p, p)][i, j])[0] for p in permutations(key, count, 18)]
    np.testing.assert_allclose(res.null_mean[0, 1], np.mean(null), atol=1e-10)
    np.testing.assert_allclose(res.null_std[0, 1], np.std(null, ddof=1), atol=1e-9)


def test_permutation_test_with_others_and_calibration(rng):
    a, b = models(rng, m=2), models(rng, m=3)
    res = jaxrsa.permutation_test(a, b, "rsa_pearson", n_permutations=30, key=jax.random.key(1))
    assert res.similarity.shape == res.p_value.shape == (2, 3)
    mean = np.asarray(res.null_mean, np.float64)
    expected = (np.asarray(res.similarity) - mean) / (1 - mean)
    np.testing.assert_allclose(res.calibrated, expected, atol=1e-12)
    assert np.isfinite(np.asarray(res.calibrated)).all()


def test_permutation_p_values_separate_related_from_unrelated(rng):
    n = 60
    x = rng.normal(size=(n, 8))
    related = x @ rng.normal(size=(8, 8)) + 0.5 * rng.normal(size=(n, 8))
    unrelated = rng.normal(size=(n, 8))
    res = jaxrsa.permutation_test([x, related, unrelated], n_permutations=199,
                                  key=jax.random.key(0))  # fmt: skip
    p = np.asarray(res.p_value)
    assert p[0, 1] == pytest.approx(1 / 200)
    assert p[0, 2] > 0.05 and p[1, 2] > 0.05
    assert abs(float(res.calibrated[0, 2])) < 0.2


def test_permutation_p_values_are_uniform_under_the_null(rng):
    """Unrelated models: p-values roughly uniform (the test is calibrated, not just small)."""
    reps = [rng.normal(size=(30, 4)) for _ in range(12)]
    res = jaxrsa.permutation_test(reps, measure="rsa_pearson", n_permutations=99,
                                  key=jax.random.key(2))  # fmt: skip
    p = np.asarray(res.p_value)[np.triu_indices(12, 1)]
    assert 0.25 < p.mean() < 0.75
    assert 0.0 < (p <= 0.1).mean() < 0.3


def test_permutation_gather_equals_prepare_of_permuted_examples(rng):
    """`example_pairs` is what lets a permutation act on prepared vectors: check every Gram-type
    measure with a pair layout against preparing the permuted activations."""
    n = 17
    x = rng.normal(size=(n, 5))
    perm = rng.permutation(n)
    checked = 0
    for name in measures.names():
        m = measures.get(name)
        pairs = m.example_pairs(n) if isinstance(m, measures.GramMeasure) else None
        if pairs is None:
            continue
        rows, cols = pairs
        pos = -np.ones((n, n), int)
        pos[rows, cols] = np.arange(rows.size)
        pos = np.where(pos < 0, pos.T, pos)
        gathered = np.asarray(m.prepare(x))[pos[perm[rows], perm[cols]]]
        np.testing.assert_allclose(gathered, m.prepare(x[perm]), atol=1e-12, err_msg=name)
        np.testing.assert_allclose(m.prepare_resampled(x, np.arange(n)), m.prepare(x),
                                   atol=1e-12, err_msg=name)  # fmt: skip
        checked += 1
    assert checked >= 9


@pytest.mark.parametrize("name", ["rsa", "cka", "rsa_pearson"])
def test_permutation_null_without_room_for_the_gather(rng, monkeypatch, name):
    """Where the permuted side's `[n, n]` matrices do not fit, the permuted activations are
    prepared instead: the same null, replicate by replicate."""
    from jaxrsa._inference import _permutation

    a, b = models(rng, m=2, n=21), models(rng, m=3, n=21)
    kw = {"measure": name, "n_permutations": 9, "key": jax.random.key(5)}
    gathered = jaxrsa.permutation_test(a, b, **kw)
    monkeypatch.setattr(_permutation._replicates, "matrices_fit", lambda *args: False)
    prepared = jaxrsa.permutation_test(a, b, **kw)
    for field in ("null_mean", "null_std", "p_value"):
        np.testing.assert_allclose(
            getattr(prepared, field), getattr(gathered, field), atol=1e-12, err_msg=field
        )


def test_replicates_hold_pair_matrices_while_they_fit_half_the_budget(rng):
    from jaxrsa._inference import _models, _replicates

    loaded = _models.load(measures.get("rsa"), models(rng, m=2, n=21), models(rng, m=3, n=21))
    held = 3 * 21 * 21 * 8  # side b's float64 [n, n] matrices
    assert _replicates.matrices_fit(loaded.b, 21, 2 * held)
    assert not _replicates.matrices_fit(loaded.b, 21, 2 * held - 1)
    both = 2 * (2 + 3) * 21 * 21 * 8
    assert _replicates.pair_matrices_fit(measures.get("rsa"), loaded, both)
    assert not _replicates.pair_matrices_fit(measures.get("rsa"), loaded, both - 1)
    assert not _replicates.pair_matrices_fit(measures.get("cka_rbf"), loaded, both)
    assert not _replicates.pair_matrices_fit(measures.get("cca"), loaded, both)


# ------------------------------------------------------------------ bootstrap


def _rsa_pearson_without_copies(x, y, idx):
    """Independent reference: Pearson r of correlation distances over pairs of distinct
    examples only (a pair of an example with its own copy is left out)."""
    a, b = pdist(x[idx], "correlation"), pdist(y[idx], "correlation")
    i, j = np.triu_indices(len(idx), 1)
    keep = idx[i] != idx[j]
    return stats.pearsonr(a[keep], b[keep])[0]


def _rsa_without_copies(x, y, idx):
    sx, sy = ref.rsm(x[idx], "cosine"), ref.rsm(y[idx], "cosine")
    keep = idx[:, None] != idx[None, :]
    return np.mean([stats.pearsonr(a[k], b[k])[0] for a, b, k in zip(sx, sy, keep, strict=True)])


@pytest.mark.parametrize(
    "name, reference", [("rsa_pearson", _rsa_pearson_without_copies), ("rsa", _rsa_without_copies)]
)
def test_bootstrap_replicates_leave_copies_out(rng, name, reference):
    x, y = models(rng, m=2, n=25)
    count, key = 6, jax.random.key(5)
    res, values = jaxrsa.bootstrap([x, y], measure=name, n_resamples=count, key=key,
                                   return_replicates=True)  # fmt: skip
    for r, k in enumerate(jax.random.split(key, count)):
        idx = np.asarray(jax.random.randint(k, (25,), 0, 25))
        assert np.unique(idx).size < 25  # the case that matters: the resample has copies
        assert values[r, 0, 1] == pytest.approx(reference(x, y, idx), abs=1e-10)
    tail = np.percentile(values[:, 0, 1], [2.5, 97.5])
    np.testing.assert_allclose([res.low[0, 1], res.high[0, 1]], tail)
    np.testing.assert_allclose(res.std[0, 1], values[:, 0, 1].std(ddof=1))


@pytest.mark.parametrize("name", ["cca", "procrustes", "cka"])
def test_bootstrap_replicates_of_other_measures(rng, name):
    """Measures not built on pairs of examples prepare the resample as it is."""
    x, y = models(rng, m=2, n=40, d=3)
    count, key = 4, jax.random.key(7)
    _, values = jaxrsa.bootstrap([x, y], measure=name, n_resamples=count, key=key,
                                 return_replicates=True)  # fmt: skip
    for r, k in enumerate(jax.random.split(key, count)):
        idx = np.asarray(jax.random.randint(k, (40,), 0, 40))
        if name == "cka":  # pairs of copies zeroed in the centred Grams, diagonal kept
            xc, yc = x[idx] - x[idx].mean(0), y[idx] - y[idx].mean(0)
            copy = (idx[:, None] == idx[None, :]) & ~np.eye(40, dtype=bool)
            kx, ky = np.where(copy, 0, xc @ xc.T), np.where(copy, 0, yc @ yc.T)
            expected = np.sum(kx * ky) / np.linalg.norm(kx) / np.linalg.norm(ky)
        else:
            expected = float(jaxrsa.similarity(x[idx], y[idx], name))
        assert values[r, 0, 1] == pytest.approx(expected, abs=1e-9)


def test_bootstrap_gathers_pair_matrices_as_it_prepares_resamples(rng, monkeypatch):
    """Every measure with a pair matrix: gathering it per resample gives the replicates of
    preparing the resampled activations again (the resample's own kernel, RDM or Gram)."""
    from jaxrsa._inference import _replicates
    from jaxrsa.measures._base import copies

    x, y, z = models(rng, m=3, n=23)
    idx = np.asarray(jax.random.randint(jax.random.key(2), (23,), 0, 23))
    checked = []
    for name in measures.names():
        m = measures.get(name)
        if not isinstance(m, measures.GramMeasure) or m.pair_matrix(x) is None:
            continue
        if isinstance(m, measures.CKA):  # the resample centred at its own mean
            xr = x[idx] - x[idx].mean(0)
            again = m._finish_resampled(jnp.asarray(xr @ xr.T), jnp.asarray(idx))
        elif isinstance(m, measures.RSA) and m.second.startswith("rowwise"):
            again = m._finish(m._first.matrix(x[idx]), ~copies(jnp.asarray(idx), m.diagonal))
        elif m.second in ("corr_cov", "cosine_cov"):  # copies kept: the resample's own kernel
            again = m.prepare(x[idx])
        else:  # the triangle of the resample's RDM (ranks: of its exact ordinal values)
            i, j = np.triu_indices(23, 1)
            values = m._comparison.values(m._first, x[idx])
            again = m._comparison.finish(values, jnp.asarray(idx[i] != idx[j]))
        np.testing.assert_allclose(m.prepare_resampled(x, idx), again, atol=1e-12, err_msg=name)
        checked.append(name)
    assert {"rsa", "rsa_pearson", "rsa_spearman", "cka", "cka_debiased"} <= set(checked)
    for name in ("rsa", "cka_debiased", "rsa_spearman"):
        kw = {"measure": name, "n_resamples": 5, "key": jax.random.key(9)}
        _, gathered = jaxrsa.bootstrap([x, y], [z], return_replicates=True, **kw)
        with monkeypatch.context() as patch:
            patch.setattr(_replicates, "pair_matrices_fit", lambda *args: False)
            _, again = jaxrsa.bootstrap([x, y], [z], return_replicates=True, **kw)
        np.testing.assert_allclose(gathered, again, atol=1e-12, err_msg=name)


def test_bootstrap_of_precomputed_rdms_resamples_rows_and_columns(rng):
    x, y = models(rng, m=2, n=20)
    dx, dy = (squareform(pdist(v, "correlation")) for v in (x, y))
    measure = measures.RSA(first="precomputed", second="pearson")
    count, key = 5, jax.random.key(4)
    _, values = jaxrsa.bootstrap([dx, dy], measure=measure, n_resamples=count, key=key,
                                 return_replicates=True)  # fmt: skip
    for r, k in enumerate(jax.random.split(key, count)):
        idx = np.asarray(jax.random.randint(k, (20,), 0, 20))
        expected = _rsa_pearson_without_copies(x, y, idx)
        assert values[r, 0, 1] == pytest.approx(expected, abs=1e-10)


def test_bootstrap_of_a_model_constant_on_some_examples_names_the_resample(rng):
    """A model constant on the examples a resample draws is undefined there, not noise."""
    x = rng.normal(size=(12, 4))
    y = np.repeat(rng.normal(size=(1, 4)), 12, axis=0)
    y[0] += 1.0  # defined on the sample, constant on every resample without example 0
    idx = jnp.asarray(np.r_[1:12, 1])
    for name in ("cka", "cka_debiased"):
        assert np.isnan(np.asarray(measures.get(name).prepare_resampled(y, idx))).all(), name
        assert np.isfinite(np.asarray(measures.get(name).prepare_resampled(x, idx))).all()
    with pytest.raises(ValueError, match="resample"):
        jaxrsa.bootstrap([x, y], measure="cka", n_resamples=40, key=jax.random.key(0))


def _population_pair(rng, n):
    z = rng.normal(size=(n, 3))
    x = z @ np.array([[1.0, 0.3, 0.0, 0.5], [0.0, 1.0, 0.4, 0.0], [0.2, 0.0, 1.0, 0.3]])
    y = np.tanh(z @ np.array([[0.8, 0.1, 0.0], [0.3, 1.0, 0.2], [0.0, 0.5, 1.0]]))
    return x + 0.7 * rng.normal(size=x.shape), y + 0.7 * rng.normal(size=y.shape)


@pytest.mark.parametrize("name", ["cka_debiased", "rsa_pearson"])
def test_bootstrap_intervals_cover_the_population_value(name):
    """Intervals from small samples cover the value of a large sample at about their nominal
    rate, and shrink like 1 / sqrt(n). Trials are independent samples passed as pairs (x_t, y_t):
    one call, one resample of positions shared by independent data sets."""
    rng = np.random.default_rng(11)
    truth = float(jaxrsa.similarity(*_population_pair(rng, 3000), name))
    widths = {}
    for n, trials in [(40, 48), (160, 16)]:
        pairs = [_population_pair(rng, n) for _ in range(trials)]
        res = jaxrsa.bootstrap([p[0] for p in pairs], [p[1] for p in pairs], name,
                               n_resamples=300, confidence=0.9, key=jax.random.key(n))  # fmt: skip
        low, high = np.diagonal(res.low), np.diagonal(res.high)
        widths[n] = np.mean(high - low)
        if n == 40:
            coverage = np.mean((low <= truth) & (truth <= high))
            assert 0.7 <= coverage <= 1.0, coverage
    assert 1.5 < widths[40] / widths[160] < 2.7, widths  # sqrt(160 / 40) = 2


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda r: jaxrsa.permutation_test(r, n_permutations=0, key=0), ValueError,
         "n_permutations must be a positive integer"),
        (lambda r: jaxrsa.permutation_test(r, n_permutations=2.5, key=0), TypeError,
         "n_permutations"),
        (lambda r: jaxrsa.permutation_test(r, key=None), TypeError, "key is required"),
        (lambda r: jaxrsa.bootstrap(r, key=None), TypeError, "key is required"),
        (lambda r: jaxrsa.bootstrap(r, n_resamples=-1, key=0), ValueError, "n_resamples"),
        (lambda r: jaxrsa.bootstrap(r, n_resamples="10", key=0), TypeError, "n_resamples"),
        (lambda r: jaxrsa.bootstrap(r, confidence=1.0, key=0), ValueError, r"in \(0, 1\)"),
        (lambda r: jaxrsa.bootstrap(r, confidence=0, key=0), ValueError, r"in \(0, 1\)"),
        (lambda r: jaxrsa.permutation_test(r, key="seed"), TypeError, "PRNG key"),
        (lambda r: jaxrsa.bootstrap([r[0], r[1][:10]], key=0), ValueError, "has 10 examples"),
    ],
)  # fmt: skip
def test_bad_arguments_are_clear_errors(rng, call, error, match):
    with pytest.raises(error, match=match):
        call(models(rng, m=2))


def test_bootstrap_refuses_resamples_with_too_few_distinct_examples(rng):
    x, y = rng.normal(size=(14, 10)), rng.normal(size=(14, 10))
    jaxrsa.similarity(x, y, "cca")  # defined on the sample itself
    with pytest.raises(ValueError, match=r"resample \d+ holds only \d+ distinct of 14.*reps\[0\]"):
        jaxrsa.bootstrap([x, y], measure="cca", n_resamples=20, key=jax.random.key(0))


def test_calibrated_score_of_a_distance_is_refused(rng):
    distance = next(
        (measures.get(n) for n in measures.names() if not measures.get(n).larger_is_more_similar),
        measures.Procrustes(output="angular"),
    )
    assert not distance.larger_is_more_similar
    reps = models(rng, m=2)
    with pytest.raises(ValueError, match="calibrate=True: .* is a distance"):
        jaxrsa.permutation_test(reps, measure=distance, n_permutations=3, key=0, calibrate=True)
    res = jaxrsa.permutation_test(reps, measure=distance, n_permutations=3, key=0)
    assert res.calibrated is None
