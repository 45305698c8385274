"""Bootstrap: percentile intervals of every similarity over resampled examples."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._inference import _models, _replicates
from jaxrsa._pairwise import similarity_matrix
from jaxrsa._pairwise._engine import DEFAULT_MEMORY_BUDGET


class BootstrapResult(NamedTuple):
    """Observed similarities and their bootstrap interval, all `[m, m_b]`.

    Attributes:
        similarity: the observed matrix (as `similarity_matrix` returns it).
        low, high: the percentile interval holding `confidence` of the replicates.
        std: standard deviation of the replicates (ddof 1; 0 with one resample).
        n_resamples: the number of replicates.
        confidence: the interval's coverage, in (0, 1).
    """

    similarity: Float[Array, "m mb"]
    low: Float[Array, "m mb"]
    high: Float[Array, "m mb"]
    std: Float[Array, "m mb"]
    n_resamples: int
    confidence: float


def _confidence(value) -> float:
    value = _inputs.number("confidence", value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95, got {value}")
    return value


def resample(key: jax.Array, n: int) -> jax.Array:
    """`[n]` example indices drawn uniformly with replacement."""
    return jax.random.randint(key, (n,), 0, n)


def bootstrap(
    reps,
    others=None,
    measure="rsa",
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    key,
    memory_budget: int | None = None,
    return_replicates: bool = False,
):
    """Percentile bootstrap interval of every pair's similarity.

    Each replicate draws n examples with replacement, the same resample for every model, and
    recomputes the whole matrix. A pair of an example with its own copy is a self-pair, not two
    examples that happen to be alike, so measures built on pairs of examples leave such pairs
    out as they leave out the diagonal (`Measure.prepare_resampled`):

    - RSA (every variant): copies are left out of every row (row-wise) or of the triangle.
    - Linear and RBF CKA: the entries of the centred Gram for pairs of an example and its own
      copy are set to zero (the true diagonal is kept); debiased CKA zeroes them before
      U-centring, as it zeroes the diagonal.
    - CCA, SVCCA, PWCCA, Procrustes: a repeated example is a weighted example, as in the usual
      bootstrap of covariances.

    Where a measure's prepared vector follows from a matrix of pairs of examples
    (`GramMeasure.pair_matrix`: RSA's kernels and RDMs, linear CKA's Gram), that matrix is
    computed once per model and each resample gathers its rows and columns, while the models'
    `[n, n]` matrices fit half of `memory_budget`.

    Args:
        reps: m models' activations of the same n examples (as `similarity_matrix` takes them).
        others: optional second set of models (resampled with the same examples).
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.
        n_resamples: number of replicates (>= 1).
        confidence: coverage of the interval, in (0, 1).
        key: a PRNG key (`jax.random.key(seed)`), required.
        memory_budget: bytes for the replicates computed at once (default 2 GiB).
        return_replicates: also return the `[n_resamples, m, m_b]` replicates.

    Returns:
        A `BootstrapResult` (and the replicates, with `return_replicates`).

    Examples:
        >>> import jax, numpy as np
        >>> from jaxrsa import bootstrap
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(60, 5))
        >>> res = bootstrap([x, x + rng.normal(size=(60, 5))], measure="cka", n_resamples=50,
        ...                 key=jax.random.key(0))
        >>> bool(res.low[0, 1] < res.similarity[0, 1] < res.high[0, 1])
        True
    """
    measure = measures.get(measure)
    n_resamples = _inputs.positive_int("n_resamples", n_resamples)
    confidence = _confidence(confidence)
    return_replicates = _inputs.boolean("return_replicates", return_replicates)
    keys = _models.key_array(key, n_resamples)
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    budget = _inputs.positive_int("memory_budget", budget)
    reported = similarity_matrix(reps, others, measure, memory_budget=budget)  # validates all
    models = _models.load(measure, reps, others)
    n = models.n

    _check_distinct(measure, models, keys)

    if _replicates.pair_matrices_fit(measure, models, budget):  # gathered per resample

        def prepared(sss, idx):
            return [lax.map(lambda s: measure.prepare_gathered(s, idx), ss) for ss in sss]

        def inputs(groups):
            return [_replicates.pair_matrices(measure, g.xs) for g in groups]
    else:  # prepared again from the resampled activations

        def prepared(xss, idx):
            return [lax.map(lambda x: measure.prepare_resampled(x, idx), xs) for xs in xss]

        def inputs(groups):
            return [g.xs for g in groups]

    def one(key, ops):
        xas, xbs = ops
        idx = resample(key, n)
        pa = prepared(xas, idx)
        pb = pa if xbs is None else prepared(xbs, idx)
        return _replicates.assemble(measure, pa, pb, models)

    operands = (inputs(models.a), None if models.b is None else inputs(models.b))

    values = np.empty((n_resamples, *models.sizes))

    def sink(start, chunk):
        values[start : start + chunk.shape[0]] = chunk

    count = sum(g.xs.shape[0] for g in models.a + (models.b or ()))
    per_replicate = count * measure.workspace(n, max(g.xs.shape[2] for g in models.a)) * 4
    size = _replicates.chunk_size(per_replicate, budget, n_resamples)
    _replicates.run(one, operands, keys, size, sink)
    _check_replicates(values, keys, measure, models)

    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail], axis=0)
    std = values.std(axis=0, ddof=1) if n_resamples > 1 else np.zeros(models.sizes)
    dtype = reported.dtype
    result = BootstrapResult(
        similarity=reported,
        low=jnp.asarray(low, dtype),
        high=jnp.asarray(high, dtype),
        std=jnp.asarray(std, dtype),
        n_resamples=n_resamples,
        confidence=confidence,
    )
    return (result, values) if return_replicates else result


def _distinct(idx: jax.Array) -> jax.Array:
    s = jnp.sort(idx)
    return 1 + jnp.sum(s[1:] != s[:-1])


def _check_distinct(measure: measures.Measure, models, keys) -> None:
    """The resample with the fewest distinct examples must leave every model defined.

    Copies add no new directions, so a measure undefined on a resample's distinct examples (too
    few for `min_n`, or fewer than CCA's width needs) would be undefined, or silently saturated,
    on the resample itself: refuse before computing anything.
    """
    counts = np.asarray(jax.jit(jax.vmap(lambda k: _distinct(resample(k, models.n))))(keys))
    r = int(np.argmin(counts))
    distinct = np.unique(np.asarray(resample(keys[r], models.n)))
    where = f"bootstrap resample {r} holds only {distinct.size} distinct of {models.n} examples"
    if distinct.size < measure.min_n:
        raise ValueError(
            f"{where}, and {measure} needs at least {measure.min_n}; use more examples"
        )
    for side, groups in enumerate((models.a, models.b or ())):
        for g in groups:
            xs = _replicates.examples(measure, g.xs, distinct)
            prepared = _replicates.prepare(measure, xs)
            bad = np.zeros(g.xs.shape[0], bool)
            for leaf in jax.tree.leaves(prepared):
                leaf = np.asarray(leaf).reshape(g.xs.shape[0], -1)
                bad |= ~np.isfinite(leaf).all(axis=1)
            if bad.any():
                i = int(np.argmax(bad))
                label = models.labels[side][g.indices[i]]
                cause = measure.explain(xs[i])
                raise ValueError(
                    f"{where}, and {measure} is undefined on them for {label}: {cause}; use "
                    "more examples or a measure that needs fewer"
                )


def _check_replicates(values: np.ndarray, keys, measure, models) -> None:
    """A replicate the measure is undefined for names the resample, the pair and the cause."""
    if np.isfinite(values).all():
        return
    r, i, j = (int(v) for v in np.argwhere(~np.isfinite(values))[0])
    distinct = np.unique(np.asarray(resample(keys[r], models.n))).size
    raise ValueError(
        f"bootstrap resample {r}: {measure} is undefined for the pair ({models.labels[0][i]}, "
        f"{models.labels[1][j]}) on the resampled examples ({distinct} distinct of "
        f"{models.n}): {measure.degenerate}; more examples (or a measure that needs fewer, "
        f"at least {measure.min_n}) avoid this"
    )
