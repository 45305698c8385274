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

    measure: measures.Measure
    sides: tuple[Side, ...]
    dtype: np.dtype
    layout: _layout.Layout
    plan: _plan.Plan | _features.Plan  # prepared vectors, or linear CKA in feature space
    symmetric: bool
    panel: int | None = None  # example rows per panel when whole prepared vectors do not fit


def job(measure, a, b, block_size, budget, devices, precision) -> Job:
    """Validate, choose the path (Gram or feature space) and plan the blocks."""
    budget = (
        DEFAULT_MEMORY_BUDGET if budget is None else _inputs.positive_int("memory_budget", budget)
    )
    side_a = side(a, measure)
    sides = (side_a,) if b is None else (side_a, side(b, measure, side_a))
    dtype = _dtype(sides)
    symmetric = b is None and measure.symmetric
    if block_size is not None:
        _inputs.positive_int("block_size", block_size)
    mesh = _devices.mesh(devices)
    layout = _layout.layout(measure, mesh, precision)
    n = side_a.shapes[0][0]
    if _features.feature_form(measure) and precision == "float32":
        m_a, m_b = len(side_a.shapes), len(sides[-1].shapes)
        pairs = m_a * (m_a + 1) // 2 if symmetric else m_a * m_b
        widths = [[s[1] for s in sd.shapes] for sd in sides]
        if _features.prefer(n, sum(widths, []), pairs, budget, dtype.itemsize):
            features = _features.plan(widths, n, budget, dtype.itemsize, block_size)
            return Job(measure, sides, dtype, layout, features, symmetric)

    def sizes(prepare, rows: int | None = None) -> dict:
        """Per input shape, the `Sizes` of models prepared by `prepare` (whole, or a panel of
        `rows` example rows, which holds its rows' share of the work beside the activations)."""
        out = {}
        for shape in {shape for sd in sides for shape in sd.shapes}:
            tree = jax.eval_shape(prepare, jax.ShapeDtypeStruct(shape, dtype))
            signature = (
                jax.tree.structure(tree),
                tuple((a.shape, a.dtype) for a in jax.tree.leaves(tree)),
            )
            work = measure.workspace(*shape)
            if rows is not None:
                work = -(-work * rows // shape[0]) + 2 * shape[0] * shape[1]
            prepared = layout.stored_bytes(_layout.nbytes(tree))
            out[shape] = _plan.Sizes(signature, prepared, work * dtype.itemsize)
        return out

    shapes = [sd.shapes for sd in sides]
    plan = functools.partial(
        _plan.plan, shapes, budget=budget, block_size=block_size, ndev=_devices.size(mesh),
        what=str(measure),
    )  # fmt: skip
    try:
        return Job(measure, sides, dtype, layout, plan(sizes(measure.prepare)), symmetric)
    except ValueError as error:  # whole prepared vectors do not fit the budget
        gram = isinstance(measure, measures.GramMeasure)
        if not gram or measure.row_width(n) is None:
            raise ValueError(
                f"{error}; {measure} cannot stream over panels of example rows (its prepared "
                "vector is not laid out by example rows with per-row statistics: a statistic "
                "of the whole matrix, such as a mean, median bandwidth or ranks, normalizes "
                "every entry), so whole prepared models must fit"
            ) from None

    def panel_plan(rows: int) -> _plan.Plan:
        return plan(sizes(lambda x: measure.prepare_rows(x, 0, rows), rows))

    try:
        rows, panels = _plan.panel_rows(n, panel_plan)
    except ValueError as error:
        raise ValueError(f"{error}, even in panels of one example row") from None
    return Job(measure, sides, dtype, layout, panels, symmetric, rows)


def panels(j: Job) -> list[tuple[int, int | None]]:
    """(first example row, rows) of each panel; one (0, None) for whole prepared vectors."""
    if j.panel is None:
        return [(0, None)]
    n = j.sides[0].shapes[0][0]
    return [(start, min(j.panel, n - start)) for start in range(0, n, j.panel)]


def _head(k: int, a: jax.Array) -> jax.Array:
    return a[:k]


def prepare_block(job: Job, blk: _plan.Block, first: int = 0, count: int | None = None):
    """One block of prepared models (with `count`: their panel of example rows `[first, first
    + count)`), in the layout the products use."""
    measure, layout, sd = job.measure, job.layout, job.sides[blk.side]
    # Row-split blocks (other measures, several devices) are concatenated; every other block is
    # filled in place, chunk by chunk (a feature-split block takes rows without communication).
    out, parts, start = None, [], 0
    for idx in blk.chunks:
        k = job.plan.chunk_size[sd.shapes[idx[0]]]  # one compilation per shape: pad to k
        padded = _plan.pad(idx, 1, k)
        labels = [sd.reps.labels[i] for i in padded]
        xs = _values.to_compute(_devices.stack(sd.reps.arrays, padded), job.dtype, measure, labels)
        xs = _devices.put(xs, layout.mesh)
        prepared, ok = _layout.prepare_chunk(measure, xs, layout, first, count)
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


def _pairs(j: Job, i: int, k: int) -> int:
    """How many pairs of models the product of blocks `i` and `k` fills."""
    a, b = len(j.plan.blocks[i].indices), len(j.plan.blocks[k].indices)
    return a * (a + 1) // 2 if j.symmetric and i == k else a * b


def all_pairs(measure, a, b, block_size, budget, progress, devices, precision="float32"):
    """The `[m, m]` (b None) or `[m, m_b]` matrix of `measure` (a name or object)."""
    label = measure if isinstance(measure, str) else None
    measure = measures.get(measure)
    j = job(measure, a, b, block_size, budget, devices, precision)
    if isinstance(j.plan, _features.Plan):
        return _finite(_features.all_pairs(j, label or type(measure).__name__, progress), j)
    m_a, m_b = len(j.sides[0].shapes), len(j.sides[-1].shapes)
    out = np.empty((m_a, m_b), j.dtype)
    cache, sums = {}, {}  # prepared blocks held; with panels, each block pair's inner products

    def prepared(i: int, keep: tuple[int, ...], panel):
        if i not in cache:
            for old in [k for k in cache if k not in keep]:
                del cache[old]
            cache[i] = prepare_block(j, j.plan.blocks[i], *panel)
        return cache[i]

    def write(i: int, k: int, vals: np.ndarray) -> None:
        bi, bk = j.plan.blocks[i], j.plan.blocks[k]
        if j.symmetric and i == k:
            vals = np.triu(vals) + np.triu(vals, 1).T
        out[np.ix_(bi.indices, bk.indices)] = vals
        if j.symmetric:
            out[np.ix_(bk.indices, bi.indices)] = vals.T

    steps = [(panel, step) for panel in panels(j) for step in _plan.schedule(j.plan, j.symmetric)]
    if progress:
        from tqdm.auto import tqdm

        path = "prepared vectors"
        if j.panel is not None:
            path += f" in {len(panels(j))} panels of {j.panel} example rows"
        name = label or type(measure).__name__
        bar = tqdm(  # pairs of models, each counted once per panel
            total=sum(_pairs(j, i, k) for _, (i, k, _) in steps), desc=f"{name} ({path})",
            unit="pair",
        )  # fmt: skip
    last = None
    for panel, (i, k, held) in steps:
        if panel != last:  # a new panel of rows: nothing held is of it
            cache.clear()
            last = panel
        # (blocks are passed straight from the cache, so that a cleared panel is freed before
        # the next is prepared)
        if panel[1] is None:
            vals = _layout.block(j.measure, prepared(i, held, panel), prepared(k, held, panel),
                                 j.layout, upper=j.symmetric and i == k)  # fmt: skip
            write(i, k, _devices.to_host(vals))
        else:  # products of panels add up to those of whole prepared vectors
            vals = _layout.inner(j.measure, prepared(i, held, panel), prepared(k, held, panel),
                                 j.layout)  # fmt: skip
            sums[i, k] = sums.get((i, k), 0.0) + _devices.to_host(vals).astype(np.float64)
        if progress:
            bar.update(_pairs(j, i, k))
    if progress:
        bar.close()
    for (i, k), total in sums.items():
        write(i, k, _devices.to_host(j.measure.finish(jnp.asarray(total, j.dtype))))
    return _finite(out, j)


def _finite(out: np.ndarray, j: Job) -> jax.Array:
    """`out`, or an error naming the first pair whose value is not finite."""
    if not np.isfinite(out).all():
        r, c = np.argwhere(~np.isfinite(out))[0]
        a, b = j.sides[0].reps, j.sides[-1].reps
        raise ValueError(f"{j.measure} is not finite for the pair ({a.labels[r]}, {b.labels[c]})")
    return jnp.asarray(out)
