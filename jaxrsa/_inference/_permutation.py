"""Permutation test: how each model-to-model similarity compares with unrelated examples."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._inference import _models, _replicates
from jaxrsa._pairwise import similarity_matrix
from jaxrsa._pairwise._engine import DEFAULT_MEMORY_BUDGET
from jaxrsa.measures._base import from_pairs


class PermutationResult(NamedTuple):
    """Observed similarities and their permutation null, all `[m, m_b]`.

    Attributes:
        similarity: the observed matrix (as `similarity_matrix` returns it).
        null_mean: mean of the null replicates of each pair.
        null_std: their standard deviation (ddof 1; 0 with one permutation).
        p_value: `(1 + #{null >= observed}) / (1 + n_permutations)` (`<=` for distances).
        calibrated: `(s - null_mean) / (1 - null_mean)` for similarities bounded by 1 (0 =
            chance, 1 = identical); None for distance-valued measures.
        n_permutations: the number of replicates.
    """

    similarity: Float[Array, "m mb"]
    null_mean: Float[Array, "m mb"]
    null_std: Float[Array, "m mb"]
    p_value: Float[Array, "m mb"]
    calibrated: Float[Array, "m mb"] | None
    n_permutations: int


def _null_by_gather(measure: measures.GramMeasure, models, pairs):
    """Permuting examples permutes the entries of prepared pair-indexed vectors: side a keeps
    its prepared vectors, side b's are gathered at the permuted pairs."""
    pa = [_replicates.prepare(measure, g.xs) for g in models.a]
    pb = pa if models.b is None else [_replicates.prepare(measure, g.xs) for g in models.b]
    n = models.n
    rows, cols = (np.asarray(v, np.int32) for v in pairs)
    # entry k of a permuted vector is M[perm[rows_k], perm[cols_k]]: one gather of p entries
    matrices = [from_pairs(p, rows, cols, n).reshape(p.shape[0], n * n) for p in pb]

    def one(key, ops):
        pa, matrices = ops
        perm = jax.random.permutation(key, n).astype(jnp.int32)
        flat = perm[rows] * n + perm[cols]  # entry (i, j) <- (perm_i, perm_j)
        permuted = [jnp.take(m, flat, axis=1) for m in matrices]
        return _replicates.assemble(measure, pa, permuted, models)

    observed = _replicates.assemble(measure, pa, pb, models)
    per_replicate = 2 * sum(p.size for p in pb) * pb[0].dtype.itemsize
    return observed, one, (pa, matrices), per_replicate


def _null_by_prepare(measure: measures.Measure, models):
    """Measures not laid out by pairs of examples: prepare the permuted side again."""
    pa = [_replicates.prepare(measure, g.xs) for g in models.a]
    gb = models.a if models.b is None else models.b
    n = models.n

    def one(key, ops):
        pa, xbs = ops
        perm = jax.random.permutation(key, n)
        pb = [measure.prepare_many(_replicates.examples(measure, xs, perm)) for xs in xbs]
        return _replicates.assemble(measure, pa, pb, models)

    observed = _replicates.assemble(
        measure, pa, pa if models.b is None else [_replicates.prepare(measure, g.xs) for g in gb],
        models,
    )  # fmt: skip
    per_replicate = sum(g.xs.size * 8 for g in gb) * gb[0].xs.dtype.itemsize
    return observed, one, (pa, [g.xs for g in gb]), per_replicate


def permutation_test(
    reps,
    others=None,
    measure="rsa",
    *,
    n_permutations: int = 1000,
    key,
    memory_budget: int | None = None,
    calibrate: bool | None = None,
) -> PermutationResult:
    """Permutation null of every pair's similarity: is it more than chance?

    The null of pair (i, j) is the measure between model i and model j with j's examples
    permuted: one permutation per replicate, shared by all pairs. For Gram-type measures whose
    prepared vectors are laid out by pairs of examples (every RSA variant and CKA), a
    permutation is a gather of the prepared vectors, so activations are prepared once (while the
    permuted side's `[n, n]` matrices fit half of `memory_budget`); other measures, and larger
    n, prepare the permuted side again in each replicate.

    Args:
        reps: m models' activations of the same n examples (as `similarity_matrix` takes them).
        others: optional second set of models; the null then permutes their examples.
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.
        n_permutations: number of replicates (>= 1).
        key: a PRNG key (`jax.random.key(seed)`), required.
        memory_budget: bytes for the replicates computed at once (default 2 GiB).
        calibrate: compute the permutation-calibrated score (default: for similarity-valued
            measures; True with a distance-valued measure is an error).

    Returns:
        A `PermutationResult` of `[m, m_b]` arrays.

    References:
        Groger, Wen and Brbic, "permutation-calibrated" similarity scores (ICML 2026).

    Examples:
        >>> import jax, numpy as np
        >>> from jaxrsa import permutation_test
        >>> x = np.random.default_rng(0).normal(size=(40, 6))
        >>> res = permutation_test([x, x @ np.eye(6)[::-1]], n_permutations=99,
        ...                        key=jax.random.key(0))
        >>> round(float(res.p_value[0, 1]), 6)
        0.01
    """
    measure = measures.get(measure)
    n_permutations = _inputs.positive_int("n_permutations", n_permutations)
    calibrate = _check_calibrate(measure, calibrate)
    keys = _models.key_array(key, n_permutations)
    budget = DEFAULT_MEMORY_BUDGET if memory_budget is None else memory_budget
    budget = _inputs.positive_int("memory_budget", budget)
    reported = similarity_matrix(reps, others, measure, memory_budget=budget)  # validates all
    models = _models.load(measure, reps, others)

    pairs = measure.example_pairs(models.n) if isinstance(measure, measures.GramMeasure) else None
    if pairs is not None and _replicates.matrices_fit(models.b or models.a, models.n, budget):
        observed, one, operands, per_replicate = _null_by_gather(measure, models, pairs)
    else:
        observed, one, operands, per_replicate = _null_by_prepare(measure, models)
    observed = np.asarray(observed, np.float64)
    larger = measure.larger_is_more_similar
    count = np.zeros(models.sizes)
    total = np.zeros(models.sizes)
    squares = np.zeros(models.sizes)

    def sink(start, values):
        nonlocal count, total, squares
        values = values.astype(np.float64)
        if not np.isfinite(values).all():
            r, i, j = np.argwhere(~np.isfinite(values))[0]
            raise ValueError(
                f"permutation {start + r}: {measure} is not finite for the pair "
                f"({models.labels[0][i]}, {models.labels[1][j]})"
            )
        extreme = values >= observed if larger else values <= observed
        count += extreme.sum(axis=0)
        total += values.sum(axis=0)
        squares += (values**2).sum(axis=0)

    size = _replicates.chunk_size(per_replicate, budget, n_permutations)
    _replicates.run(one, operands, keys, size, sink)

    mean = total / n_permutations
    var = np.maximum(squares - n_permutations * mean**2, 0.0) / max(1, n_permutations - 1)
    dtype = reported.dtype
    calibrated = None
    if calibrate:
        gap = 1.0 - mean
        s = np.asarray(reported, np.float64)
        score = np.where(gap > 0, (s - mean) / np.where(gap > 0, gap, 1.0), 0.0)
        calibrated = jnp.asarray(score, dtype)
    return PermutationResult(
        similarity=reported,
        null_mean=jnp.asarray(mean, dtype),
        null_std=jnp.asarray(np.sqrt(var), dtype),
        p_value=jnp.asarray((1.0 + count) / (1.0 + n_permutations), dtype),
        calibrated=calibrated,
        n_permutations=n_permutations,
    )


def _check_calibrate(measure: measures.Measure, calibrate) -> bool:
    if calibrate is None:
        return measure.larger_is_more_similar
    calibrate = _inputs.boolean("calibrate", calibrate)
    if calibrate and not measure.larger_is_more_similar:
        raise ValueError(
            f"calibrate=True: {measure} is a distance (smaller is more similar), so the "
            "calibrated score (s - null_mean) / (1 - null_mean) of a similarity bounded by 1 is "
            "undefined for it; use p_value, null_mean and null_std"
        )
    return calibrate
