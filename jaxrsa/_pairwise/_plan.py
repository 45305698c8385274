"""Planning on shapes alone: which models form blocks, how many are prepared per call, and in
which order block pairs are computed so that memory stays under a budget.

Nothing here looks at values or devices: the engine describes every input shape by the bytes of
one prepared model, the bytes of preparing one, and a signature (models whose prepared values have
the same signature can share a block), and this module answers with a `Plan` and a schedule.
"""

import collections
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import numpy as np

from jaxrsa import _inputs

Shape = tuple[int, ...]


class Block(NamedTuple):
    """Models prepared and compared together: same prepared signature, chunks of one input shape.

    `indices` (the models of the block's rows, in order) may repeat a model to pad a chunk to a
    multiple of the device count.
    """

    side: int
    indices: np.ndarray
    chunks: tuple[np.ndarray, ...]


class Plan(NamedTuple):
    blocks: tuple[Block, ...]
    chunk_size: dict  # input shape -> models per prepare call
    capacity: int  # blocks of prepared models held at once


class Sizes(NamedTuple):
    """What the planner needs to know of one input shape."""

    signature: object  # models with equal signatures may share a block
    prepared: int  # bytes of one prepared model (in the layout of the products)
    work: int  # bytes of working memory while preparing one model


def plan(
    sides: Sequence[Sequence[Shape]],
    sizes: dict[Shape, Sizes],
    budget: int,
    block_size: int | None = None,
    ndev: int = 1,
    what: str = "the measure",
) -> Plan:
    """Split the models of every side into blocks and chunks whose working memory fits `budget`.

    Args:
        sides: the input shape of every model, per side (one side: all pairs of it; two: a cross
            matrix).
        sizes: for every input shape, its `Sizes`.
        budget: bytes for the chunk being prepared plus the prepared blocks held.
        block_size: models per block; default: one block per signature when every block fits,
            else blocks of up to 256 models with about six held at once.
        ndev: devices; chunks and blocks are padded to a multiple of it.
        what: how error messages name the measure.
    """
    shapes = {shape for side in sides for shape in side}
    f = max(sizes[s].prepared for s in shapes)
    work = max(sizes[s].work for s in shapes)
    minimum = work + 3 * f
    if budget < minimum:
        raise ValueError(
            f"memory_budget={budget} bytes is too small for {what} on models of shapes "
            f"{sorted(shapes)}: at least {minimum} bytes are needed (one model being prepared "
            "and three prepared)"
        )
    chunk = {s: max(1, min(budget // 4, budget - 3 * f) // sizes[s].work) for s in shapes}
    # prepared models that fit beside the largest chunk (each shape's chunk times its workspace)
    fit = (budget - max(k * sizes[s].work for s, k in chunk.items())) // f
    groups = []  # (side, models with one prepared signature, in input-shape order)
    for side_id, side in enumerate(sides):
        by_signature = collections.defaultdict(list)
        for i, shape in enumerate(side):
            by_signature[sizes[shape].signature].append(i)
        for members in by_signature.values():
            members.sort(key=lambda i: side[i])  # stable: equal shapes stay in order
            groups.append((side_id, members))
    largest = max(len(members) for _, members in groups)

    def capacity(b: int) -> int:  # blocks held at once
        return fit // round_up(b, ndev)

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
    count = collections.Counter(shape for side in sides for shape in side)
    # Chunks divide a block evenly and are no longer than the models of their shape (padding
    # would prepare copies), in a multiple of the device count.
    for s, k in chunk.items():
        run = min(block_size, count[s])  # the longest run of this shape in a block
        pieces = -(-run // min(k, run))
        chunk[s] = round_up(-(-run // pieces), ndev)
    blocks = []
    for side_id, members in groups:
        for start in range(0, len(members), block_size):
            idx = np.asarray(members[start : start + block_size])
            chunks = tuple(pad(c, ndev) for c in _chunks(idx, sides[side_id], chunk))
            blocks.append(Block(side_id, np.concatenate(chunks), chunks))
    return Plan(tuple(blocks), chunk, int(capacity(block_size)))


def panel_rows(n: int, plan_for: Callable[[int], Plan]) -> tuple[int, Plan]:
    """The most example rows per panel, and their plan, when whole prepared vectors do not fit.

    `plan_for(r)` plans blocks of models whose prepared vectors are panels of r example rows
    (raising ValueError when they do not fit the budget). Preferred: the largest r for which
    every block is held at once (each model's panel prepared once per panel); else the largest
    r that fits at all. Both conditions only get easier as r shrinks, so each is a bisection.

    Raises:
        ValueError: even panels of one example row do not fit (`plan_for(1)`'s error).
    """

    def largest(ok: Callable[[Plan], bool]) -> tuple[int, Plan] | None:
        best, lo, hi = None, 1, n
        while lo <= hi:
            r = (lo + hi) // 2
            try:
                p = plan_for(r)
            except ValueError:
                p = None
            if p is not None and ok(p):
                best, lo = (r, p), r + 1
            else:
                hi = r - 1
        return best

    found = largest(lambda p: p.capacity >= len(p.blocks)) or largest(lambda p: True)
    return found if found is not None else (1, plan_for(1))


def round_up(k: int, multiple: int) -> int:
    return -(-k // multiple) * multiple


def pad(idx: np.ndarray, length_multiple: int, length: int | None = None) -> np.ndarray:
    """`idx` with its last entry repeated up to `length` (or the next multiple)."""
    length = round_up(len(idx), length_multiple) if length is None else length
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


def schedule(plan: Plan, symmetric: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """Block pairs (i, j) with the blocks to keep cached while computing them (the panel's
    held blocks and the streamed block j).

    Row blocks are taken in panels of `capacity - 1` held blocks; each column block is prepared
    once per panel and streamed past it (reversed, so that the last one streamed begins the next
    panel). When every block fits, there is one panel and each block is prepared once. With
    `symmetric`, only pairs (i, j) with j at or after i in the order of rows are computed.
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
        steps += [(i, j, (*held, j)) for j in stream for i in held]  # j stays while it streams
    return steps
