"""Weighted isotonic regression by pooling adjacent violators, vectorized to run under jit.

Classic PAVA walks the data once with a stack: sequential, and slow as an XLA loop (one tiny
step per element). Here every round merges *all* adjacent pairs of blocks whose means violate
the order, using only whole-array operations: blocks are kept as compacted arrays of sums,
weights and counts, and a round is one scan and three sorted segment sums, no gathers. Merging
any violating adjacent pair is safe (such blocks lie in one level set of the solution), so
rounds repeat until no violation is left and the result is the exact isotonic fit. Noisy but
mostly ordered data, as met in non-metric MDS, needs O(log n) rounds (about 10 to 20 for
n = 10^3 to 10^6); the worst case (one huge drop at the end of a long increasing run) needs n.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Int


def tie_blocks(x_sorted: Float[Array, " n"], w_sorted: Float[Array, " n"]) -> Bool[Array, " n"]:
    """Initial blocks for sorted predictor values: one block per run of equal ``x`` (Kruskal's
    secondary approach to ties: tied dissimilarities get equal disparities), with elements of
    zero weight attached to the preceding block so that no block has zero total weight (unless
    all weights are 0).

    Returns:
        ``[n]`` block-start flags; element 0 always starts a block.
    """
    n = x_sorted.shape[0]
    index = jnp.arange(n)
    tie_start = jnp.concatenate([jnp.ones(1, bool), x_sorted[1:] != x_sorted[:-1]])
    positive = w_sorted > 0
    before = _cumsum(positive) - positive  # positive weights strictly before each element
    group_first = lax.cummax(jnp.where(tie_start, index, 0))
    first_positive_of_group = positive & (before == before[group_first])
    return (first_positive_of_group & (before > 0)) | (index == 0)


def _cumsum(x: Array) -> Int[Array, " n"]:
    """Inclusive int32 cumulative sum; ``associative_scan`` is several times faster than
    ``jnp.cumsum`` on XLA:CPU for long vectors."""
    return lax.associative_scan(jnp.add, x.astype(jnp.int32))


class _Blocks(NamedTuple):
    """Blocks in order, compacted to the front of length-n arrays (empty entries behind)."""

    total: Float[Array, " n"]  # sum of w * y
    weight: Float[Array, " n"]
    count: Int[Array, " n"]
    changed: Bool[Array, ""]


def _gather_blocks(blocks: _Blocks, ids: Int[Array, " n"], changed: Array) -> _Blocks:
    """Sum the entries of ``blocks`` that share an id (ids sorted, starting at 0)."""
    n = ids.shape[0]
    merge = lambda a: jax.ops.segment_sum(a, ids, num_segments=n, indices_are_sorted=True)  # noqa: E731
    return _Blocks(merge(blocks.total), merge(blocks.weight), merge(blocks.count), changed)


def _means(blocks: _Blocks) -> Float[Array, " n"]:
    positive = blocks.weight > 0
    return blocks.total / jnp.where(positive, blocks.weight, 1)


def _merge_violators(blocks: _Blocks) -> _Blocks:
    """One round: merge every block into its left neighbour when their means violate the order."""
    mean = _means(blocks)
    n = mean.shape[0]
    violates = (blocks.count > 0) & (jnp.arange(n) > 0) & (jnp.roll(mean, 1) > mean)
    return _gather_blocks(blocks, _cumsum(~violates) - 1, jnp.any(violates))


def isotonic_regression(
    y: Float[Array, " n"], w: Float[Array, " n"], start: Bool[Array, " n"]
) -> Float[Array, " n"]:
    """Non-decreasing weighted least-squares fit to ``y`` (ordered by its predictor).

    Minimizes ``sum_i w_i (f_i - y_i)^2`` over non-decreasing ``f`` that are constant on each
    initial block. Undecorated: runs under jit and vmap.

    Args:
        y: ``[n]`` responses, in the order of the predictor.
        w: ``[n]`` non-negative weights.
        start: ``[n]`` flags of the initial blocks (all True for no constraint; see
            :func:`tie_blocks`); ``start[0]`` must be True.

    Returns:
        ``[n]`` fitted values.
    """
    n = y.shape[0]
    elements = _Blocks(w * y, w, jnp.ones(n, jnp.int32), jnp.ones((), bool))
    blocks = _gather_blocks(elements, _cumsum(start) - 1, jnp.ones((), bool))
    blocks = lax.while_loop(lambda b: b.changed, _merge_violators, blocks)
    # element -> block: blocks begin where the running count of elements ends
    begins = jnp.zeros(n, jnp.int32).at[_cumsum(blocks.count)].add(1, mode="drop")
    return _means(blocks)[_cumsum(begins)]
