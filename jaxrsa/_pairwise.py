"""All pairs: the similarity of two models, and the m x m (or m x m_b) matrix, in blocks.

Every model is prepared once (`Measure.prepare`, vmapped over chunks of models of one shape);
prepared models are grouped into blocks and each pair of blocks is one `Measure.block` call, a
single matrix product for Gram-type measures. Blocks are cached up to a memory budget and
recomputed beyond it, so memory stays bounded whatever m is.
"""

import collections
import functools
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs, measures
from jaxrsa._numerics import compute_dtype

DEFAULT_MEMORY_BUDGET = 2 * 2**30


class _Side(NamedTuple):
    """One side of the matrix: validated shapes of the models, not yet their values."""

    reps: _inputs.Reps
    shapes: tuple[tuple[int, int], ...]
    dtypes: tuple[np.dtype, ...]


class _Block(NamedTuple):
    """Models prepared and compared together: same prepared shapes, chunks of one input shape."""

    side: int
    indices: np.ndarray
    chunks: tuple[np.ndarray, ...]


class _Plan(NamedTuple):
    blocks: tuple[_Block, ...]
    chunk_size: dict  # input shape -> models per prepare call
    capacity: int  # blocks of prepared models held at once


@functools.partial(jax.jit, static_argnames="measure")
def _prepare_chunk(measure: measures.Measure, xs: Float[Array, "k n d"]):
    """Prepared models `[k, ...]`, whether each input is finite, whether each preparation is."""
    finite = jnp.isfinite(xs).all(axis=(1, 2))
    prepared = jax.vmap(measure.prepare)(xs)
    ok = jax.tree.reduce(
        jnp.logical_and,
        jax.tree.map(lambda a: jnp.isfinite(a).reshape(a.shape[0], -1).all(axis=1), prepared),
    )
    return prepared, finite, ok


@functools.partial(jax.jit, static_argnames="measure")
def _block(measure: measures.Measure, pxs, pys) -> Float[Array, "a b"]:
    return measure.block(pxs, pys)


@functools.partial(jax.jit, static_argnames="measure")
def _self_pairs(measure: measures.Measure, pxs) -> Float[Array, " a"]:
    return jax.vmap(measure.pair)(pxs, pxs)


def _side(reps: _inputs.Reps, measure: measures.Measure, like: _Side | None = None) -> _Side:
    """Check every model's shape (rank, n equal to the first model's or to `like`'s, min_n)."""
    arrays = reps.arrays
    if hasattr(arrays, "shape"):
        shapes = (tuple(arrays.shape[1:]),) * arrays.shape[0]
        dtypes = (np.dtype(arrays.dtype),) * arrays.shape[0]
    else:  # read each model once for its shape, without keeping it
        shapes, dtypes = [], []
        for i in range(len(arrays)):
            a = arrays[i]
            a = a if hasattr(a, "shape") and hasattr(a, "dtype") else np.asarray(a)
            shapes.append(tuple(a.shape))
            dtypes.append(np.dtype(a.dtype))
        shapes, dtypes = tuple(shapes), tuple(dtypes)
    for label, shape in zip(reps.labels, shapes, strict=True):
        if len(shape) != 2:
            raise ValueError(
                f"{label}: expected activations of shape [n, d] (examples x features), "
                f"got shape {shape}"
            )
    first = like or _Side(reps, shapes, dtypes)
    n, first_label = first.shapes[0][0], first.reps.labels[0]
    for label, shape in zip(reps.labels, shapes, strict=True):
        if shape[0] != n:
            raise ValueError(
                f"{label}: has {shape[0]} examples but {first_label} has {n}; every model must "
                "see the same examples in the same order"
            )
        if shape[0] < measure.min_n:
            raise ValueError(f"{label}: {measure} needs at least {measure.min_n} examples, got {n}")
        if shape[1] < 1:
            raise ValueError(f"{label}: has no features (shape {shape})")
    for label, dtype in zip(reps.labels, dtypes, strict=True):
        if dtype.kind not in "biuf":
            raise TypeError(f"{label}: activations must be real numbers, got dtype {dtype}")
    return _Side(reps, shapes, dtypes)


def _dtype(sides) -> np.dtype:
    """The one float dtype all models compute in: the widest of their compute dtypes."""
    return max((compute_dtype(d) for s in sides for d in s.dtypes), key=lambda d: d.itemsize)


def _nbytes(tree) -> int:
    return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))


def _plan(measure, sides, dtype, block_size, budget) -> _Plan:
    """Split models into blocks and chunks whose working memory fits `budget` bytes."""
    itemsize = np.dtype(dtype).itemsize
    shapes = {shape for side in sides for shape in side.shapes}
    signature, feature_bytes, chunk = {}, {}, {}
    for shape in shapes:
        out = jax.eval_shape(measure.prepare, jax.ShapeDtypeStruct(shape, dtype))
        signature[shape] = (
            jax.tree.structure(out),
            tuple((a.shape, a.dtype) for a in jax.tree.leaves(out)),
        )
        feature_bytes[shape] = _nbytes(out)
        work = measure.workspace(*shape) * itemsize
        chunk[shape] = max(1, budget // 4 // work)
    f = max(feature_bytes.values())
    work = max(measure.workspace(*s) * itemsize for s in shapes)
    minimum = work + 3 * f
    if budget < minimum:
        raise ValueError(
            f"memory_budget={budget} bytes is too small for {measure} on models of shapes "
            f"{sorted(shapes)}: at least {minimum} bytes are needed (one model being prepared "
            "and three prepared)"
        )
    chunk = {s: min(k, max(1, (budget - 3 * f) // work)) for s, k in chunk.items()}
    fit = (budget - max(chunk.values()) * work) // f  # prepared models that fit beside a chunk
    largest = max(len(side.shapes) for side in sides)
    if block_size is None:
        # Four or more blocks per side (the symmetric case skips the lower ones) but not so big
        # that fewer than ~8 fit when streaming; at least 64 models where possible (GEMM rate).
        block_size = max(1, min(largest, max(64, -(-largest // 4)), max(1, fit // 8)))
    elif not (isinstance(block_size, int | np.integer) and block_size >= 1):
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    block_size = int(min(block_size, largest))
    chunk = {s: min(k, block_size) for s, k in chunk.items()}
    capacity = fit // block_size - 1  # held blocks; one more is being assembled
    if capacity < 2:
        raise ValueError(
            f"memory_budget={budget} bytes holds fewer than three blocks of {block_size} prepared "
            f"models ({block_size * f} bytes each); lower block_size or raise the budget"
        )
    blocks = []
    for side_id, side in enumerate(sides):
        groups = collections.defaultdict(list)
        for i, shape in enumerate(side.shapes):
            groups[signature[shape]].append(i)
        for members in groups.values():
            members.sort(key=lambda i: side.shapes[i])  # stable: equal shapes stay in order
            for start in range(0, len(members), block_size):
                idx = np.asarray(members[start : start + block_size])
                blocks.append(_Block(side_id, idx, tuple(_chunks(idx, side.shapes, chunk))))
    return _Plan(tuple(blocks), chunk, int(capacity))


def _chunks(idx: np.ndarray, shapes, chunk_size) -> Iterator[np.ndarray]:
    """Runs of one input shape, each at most that shape's chunk size."""
    start = 0
    while start < len(idx):
        shape = shapes[idx[start]]
        stop = start
        while stop < len(idx) and shapes[idx[stop]] == shape:
            stop += 1
        for s in range(start, stop, chunk_size[shape]):
            yield idx[s : min(stop, s + chunk_size[shape])]
        start = stop


def _gather(arrays, idx: np.ndarray, dtype, k: int) -> jax.Array:
    """Models `idx` stacked `[k, n, d]`, the last repeated to fill k (one compilation per shape)."""
    if hasattr(arrays, "shape"):
        contiguous = idx[-1] - idx[0] + 1 == len(idx)
        xs = arrays[idx[0] : idx[-1] + 1] if contiguous else arrays[idx]
        xs = jnp.asarray(xs, dtype)
    else:
        xs = jnp.stack([jnp.asarray(arrays[i], dtype) for i in idx])
    if len(idx) < k:
        xs = jnp.concatenate([xs, jnp.repeat(xs[-1:], k - len(idx), axis=0)])
    return xs


def _head(k: int, a: jax.Array) -> jax.Array:
    return a[:k]


def _prepare_block(measure, block: _Block, side: _Side, plan: _Plan, dtype):
    parts = []
    for idx in block.chunks:
        k = plan.chunk_size[side.shapes[idx[0]]]
        prepared, finite, ok = _prepare_chunk(measure, _gather(side.reps.arrays, idx, dtype, k))
        finite, ok = np.asarray(finite)[: len(idx)], np.asarray(ok)[: len(idx)]
        if not finite.all() or not ok.all():
            i = int(idx[np.argmin(finite & ok)])
            x = _inputs.as_float(side.reps.arrays[i], side.reps.labels[i]).astype(dtype)
            _inputs.check_finite(x, side.reps.labels[i])
            raise ValueError(f"{side.reps.labels[i]}: {measure} is undefined: {measure.explain(x)}")
        parts.append(jax.tree.map(functools.partial(_head, len(idx)), prepared))
    if len(parts) == 1:
        return parts[0]
    return jax.tree.map(lambda *a: jnp.concatenate(a), *parts)


def _schedule(plan: _Plan, symmetric: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """Block pairs (i, j) with the blocks to keep cached while computing them.

    Row blocks are taken in panels of `capacity - 1` held blocks; each column block is prepared
    once per panel and streamed past it (reversed, so that the last one streamed begins the next
    panel). When every block fits, there is one panel and each block is prepared once.
    """
    rows = [b for b, blk in enumerate(plan.blocks) if blk.side == 0]
    cols = [b for b, blk in enumerate(plan.blocks) if blk.side == 1] or rows  # rows x rows
    width = max(1, plan.capacity - 1)
    steps = []
    for p0 in range(0, len(rows), width):
        held = tuple(rows[p0 : p0 + width])
        if symmetric:
            steps += [(i, j, held) for a, i in enumerate(held) for j in held[a:]]
            stream = rows[p0 + width :][::-1]
        else:
            stream = cols
        steps += [(i, j, held) for j in stream for i in held]
    return steps


def _all_pairs(measure, a: _inputs.Reps, b: _inputs.Reps | None, block_size, budget, progress):
    measure = measures.get(measure)
    budget = DEFAULT_MEMORY_BUDGET if budget is None else int(budget)
    side_a = _side(a, measure)
    sides = (side_a,) if b is None else (side_a, _side(b, measure, side_a))
    dtype = _dtype(sides)
    plan = _plan(measure, sides, dtype, block_size, budget)
    symmetric = b is None and measure.symmetric
    out = np.empty((len(side_a.shapes), len(sides[-1].shapes)), dtype)
    cache = {}

    def prepared(i: int, keep: tuple[int, ...]):
        if i not in cache:
            for old in [k for k in cache if k not in keep]:
                del cache[old]
            blk = plan.blocks[i]
            cache[i] = _prepare_block(measure, blk, sides[blk.side], plan, dtype)
        return cache[i]

    steps = _schedule(plan, symmetric)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"{measure} blocks", unit="block")
    for i, j, held in steps:
        bi, bj = plan.blocks[i], plan.blocks[j]
        px = prepared(i, held)
        vals = np.asarray(_block(measure, px, prepared(j, held)))
        if symmetric and i == j:
            vals = np.triu(vals) + np.triu(vals, 1).T
            np.fill_diagonal(vals, np.asarray(_self_pairs(measure, px)))
        out[np.ix_(bi.indices, bj.indices)] = vals
        if symmetric:
            out[np.ix_(bj.indices, bi.indices)] = vals.T
    if not np.isfinite(out).all():
        r, c = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(
            f"{measure} is not finite for the pair ({a.labels[r]}, {(b or a).labels[c]})"
        )
    return jnp.asarray(out)


def similarity(x: ArrayLike, y: ArrayLike, measure="rsa") -> Float[Array, ""]:
    """Similarity of two models' representations of the same n examples.

    Args:
        x: activations `[n, d_x]` of one model (rows are examples).
        y: activations `[n, d_y]` of another; d_y may differ from d_x.
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.

    Returns:
        A scalar; 1 for identical representations (up to the measure's invariances).

    Raises:
        ValueError: wrong shapes, different n, too few examples, non-finite values, or a
            representation for which the measure is undefined (the message says which and why).

    Inside your own `jit`, call the measure object directly: `jaxrsa.measures.get("rsa")(x, y)`.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(50, 8))
        >>> round(float(similarity(x, x @ np.linalg.qr(np.ones((8, 8)) + np.eye(8))[0])), 6)
        1.0
    """
    x_, y_ = _inputs.Reps(("x",), [x]), _inputs.Reps(("y",), [y])
    return _all_pairs(measure, x_, y_, None, None, False)[0, 0]


def similarity_matrix(
    reps,
    others=None,
    measure="rsa",
    *,
    block_size: int | None = None,
    memory_budget: int | None = None,
    progress: bool = False,
) -> Float[Array, "m mb"]:
    """Similarity of every pair of models.

    Args:
        reps: m models' activations of the same n examples: an `[m, n, d]` array, or a list or
            dict of `[n, d_i]` arrays (widths may differ). NumPy memory-mapped arrays are read
            block by block.
        others: optional second set of models (same forms, same n): the result is then
            `[m, m_b]`, reps against others.
        measure: a name from `jaxrsa.measures.names()` or a `jaxrsa.measures.Measure`.
        block_size: models per block (default: as many as the memory budget allows).
        memory_budget: bytes of working memory for prepared models and their computation
            (default 2 GiB; the result matrix itself is not counted). Prepared blocks beyond the
            budget are recomputed when needed.
        progress: show a progress bar over blocks.

    Returns:
        `[m, m]` (symmetric, the self-similarity on the diagonal) or `[m, m_b]`, in the dtype of
        the activations (float32 unless they are float64). Equals the double loop of
        `similarity` to float tolerance.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity_matrix
        >>> rng = np.random.default_rng(0)
        >>> reps = {"a": rng.normal(size=(30, 5)), "b": rng.normal(size=(30, 9))}
        >>> similarity_matrix(reps, measure="cka").shape
        (2, 2)
    """
    a = _inputs.as_reps(reps, "reps")
    b = None if others is None else _inputs.as_reps(others, "others")
    return _all_pairs(measure, a, b, block_size, memory_budget, progress)
