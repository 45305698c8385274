"""The planner and scheduler on shapes alone: every pair once, never over the budget, each block
prepared once when all fit."""

import itertools

import numpy as np
import pytest

from jaxrsa._pairwise import _plan

MiB = 2**20


def sizes_for(shapes, prepared=lambda s: s[0] * s[0] * 4, work=lambda s: 6 * s[0] ** 2 * 4):
    """Sizes of a Gram-type measure: prepared n^2 floats, signature by n only."""
    return {s: _plan.Sizes(("gram", s[0]), prepared(s), work(s)) for s in set(shapes)}


def simulate(plan, steps):
    """Run the engine's cache policy; return (pairs computed, most blocks held, preparations)."""
    cache, most, prepared, pairs = set(), 0, [], []
    for i, j, held in steps:
        for b in (i, j):
            if b not in cache:
                cache = {k for k in cache if k in held}
                cache.add(b)
                prepared.append(b)
            most = max(most, len(cache))
        rows, cols = plan.blocks[i].indices, plan.blocks[j].indices
        pairs += [(plan.blocks[i].side, r, plan.blocks[j].side, c) for r in rows for c in cols]
    return pairs, most, prepared


CASES = [
    # (shapes of side 0, shapes of side 1 or None, budget, block_size, ndev)
    ([(16, 5)] * 10, None, 64 * 1024, None, 1),
    ([(16, 5)] * 10, None, 12 * 1024, None, 1),
    ([(16, 4), (16, 9), (16, 6)] * 4, None, 20 * 1024, 3, 1),
    ([(16, 5)] * 11, None, 10**6, 3, 4),
    ([(16, 5)] * 7, [(16, 3)] * 5, 16 * 1024, None, 1),
    ([(16, 5)] * 7, [(16, 3)] * 5, 10**6, 2, 2),
]


@pytest.mark.parametrize("side0, side1, budget, block_size, ndev", CASES)
@pytest.mark.parametrize("symmetric", [True, False])
def test_every_pair_once_and_never_over_budget(side0, side1, budget, block_size, ndev, symmetric):
    sides = [side0] if side1 is None else [side0, side1]
    symmetric = symmetric and side1 is None
    sizes = sizes_for(side0 + (side1 or []))
    plan = _plan.plan(sides, sizes, budget, block_size, ndev)
    steps = _plan.schedule(plan, symmetric)
    pairs, most, prepared = simulate(plan, steps)

    # every model is in exactly one block; padding repeats a model of the same block only
    for side_id, side in enumerate(sides):
        owners = [b for b in plan.blocks if b.side == side_id]
        assert sorted(set(np.concatenate([b.indices for b in owners]))) == list(range(len(side)))
        assert sum(len(set(b.indices)) for b in owners) == len(side)
        for b in owners:
            assert all(len(c) % ndev == 0 for c in b.chunks)
            assert all(len({side[i] for i in c}) == 1 for c in b.chunks)  # one shape per chunk
    # every pair computed exactly once (block pairs never repeat), both orders when needed
    block_pairs = [(i, j) for i, j, _ in steps]
    assert len(block_pairs) == len(set(block_pairs))
    if symmetric:
        wanted = {
            (0, a, 0, b) for a, b in itertools.combinations_with_replacement(range(len(side0)), 2)
        }
        got = {(0, min(r, c), 0, max(r, c)) for _, r, _, c in pairs}
    else:
        other = 1 if side1 is not None else 0
        wanted = {(0, a, other, b) for a in range(len(side0)) for b in range(len(sides[-1]))}
        got = set(pairs)
    assert got == wanted
    # never more blocks held than the plan's capacity, and capacity blocks fit the budget
    assert most <= plan.capacity
    f = max(s.prepared for s in sizes.values())
    chunk = max(k * sizes[s].work for s, k in plan.chunk_size.items())
    biggest = max(len(b.indices) for b in plan.blocks)
    assert chunk + most * biggest * f <= budget
    # each block prepared once when they all fit
    if plan.capacity >= len(plan.blocks):
        assert sorted(prepared) == list(range(len(plan.blocks)))


def test_budget_below_the_minimum_is_an_error():
    sizes = sizes_for([(16, 5)])
    with pytest.raises(ValueError, match=r"memory_budget=100 bytes is too small for CKA"):
        _plan.plan([[(16, 5)] * 3], sizes, 100, what="CKA")


def test_budget_for_fewer_than_two_blocks_is_an_error():
    sizes = sizes_for([(16, 5)])
    with pytest.raises(ValueError, match="holds fewer than two blocks of 4 prepared models"):
        _plan.plan([[(16, 5)] * 8], sizes, 6 * 1024 + 3 * 1024 + 2 * 1024, block_size=4)


def test_signatures_split_blocks():
    shapes = [(16, 4), (16, 9), (16, 4)]
    sizes = {s: _plan.Sizes(s[1], 100, 100) for s in set(shapes)}  # one signature per width
    plan = _plan.plan([shapes], sizes, 10**6)
    assert sorted(tuple(b.indices) for b in plan.blocks) == [(0, 2), (1,)]
