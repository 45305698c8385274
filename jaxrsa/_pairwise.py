"""All pairs: the similarity of two models, and the m x m (or m x m_b) matrix, in blocks.

Every model is prepared once (`Measure.prepare_many` over chunks of models of one shape);
prepared models are grouped into blocks and each pair of blocks is one `Measure.block` call, a
single matrix product for Gram-type measures. Blocks are cached up to a memory budget and
recomputed beyond it, so memory stays bounded whatever m is.

With several devices (a one-axis `Mesh`), each device prepares its share of a chunk's models
(`shard_map`). Gram-type blocks are then split along the feature axis: each device multiplies
its slice of every block pair and one small `psum` adds the slices, so a block pair costs no
communication beyond that. Other measures keep blocks split by models: each device pairs its
rows with all of the other block. Chunks are padded to a multiple of the device count by
repeating their last model; a repeated model writes the same entries twice, which changes
nothing. Nothing assumes a single process: global arrays are built from host data with
`make_array_from_callback`, and results are gathered with `process_allgather` when there are
several processes (`jax.distributed`).
"""

import collections
import functools
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
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
    """Models prepared and compared together: same prepared shapes, chunks of one input shape.

    `indices` (the models of the block's rows, in order) may repeat a model to pad a chunk to a
    multiple of the device count.
    """

    side: int
    indices: np.ndarray
    chunks: tuple[np.ndarray, ...]


class _Plan(NamedTuple):
    blocks: tuple[_Block, ...]
    chunk_size: dict  # input shape -> models per prepare call
    capacity: int  # blocks of prepared models held at once
    mesh: Mesh | None  # the devices' one-axis mesh, None for one device
    precision: str  # of Gram-type products (a key of PRECISIONS)


AXIS = "models"

# `precision=` of similarity_matrix: how Gram-type inner products are computed.
PRECISIONS = {
    "float32": (None, lax.Precision.HIGHEST),  # exact float32 products on every backend
    "tf32": (None, lax.Precision.DEFAULT),  # TF32 / bf16 passes where the hardware has them
    "bfloat16": (jnp.bfloat16, lax.Precision.DEFAULT),  # bf16 features, float32 accumulation
}


def _mesh(devices) -> Mesh | None:
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices: empty")
    return None if len(devices) == 1 else Mesh(np.array(devices), (AXIS,))


def _prepare_rows(measure: measures.Measure, xs: Float[Array, "k n d"]):
    """Prepared models `[k, ...]`, whether each input is finite, whether each preparation is."""
    finite = jnp.isfinite(xs).all(axis=(1, 2))
    prepared = measure.prepare_many(xs)
    ok = jax.tree.reduce(
        jnp.logical_and,
        jax.tree.map(lambda a: jnp.isfinite(a).reshape(a.shape[0], -1).all(axis=1), prepared),
    )
    return prepared, finite, ok


@functools.partial(jax.jit, static_argnames=("measure", "mesh", "precision"))
def _prepare_chunk(
    measure: measures.Measure,
    xs: Float[Array, "k n d"],
    mesh: Mesh | None = None,
    precision: str = "float32",
):
    """`_prepare_rows`, each device preparing its rows when there is a mesh; Gram-type vectors
    come out in the layout of the products (`_gram_layout`)."""
    fn = functools.partial(_prepare_rows, measure)
    if mesh is not None:  # host callbacks (ranking) run per device on its own rows
        fn = jax.shard_map(fn, mesh=mesh, in_specs=P(AXIS), out_specs=P(AXIS), check_vma=False)
    prepared, finite, ok = fn(xs)
    if _relayout(measure, mesh, precision):
        prepared = _gram_layout(prepared, mesh, precision)
    return prepared, finite, ok


def _relayout(measure: measures.Measure, mesh: Mesh | None, precision: str) -> bool:
    """Whether prepared vectors change layout for the products (dtype, or split by features)."""
    gram = isinstance(measure, measures.GramMeasure)
    return gram and (mesh is not None or PRECISIONS[precision][0] is not None)


def _to_host(x: jax.Array) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as one NumPy array on this host."""
    if jax.process_count() > 1 and not x.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def _put(xs: np.ndarray, mesh: Mesh | None) -> jax.Array:
    """Host data (the same on every process) as a global array split along models."""
    if mesh is None:
        return jax.device_put(xs)
    sharding = NamedSharding(mesh, P(AXIS))
    return jax.make_array_from_callback(xs.shape, sharding, lambda index: xs[index])


@functools.partial(jax.jit, static_argnames=("measure", "mesh", "precision"))
def _block(
    measure: measures.Measure, pxs, pys, mesh: Mesh | None = None, precision: str = "float32"
) -> Float[Array, "a b"]:
    """`measure.block` of two prepared blocks, split over the mesh's devices if there is one."""
    if isinstance(measure, measures.GramMeasure):
        matmul = functools.partial(measure.inner, precision=PRECISIONS[precision][1])
        if mesh is None:
            return measure.finish(matmul(pxs, pys))
        # Blocks are split along features: partial products, then one small sum.
        inner = jax.shard_map(
            lambda a, b: lax.psum(matmul(a, b), AXIS),
            mesh=mesh,
            in_specs=(P(None, AXIS),) * 2,
            out_specs=P(),
        )(pxs, pys)
        return measure.finish(inner)
    if mesh is None:
        return measure.block(pxs, pys)
    return jax.shard_map(
        measure.block, mesh=mesh, in_specs=(P(AXIS), P()), out_specs=P(AXIS), check_vma=False
    )(pxs, pys)


@functools.partial(jax.jit, static_argnames=("mesh", "precision"))
def _gram_layout(features: Float[Array, "b p"], mesh: Mesh | None, precision: str):
    """Prepared Gram features as the products want them: in the storage dtype of `precision`,
    and with several devices split along the feature axis, zero-padded to a multiple of the
    device count (zeros add nothing to inner products)."""
    dtype = PRECISIONS[precision][0]
    features = features if dtype is None else features.astype(dtype)
    if mesh is None:
        return features
    features = jnp.pad(features, ((0, 0), (0, -features.shape[1] % mesh.size)))
    return lax.with_sharding_constraint(features, NamedSharding(mesh, P(None, AXIS)))


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
    first = like or _Side(reps, shapes, dtypes)  # the model whose n every other must have
    n = first.shapes[0][0] if first.shapes[0] else None
    for label, shape in zip(reps.labels, shapes, strict=True):
        _inputs.check_shape(
            label,
            shape,
            min_n=measure.min_n,
            n=n,
            like=first.reps.labels[0],
            needs=f"{measure} needs",
        )
    for label, dtype in zip(reps.labels, dtypes, strict=True):
        if dtype.kind not in "biuf":
            raise TypeError(f"{label}: activations must be real numbers, got dtype {dtype}")
    return _Side(reps, shapes, dtypes)


def _dtype(sides) -> np.dtype:
    """The one float dtype all models compute in: the widest of their compute dtypes."""
    return max((compute_dtype(d) for s in sides for d in s.dtypes), key=lambda d: d.itemsize)


def _nbytes(tree) -> int:
    return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize for a in jax.tree.leaves(tree))


def _plan(measure, sides, dtype, block_size, budget, devices=None, precision="float32") -> _Plan:
    """Split models into blocks and chunks whose working memory fits `budget` bytes."""
    _inputs.check_choice("precision", precision, tuple(PRECISIONS))
    if precision != "float32" and not isinstance(measure, measures.GramMeasure):
        raise ValueError(
            f"precision={precision!r} applies to Gram-type measures (inner products of prepared "
            f"vectors); {measure} is not one"
        )
    mesh = _mesh(devices)
    ndev = 1 if mesh is None else mesh.size
    itemsize = np.dtype(dtype).itemsize
    shapes = {shape for side in sides for shape in side.shapes}
    signature, feature_bytes, chunk = {}, {}, {}
    for shape in shapes:
        out = jax.eval_shape(measure.prepare, jax.ShapeDtypeStruct(shape, dtype))
        signature[shape] = (
            jax.tree.structure(out),
            tuple((a.shape, a.dtype) for a in jax.tree.leaves(out)),
        )
        storage = PRECISIONS[precision][0] if isinstance(measure, measures.GramMeasure) else None
        feature_bytes[shape] = _nbytes(out) // (2 if storage == jnp.bfloat16 else 1)
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
    # prepared models that fit beside the largest chunk (each shape's chunk times its workspace)
    fit = (budget - max(k * measure.workspace(*s) * itemsize for s, k in chunk.items())) // f
    groups = []  # (side, models with one prepared signature, in input-shape order)
    for side_id, side in enumerate(sides):
        by_signature = collections.defaultdict(list)
        for i, shape in enumerate(side.shapes):
            by_signature[signature[shape]].append(i)
        for members in by_signature.values():
            members.sort(key=lambda i: side.shapes[i])  # stable: equal shapes stay in order
            groups.append((side_id, members))
    largest = max(len(members) for _, members in groups)

    def capacity(b: int) -> int:  # blocks held at once
        return fit // _round_up(b, ndev)

    def n_blocks(b: int) -> int:
        return sum(-(-len(members) // b) for _, members in groups)

    if block_size is None:
        # Block products run far below the matmul rate when blocks are small (here: 35 GFLOP/s
        # at 64 models, 98 at 128, 137 at 256 with a 187 GFLOP/s machine): one block per
        # group when every block fits, else blocks of up to 256 with ~6 held at once.
        block_size = largest
        if capacity(largest) < n_blocks(largest):
            block_size = max(1, min(256, largest, fit // 6))
    block_size = min(_inputs.positive_int("block_size", block_size), largest)
    if capacity(block_size) < min(2, n_blocks(block_size)):
        raise ValueError(
            f"memory_budget={budget} bytes holds fewer than two blocks of {block_size} prepared "
            f"models ({block_size * f} bytes each); lower block_size or raise the budget"
        )
    count = collections.Counter(shape for side in sides for shape in side.shapes)
    # Chunks divide a block evenly and are no longer than the models of their shape (padding
    # would prepare copies), in a multiple of the device count.
    for s, k in chunk.items():
        run = min(block_size, count[s])  # the longest run of this shape in a block
        pieces = -(-run // min(k, run))
        chunk[s] = _round_up(-(-run // pieces), ndev)
    blocks = []
    for side_id, members in groups:
        shapes_of = sides[side_id].shapes
        for start in range(0, len(members), block_size):
            idx = np.asarray(members[start : start + block_size])
            chunks = tuple(_pad(c, ndev) for c in _chunks(idx, shapes_of, chunk))
            blocks.append(_Block(side_id, np.concatenate(chunks), chunks))
    return _Plan(tuple(blocks), chunk, int(capacity(block_size)), mesh, precision)


def _round_up(k: int, multiple: int) -> int:
    return -(-k // multiple) * multiple


def _pad(idx: np.ndarray, length_multiple: int, length: int | None = None) -> np.ndarray:
    """`idx` with its last entry repeated up to `length` (or the next multiple)."""
    length = _round_up(len(idx), length_multiple) if length is None else length
    return np.concatenate([idx, np.repeat(idx[-1:], length - len(idx))])


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


def _gather(arrays, idx: np.ndarray, dtype, mesh: Mesh | None) -> jax.Array:
    """Models `idx` stacked `[len(idx), n, d]` as one array (split over the devices)."""
    if hasattr(arrays, "shape"):
        contiguous = np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx)))
        xs = arrays[idx[0] : idx[0] + len(idx)] if contiguous else arrays[idx]
    else:
        xs = [arrays[i] for i in idx]
    if isinstance(xs, jax.Array) or (isinstance(xs, list) and isinstance(xs[0], jax.Array)):
        xs = jnp.stack(xs) if isinstance(xs, list) else xs  # already on a device: stay there
        return jnp.asarray(xs, dtype) if mesh is None else _put(np.asarray(xs, dtype), mesh)
    return _put(np.asarray(xs, dtype), mesh)


def _head(k: int, a: jax.Array) -> jax.Array:
    return a[:k]


@functools.partial(jax.jit, donate_argnums=0)
def _write_rows(block, rows, start):
    """`block` with `rows` written from row `start`, in place (the block's buffer is reused)."""
    return jax.tree.map(lambda b, r: lax.dynamic_update_slice_in_dim(b, r, start, 0), block, rows)


def _prepare_block(measure, block: _Block, side: _Side, plan: _Plan, dtype):
    """One block of prepared models, in the layout the products use."""
    # Row-split blocks (other measures, several devices) are concatenated; every other block is
    # filled in place, chunk by chunk (a feature-split block takes rows without communication).
    concatenate = plan.mesh is not None and not isinstance(measure, measures.GramMeasure)
    out, parts, start = None, [], 0
    for idx in block.chunks:
        k = plan.chunk_size[side.shapes[idx[0]]]  # one compilation per shape: pad to k
        xs = _gather(side.reps.arrays, _pad(idx, 1, k), dtype, plan.mesh)
        prepared, finite, ok = _prepare_chunk(measure, xs, plan.mesh, plan.precision)
        finite, ok = _to_host(finite)[: len(idx)], _to_host(ok)[: len(idx)]
        if not finite.all() or not ok.all():
            i = int(idx[np.argmin(finite & ok)])
            x = _inputs.as_float(side.reps.arrays[i], side.reps.labels[i]).astype(dtype)
            _inputs.check_finite(x, side.reps.labels[i])
            raise ValueError(f"{side.reps.labels[i]}: {measure} is undefined: {measure.explain(x)}")
        rows = jax.tree.map(functools.partial(_head, len(idx)), prepared)
        if len(block.chunks) == 1:
            return rows
        if concatenate:
            parts.append(rows)
            continue
        if out is None:
            out = jax.tree.map(
                lambda r: jnp.zeros((len(block.indices), *r.shape[1:]), r.dtype, device=r.sharding),
                rows,
            )
        out = _write_rows(out, rows, start)
        start += len(idx)
    return jax.tree.map(lambda *a: jnp.concatenate(a), *parts) if concatenate else out


def _schedule(plan: _Plan, symmetric: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """Block pairs (i, j) with the blocks to keep cached while computing them.

    Row blocks are taken in panels of `capacity - 1` held blocks; each column block is prepared
    once per panel and streamed past it (reversed, so that the last one streamed begins the next
    panel). When every block fits, there is one panel and each block is prepared once.
    """
    rows = [b for b, blk in enumerate(plan.blocks) if blk.side == 0]
    cols = [b for b, blk in enumerate(plan.blocks) if blk.side == 1] or rows  # rows x rows
    streamed = cols if cols is not rows else []
    fits = plan.capacity >= len(rows) + len(streamed)  # all held: nothing is prepared twice
    width = len(rows) if fits else max(1, plan.capacity - 1)
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


def _all_pairs(
    measure,
    a: _inputs.Reps,
    b: _inputs.Reps | None,
    block_size,
    budget,
    progress,
    devices,
    precision="float32",
):
    label = measure if isinstance(measure, str) else None
    measure = measures.get(measure)
    budget = (
        DEFAULT_MEMORY_BUDGET if budget is None else _inputs.positive_int("memory_budget", budget)
    )
    side_a = _side(a, measure)
    sides = (side_a,) if b is None else (side_a, _side(b, measure, side_a))
    dtype = _dtype(sides)
    plan = _plan(measure, sides, dtype, block_size, budget, devices, precision)
    symmetric = b is None and measure.symmetric
    out = np.empty((len(side_a.shapes), len(sides[-1].shapes)), dtype)
    diagonal = np.empty(len(side_a.shapes), dtype)
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

        steps = tqdm(steps, desc=f"{label or type(measure).__name__} blocks", unit="block")
    for i, j, held in steps:
        bi, bj = plan.blocks[i], plan.blocks[j]
        px = prepared(i, held)
        vals = _to_host(_block(measure, px, prepared(j, held), plan.mesh, plan.precision))
        if symmetric and i == j:
            vals = np.triu(vals) + np.triu(vals, 1).T
            diagonal[bi.indices] = _to_host(_self_pairs(measure, px))
        out[np.ix_(bi.indices, bj.indices)] = vals
        if symmetric:
            out[np.ix_(bj.indices, bi.indices)] = vals.T
    if symmetric:  # after every block: a model repeated as padding must not overwrite it
        np.fill_diagonal(out, diagonal)
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
    return _all_pairs(measure, x_, y_, None, None, False, jax.devices()[:1])[0, 0]


def similarity_matrix(
    reps,
    others=None,
    measure="rsa",
    *,
    block_size: int | None = None,
    memory_budget: int | None = None,
    progress: bool = False,
    devices=None,
    precision: str = "float32",
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
        devices: the devices to split the work over (default: all of `jax.devices()`, which
            spans every process after `jax.distributed.initialize()`).
        precision: of Gram-type products (RSA, CKA): "float32" (default, exact float32 on every
            backend), "tf32" (the backend's fast float32 matmul passes: TF32 on NVIDIA GPUs,
            bf16 passes on TPU; plain float32 on CPU) or "bfloat16" (prepared vectors stored in
            bfloat16, half the memory, products accumulated in float32). See the README for the
            measured error of each against float64.

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
    return _all_pairs(measure, a, b, block_size, memory_budget, progress, devices, precision)
