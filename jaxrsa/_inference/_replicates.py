"""Replicates of the m x m_b similarity matrix: one jitted program per chunk of replicates.

A replicate is the matrix recomputed after one random change of the examples (a permutation of
one side's examples, or a resample of everyone's), drawn from one key. Each chunk of keys is one
`lax.map` inside one compiled program, so replicates cost no Python or dispatch work each; the
chunk size keeps one replicate's prepared vectors times the chunk under the memory budget.
"""

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from jaxrsa import measures
from jaxrsa._inference._models import Group, Models

# Upper bound on replicates per compiled chunk: enough to amortise dispatch, few enough to report
# progress and to keep the last (padded) chunk cheap.
MAX_CHUNK = 64


def chunk_size(per_replicate_bytes: int, budget: int, total: int) -> int:
    """Replicates per chunk: as many as fit in half the budget, at most `MAX_CHUNK`."""
    return int(max(1, min(MAX_CHUNK, total, budget // (2 * max(1, per_replicate_bytes)))))


def run(
    one: Callable,
    operands,
    keys: jax.Array,
    size: int,
    sink: Callable[[int, np.ndarray], None],
):
    """Evaluate `one(key, operands) -> [ma, mb]` for every key, `size` keys per compiled chunk.

    `operands` (prepared vectors, activations) are arguments of the compiled program, not
    constants baked into it. The last chunk is padded with repeated keys (its extra rows are
    dropped), so every chunk has one shape and compiles once. `sink(start, values)` receives
    each chunk's `[k, ma, mb]`.
    """
    mapped = jax.jit(lambda ks, ops: lax.map(lambda k: one(k, ops), ks))
    total = keys.shape[0]
    for start in range(0, total, size):
        ks = keys[start : start + size]
        k = ks.shape[0]
        if k < size:
            ks = jnp.concatenate([ks, jnp.repeat(ks[-1:], size - k, axis=0)])
        sink(start, np.asarray(mapped(ks, operands))[:k])


def assemble(measure: measures.Measure, pa: list, pb: list, models: Models) -> Float[Array, "a b"]:
    """The `[m_a, m_b]` matrix from prepared groups of both sides (Gram: one product)."""
    ga, gb = models.a, models.b if models.b is not None else models.a
    if isinstance(measure, measures.GramMeasure):  # every prepared vector has the same length
        rows = jnp.concatenate(pa) if len(pa) > 1 else pa[0]
        cols = jnp.concatenate(pb) if len(pb) > 1 else pb[0]
        return measure.block(_in_order(rows, ga), _in_order(cols, gb))
    out = jnp.zeros(models.sizes, _dtype(ga))
    for g, p in zip(ga, pa, strict=True):
        for h, q in zip(gb, pb, strict=True):
            out = out.at[np.ix_(g.indices, h.indices)].set(measure.block(p, q))
    return out


def _in_order(stacked: Array, groups: tuple[Group, ...]) -> Array:
    """Rows of the groups' stacked prepared vectors in model order (a copy only if needed)."""
    order = np.argsort(np.concatenate([g.indices for g in groups]))
    return stacked if np.array_equal(order, np.arange(order.size)) else stacked[order]


def _dtype(groups: tuple[Group, ...]):
    return groups[0].xs.dtype


def examples(measure: measures.Measure, xs: Float[Array, "k n d"], idx) -> Array:
    """`measure.examples` of every model: each restricted to the examples `idx`."""
    return jax.vmap(lambda x: measure.examples(x, idx))(xs)


def pair_matrices_fit(measure: measures.Measure, models: Models, budget: int) -> bool:
    """Whether every model's `[n, n]` pair matrix (`GramMeasure.pair_matrix`) exists and all of
    them fit (`matrices_fit`)."""
    if not isinstance(measure, measures.GramMeasure):
        return False
    x = jax.ShapeDtypeStruct(models.a[0].xs.shape[1:], _dtype(models.a))
    if jax.eval_shape(measure.pair_matrix, x) is None:
        return False
    return matrices_fit(models.a + (models.b or ()), models.n, budget)


def matrices_fit(groups: tuple[Group, ...], n: int, budget: int) -> bool:
    """Whether one `[n, n]` matrix per model of `groups`, held for every replicate, fits half the
    budget, with flat indices in int32."""
    held = sum(g.xs.shape[0] for g in groups) * n**2 * _dtype(groups).itemsize
    return n**2 < 2**31 and 2 * held <= budget


@functools.partial(jax.jit, static_argnums=0)
def pair_matrices(
    measure: measures.GramMeasure, xs: Float[Array, "k n d"]
) -> Float[Array, "k n n"]:
    """`measure.pair_matrix` of every model, compiled once per measure and shape."""
    return lax.map(measure.pair_matrix, xs)


@functools.partial(jax.jit, static_argnums=0)
def prepare(measure: measures.Measure, xs: Float[Array, "k n d"]):
    """`measure.prepare_many`, compiled once per measure and shape."""
    return measure.prepare_many(xs)
