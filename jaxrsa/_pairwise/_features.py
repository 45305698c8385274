"""Linear CKA in feature space: all pairs from cross-covariances accumulated over panels of
example rows, no n x n matrix and no copy of the activations held.

For centred activations Xc `[n, d_x]`, Yc `[n, d_y]`, HSIC(X, Y) = ||Xc^T Yc||_F^2 (up to a
factor that cancels), and the debiased (U-statistic) HSIC adds terms of the rows' squared norms
r_x = diag(Xc Xc^T) (Song et al. 2012; Kornblith et al. 2019's
`_debiased_dot_product_similarity_helper`):

    HSIC_u = ||Xc^T Yc||_F^2 - n / (n - 2) r_x . r_y + (sum r_x)(sum r_y) / ((n - 1)(n - 2)).

Every term is a sum over examples, so the models are read in panels of rows: each panel of a
block of models is centred with the models' own column means (one pass over each model first,
which also checks it), and each pair's product of panels `[d, rows] x [rows, e]` is added to its
`[d, e]` cross-covariance (each model's panel is its own buffer: slices of one wide panel would
be copied). On the diagonal only the pairs on and after each model are computed, so each pair
is computed once. Panels and blocks are sized to the memory budget; with several devices a
panel's rows are split over them and each product adds up across devices. It costs about
2 n d e per pair instead of n^2 (d + 1) for the Gram path; `prefer` says which path a call
should take.

The same idea serves every measure whose pair is a function of the cross-covariance Xc^T Yc and
per-model terms: `cca`, `cca_r2`, `svcca`, `pwcca` and `procrustes` already work that way (their
prepared models are `[n, k]` bases and each pair is an SVD of a `[k, k]` cross product); the RSA
variants, RBF CKA and the rank-based measures have no such form.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxrsa import _inputs, measures
from jaxrsa._numerics import HIGHEST
from jaxrsa._pairwise import _devices, _plan, _values

# Bytes per value and example row that a panel costs: its rows as read, centred and cast on the
# host, and on the device (a bound for any input dtype).
_PANEL_COPIES = 4


def feature_form(measure: measures.Measure) -> bool:
    """Whether `measure` has the feature-space form (linear CKA, biased or debiased)."""
    return isinstance(measure, measures.CKA) and measure.kernel == "linear"


def prefer(n: int, widths: list[int], pairs: int, budget: int, itemsize: int) -> bool:
    """Whether the feature path is the better one for `pairs` pairs of models of these widths:
    fewer multiply-adds, or the only one whose prepared models fit the budget."""
    mean_d = sum(widths) / len(widths)
    gram = n * n * (sum(widths) / 2 + pairs / 2)  # prepare tri(Xc Xc^T), then products
    feature = n * pairs * mean_d * mean_d
    gram_fits = 3 * n * (n + 1) // 2 * itemsize <= budget
    return feature <= gram or not gram_fits


class Step(NamedTuple):
    """Block pair (i, k) and which of its pairs are computed: "full" (all), "upper" (i == k,
    each model with itself and the ones after it) or "own" (i == k, each model with itself)."""

    i: int
    k: int
    kind: str


class Plan(NamedTuple):
    """Blocks of models (indices into the models of all sides, side after side), the block
    pairs to compute, and example rows per panel."""

    blocks: tuple[np.ndarray, ...]
    steps: tuple[Step, ...]
    rows: int


def plan(
    widths: list[list[int]], n: int, budget: int, itemsize: int, block_size: int | None = None
) -> Plan:
    """Blocks and panel rows whose cross-covariances and panels fit `budget` together.

    Args:
        widths: the widths of the models, per side (one side: the pairs on and above the
            diagonal; two: each model of the first with each of the second, and each model with
            itself for its scale).
        n: examples.
        budget: bytes for one block pair's cross-covariances and its two panels.
        itemsize: bytes per value of the compute dtype.
        block_size: models per block (default: as many as the budget allows, all if they fit).
    """
    d = max(w for side in widths for w in side)

    def per_row(b: int) -> int:  # panels of two blocks
        return _PANEL_COPIES * 2 * b * d * max(itemsize, 8)

    def covariances(b: int) -> int:  # the sums so far and one panel's terms
        return 2 * (b * d) ** 2 * itemsize

    if covariances(1) + per_row(1) > budget:
        raise ValueError(
            f"memory_budget={budget} bytes is too small for linear CKA in feature space on "
            f"models {d} wide: at least {covariances(1) + per_row(1)} bytes are needed (the "
            "cross-covariance of one pair, twice, and one example row)"
        )
    b = max(1, min(int(np.sqrt(budget / 2 / 2 / itemsize)) // d, max(map(len, widths))))
    if block_size is not None:
        b = min(b, _inputs.positive_int("block_size", block_size))
    blocks, sides, first = [], [], 0
    for side in widths:
        starts = range(first, first + len(side), b)
        sides.append(list(range(len(blocks), len(blocks) + len(starts))))
        blocks += [np.arange(s, min(s + b, first + len(side))) for s in starts]
        first += len(side)
    if len(widths) == 1:
        steps = [Step(i, k, "upper" if i == k else "full") for i in sides[0] for k in sides[0][i:]]
    else:
        steps = [Step(i, k, "full") for i in sides[0] for k in sides[1]]
        steps += [Step(i, i, "own") for side in sides for i in side]
    rows = int(min(n, max(1, (budget - covariances(b)) // per_row(b))))
    rows = -(-n // -(-n // rows))  # panels of equal size: the last one pads the least
    return Plan(tuple(blocks), tuple(steps), rows)


def _pairs(kind: str, a: int, b: int) -> tuple[tuple[int, int], ...]:
    """The (row, column) models of a block pair that a step computes."""
    if kind == "full":
        return tuple((i, k) for i in range(a) for k in range(b))
    if kind == "upper":
        return tuple((i, k) for i in range(a) for k in range(i, a))
    return tuple((i, i) for i in range(a))


@functools.partial(jax.jit, static_argnames="pairs")
def _products(zx: tuple, zy: tuple, pairs):
    """One panel's terms, from the panels `[rows, d_i]` of the models of two blocks: the
    cross-covariance Xc_i^T Yc_k `[d_i, e_k]` of each pair (one product per pair: each model's
    panel is its own buffer, so no slice of a wider panel is copied), the products of the rows'
    squared norms r_x^T r_y `[a, b]`, and each model's sum of squares `[a]`, `[b]`."""
    cross = tuple(
        lax.dot_general(zx[i], zy[k], (((0,), (0,)), ((), ())), precision=HIGHEST) for i, k in pairs
    )
    rx, ry = (jnp.stack([jnp.sum(z * z, axis=1) for z in zs], axis=1) for zs in (zx, zy))
    return cross, jnp.matmul(rx.T, ry, precision=HIGHEST), jnp.sum(rx, 0), jnp.sum(ry, 0)


@functools.partial(jax.jit, donate_argnums=0)
def _add(total, terms):
    return jax.tree.map(jnp.add, total, terms)


@jax.jit
def _squares(cross: tuple) -> jax.Array:
    """||C||_F^2 of each pair's cross-covariance."""
    return jnp.stack([jnp.sum(c * c) for c in cross])


def moments(x, label: str, measure: measures.CKA, dtype) -> _values.Moments:
    """One pass over a model: checked (finite, not constant), its column means and scale."""
    xs = x[None] if isinstance(x, jax.Array) else np.asarray(x)[None]
    stats = _values.moments(xs, dtype, measure, [label])
    if bool(stats.constant[0]):
        raise ValueError(f"{label}: {measure} is undefined: {measure.degenerate}")
    return stats


def _panel(rep, block, stats, dtype, measure, start, rows, mesh) -> tuple:
    """Rows [start, start + rows) of each model of the block, centred and scaled as the whole
    model, `[rows, d_i]` each (zero rows pad a short last panel to `rows` and the rows to a
    multiple of the devices, so that every panel has one shape and adds nothing)."""
    out = []
    for i in block:
        arrays, labels, k = rep(i)
        x = arrays[k][start : start + rows]
        x = x[None] if isinstance(x, jax.Array) else np.asarray(x)[None]
        s = stats[i]
        z = _values.to_compute(x, dtype, measure, [labels[k]], s.exponent, s.mean)[0]
        xp = jnp if isinstance(z, jax.Array) else np
        z = xp.pad(z, ((0, _plan.round_up(rows, _devices.size(mesh)) - len(z)), (0, 0)))
        out.append(_devices.put(z, mesh))
    return tuple(out)


def all_pairs(j, label: str, progress: bool) -> np.ndarray:
    """The `[m_a, m_b]` matrix of linear CKA for an engine job whose plan is a feature `Plan`."""
    measure, p, mesh, dtype = j.measure, j.plan, j.layout.mesh, j.dtype
    sides = j.sides
    offsets = np.cumsum([0, *(len(s.shapes) for s in sides)])

    def rep(i: int):  # the arrays and labels holding model i of all sides, and its index there
        side = int(np.searchsorted(offsets, i, side="right")) - 1
        return sides[side].reps.arrays, sides[side].reps.labels, i - int(offsets[side])

    widths = [shape[1] for s in sides for shape in s.shapes]
    n = sides[0].shapes[0][0]
    stats = []
    for i in range(len(widths)):
        arrays, labels, k = rep(i)
        stats.append(moments(arrays[k], labels[k], measure, dtype))
    hsic = np.full((len(widths),) * 2, np.nan, dtype)
    starts = range(0, n, p.rows)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        path = "feature space"
        if len(starts) > 1:
            path += f" in {len(starts)} panels of {p.rows} example rows"
        count = sum(len(_pairs(s.kind, len(p.blocks[s.i]), len(p.blocks[s.k]))) for s in p.steps)
        bar = tqdm(total=len(starts) * count, desc=f"{label} ({path})", unit="pair")
    for step in p.steps:
        bx, by = p.blocks[step.i], p.blocks[step.k]
        pairs = _pairs(step.kind, len(bx), len(by))
        total = None
        for start in starts:
            zx = _panel(rep, bx, stats, dtype, measure, start, p.rows, mesh)
            zy = zx if step.i == step.k else _panel(rep, by, stats, dtype, measure, start,
                                                     p.rows, mesh)  # fmt: skip
            terms = _products(zx, zy, pairs)
            total = terms if total is None else _add(total, terms)
            if bar is not None:
                bar.update(len(pairs))
        cross, rdot, sx, sy = total
        squares, rdot, sx, sy = (
            _devices.to_host(a).astype(np.float64) for a in (_squares(cross), rdot, sx, sy)
        )
        for value, (a, b) in zip(squares, pairs, strict=True):
            if measure.debiased:
                value += -n / (n - 2) * rdot[a, b] + sx[a] * sy[b] / ((n - 1) * (n - 2))
            hsic[bx[a], by[b]] = value
    if bar is not None:
        bar.close()
    own = np.diagonal(hsic)
    if not (own > 0).all():
        i = int(np.argmin(own > 0))
        arrays, labels, k = rep(i)
        raise ValueError(f"{labels[k]}: {measure} is undefined: {measure.degenerate}")
    scale = np.sqrt(own)
    values = np.clip(hsic / scale[:, None] / scale[None, :], -1.0, 1.0)
    if len(sides) == 1:
        return np.triu(values) + np.triu(values, 1).T
    return values[: offsets[1], offsets[1] :]
