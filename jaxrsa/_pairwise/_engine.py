"""The driver: validate the models' shapes, choose the path, prepare blocks, fill the matrix.

Every model is prepared once per block it belongs to (`Measure.prepare_many` over chunks of
models of one shape); each pair of blocks is one `layout.block` call, a single matrix product for
Gram-type measures. Blocks are cached up to a memory budget and recomputed beyond it, so memory
stays bounded whatever m is. The diagonal comes from the diagonal blocks' own products, so it is
rounded exactly as the entries beside it (also with `precision="bfloat16"`).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrsa import _inputs, measures
from jaxrsa._numerics import compute_dtype
from jaxrsa._pairwise import _devices, _features, _layout, _plan, _values

DEFAULT_MEMORY_BUDGET = 2 * 2**30


class Side(NamedTuple):
    """One side of the matrix: validated shapes of the models, not yet their values."""

    reps: _inputs.Reps
    shapes: tuple[tuple[int, int], ...]
    dtypes: tuple[np.dtype, ...]


def side(reps: _inputs.Reps, measure: measures.Measure, like: Side | None = None) -> Side:
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
    first = like or Side(reps, shapes, dtypes)  # the model whose n every other must have
    n = first.shapes[0][0] if first.shapes[0] else None
    for label, shape in zip(reps.labels, shapes, strict=True):
        _inputs.check_shape(
            label, shape, min_n=measure.min_n, n=n, like=first.reps.labels[0],
            needs=f"{measure} needs",
        )  # fmt: skip
    for label, dtype in zip(reps.labels, dtypes, strict=True):
        _inputs.real_dtype(label, dtype)
    return Side(reps, shapes, dtypes)


def _dtype(sides) -> np.dtype:
    """The one float dtype all models compute in: the widest of their compute dtypes."""
    return max((compute_dtype(d) for s in sides for d in s.dtypes), key=lambda d: d.itemsize)


class Job(NamedTuple):
    """Everything decided before the first value is read."""

    measure: measures.Measure  # the form that runs (e.g. linear CKA in feature space)
    sides: tuple[Side, ...]
    dtype: np.dtype
    layout: _layout.Layout
    plan: _plan.Plan
    symmetric: bool


def job(measure, a, b, block_size, budget, devices, precision) -> Job:
    """Validate, choose the path (Gram or feature space) and plan the blocks."""
    budget = (
        DEFAULT_MEMORY_BUDGET if budget is None else _inputs.positive_int("memory_budget", budget)
    )
    side_a = side(a, measure)
    sides = (side_a,) if b is None else (side_a, side(b, measure, side_a))
    dtype = _dtype(sides)
    symmetric = b is None and measure.symmetric
    features = _features.feature_form(measure)
    if features is not None and precision == "float32":
        m_a, m_b = len(side_a.shapes), len(sides[-1].shapes)
        pairs = m_a * (m_a + 1) // 2 if symmetric else m_a * m_b
        widths = [s[1] for sd in sides for s in sd.shapes]
        if _features.prefer(side_a.shapes[0][0], widths, pairs, budget, dtype.itemsize):
            measure = features
    mesh = _devices.mesh(devices)
    layout = _layout.layout(measure, mesh, precision)
    sizes = {}
    for shape in {shape for sd in sides for shape in sd.shapes}:
        out = jax.eval_shape(measure.prepare, jax.ShapeDtypeStruct(shape, dtype))
        signature = (
            jax.tree.structure(out),
            tuple((a.shape, a.dtype) for a in jax.tree.leaves(out)),
        )
        prepared = layout.stored_bytes(_layout.nbytes(out))
        sizes[shape] = _plan.Sizes(signature, prepared, measure.workspace(*shape) * dtype.itemsize)
    shapes = [sd.shapes for sd in sides]
    plan = _plan.plan(shapes, sizes, budget, block_size, _devices.size(mesh), str(measure))
    return Job(measure, sides, dtype, layout, plan, symmetric)


def _head(k: int, a: jax.Array) -> jax.Array:
    return a[:k]


def prepare_block(job: Job, blk: _plan.Block):
    """One block of prepared models, in the layout the products use."""
    measure, layout, sd = job.measure, job.layout, job.sides[blk.side]
    # Row-split blocks (other measures, several devices) are concatenated; every other block is
    # filled in place, chunk by chunk (a feature-split block takes rows without communication).
    out, parts, start = None, [], 0
    for idx in blk.chunks:
        k = job.plan.chunk_size[sd.shapes[idx[0]]]  # one compilation per shape: pad to k
        padded = _plan.pad(idx, 1, k)
        labels = [sd.reps.labels[i] for i in padded]
        xs = _values.to_compute(_devices.stack(sd.reps.arrays, padded), job.dtype, measure, labels)
        prepared, ok = _layout.prepare_chunk(measure, _devices.put(xs, layout.mesh), layout)
        ok = _devices.to_host(ok)[: len(idx)]
        if not ok.all():
            i = int(idx[np.argmin(ok)])
            x = _inputs.as_float(sd.reps.arrays[i], sd.reps.labels[i])
            _inputs.check_finite(x, sd.reps.labels[i])
            x = jnp.asarray(xs[list(padded).index(i)])
            raise ValueError(f"{sd.reps.labels[i]}: {measure} is undefined: {measure.explain(x)}")
        rows = jax.tree.map(functools.partial(_head, len(idx)), prepared)
        if len(blk.chunks) == 1:
            return rows
        if layout.concatenate:
            parts.append(rows)
            continue
        if out is None:
            out = jax.tree.map(
                lambda r: jnp.zeros((len(blk.indices), *r.shape[1:]), r.dtype, device=r.sharding),
                rows,
            )
        out = _layout.write_rows(out, rows, start)
        start += len(idx)
    return jax.tree.map(lambda *a: jnp.concatenate(a), *parts) if layout.concatenate else out


def all_pairs(measure, a, b, block_size, budget, progress, devices, precision="float32"):
    """The `[m, m]` (b None) or `[m, m_b]` matrix of `measure` (a name or object)."""
    label = measure if isinstance(measure, str) else None
    measure = measures.get(measure)
    j = job(measure, a, b, block_size, budget, devices, precision)
    m_a, m_b = len(j.sides[0].shapes), len(j.sides[-1].shapes)
    out = np.empty((m_a, m_b), j.dtype)
    cache = {}

    def prepared(i: int, keep: tuple[int, ...]):
        if i not in cache:
            for old in [k for k in cache if k not in keep]:
                del cache[old]
            cache[i] = prepare_block(j, j.plan.blocks[i])
        return cache[i]

    steps = _plan.schedule(j.plan, j.symmetric)
    if progress:
        from tqdm.auto import tqdm

        path = "feature space" if j.measure is not measure else "prepared vectors"
        name = label or type(measure).__name__
        steps = tqdm(steps, desc=f"{name} ({path}) blocks", unit="block")
    for i, k, held in steps:
        bi, bk = j.plan.blocks[i], j.plan.blocks[k]
        px = prepared(i, held)
        vals = _devices.to_host(_layout.block(j.measure, px, prepared(k, held), j.layout))
        if j.symmetric and i == k:
            vals = np.triu(vals) + np.triu(vals, 1).T
        out[np.ix_(bi.indices, bk.indices)] = vals
        if j.symmetric:
            out[np.ix_(bk.indices, bi.indices)] = vals.T
    if not np.isfinite(out).all():
        r, c = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(
            f"{measure} is not finite for the pair ({a.labels[r]}, {(b or a).labels[c]})"
        )
    return jnp.asarray(out)
