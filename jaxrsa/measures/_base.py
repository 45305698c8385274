"""What a second-order measure is: per-model `prepare`, per-pair `pair`, and how pairs batch."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float, Int, PyTree

from jaxrsa._numerics import HIGHEST


@dataclasses.dataclass(frozen=True)
class Measure:
    """A similarity between two models' representations `x: [n, d_x]` and `y: [n, d_y]`.

    A measure is split into `prepare(x)`, the work that depends on one model only (done once per
    model), and `pair(px, py)`, the work per pair; `similarity_matrix` prepares every model once and
    evaluates `block` over blocks of prepared models. Subclasses are frozen dataclasses, so options
    are compared by value and a measure can be a static argument of `jax.jit`.

    `prepare` returns NaN where the measure is undefined for a representation (the API boundary
    turns that into an error naming the model and `degenerate`). To write your own measure,
    subclass this (or `GramMeasure`), implement `prepare` and `pair`, and pass an instance.
    """

    @property
    def min_n(self) -> int:
        """The fewest examples for which the measure is defined."""
        return 2

    @property
    def symmetric(self) -> bool:
        """Whether `pair(px, py) == pair(py, px)`; all pairs then compute one triangle."""
        return True

    @property
    def larger_is_more_similar(self) -> bool:
        """True for similarities (1 = identical), False for distances (0 = identical)."""
        return True

    @property
    def scale_invariant(self) -> bool:
        """Whether the value is unchanged when one model's activations are multiplied by any
        c > 0. The engine then rescales each model by a power of two before the products, so
        the value is the same at any finite magnitude; otherwise values that would overflow the
        compute dtype are an error."""
        return False

    @property
    def translation_invariant(self) -> bool:
        """Whether the value is unchanged when a constant vector is added to every example of
        one model. The engine then centres the columns in the input's own precision (float64
        stays float64) before casting to the compute dtype."""
        return False

    @property
    def degenerate(self) -> str:
        """Why `prepare` can be undefined (shown when it returns NaN)."""
        return "the measure is undefined for this representation"

    def explain(self, x: Float[Array, "n d"]) -> str:
        """The cause of a NaN from `prepare(x)`, as precisely as the measure can tell."""
        return self.degenerate

    def workspace(self, n: int, d: int) -> int:
        """Rough count of scalars `prepare` holds per model, to size blocks under a budget."""
        return 6 * n * n + 2 * n * d

    def prepare(self, x: Float[Array, "n d"]) -> PyTree:
        """Per-model work, e.g. a normalized feature vector or an orthonormal basis."""
        raise NotImplementedError

    def prepare_many(self, xs: Float[Array, "k n d"]) -> PyTree:
        """`prepare` of k models of one shape, stacked along a leading axis.

        One model after another (`lax.map`): XLA:CPU ran the per-model products here about a
        third faster than the same work vmapped into batched products. Override to batch a
        step that gains from it.
        """
        return lax.map(self.prepare, xs)

    def pair(self, px: PyTree, py: PyTree) -> Float[Array, ""]:
        """The similarity of two prepared models."""
        raise NotImplementedError

    @property
    def sequential(self) -> bool:
        """Whether the default `block` computes pairs one at a time rather than vmapped: for a
        `pair` that branches (`lax.cond`, `lax.switch`), which under `vmap` computes every
        branch."""
        return False

    def block(self, pxs: PyTree, pys: PyTree) -> Float[Array, "a b"]:
        """Similarities of every prepared model in `pxs` (leading axis a) with every one in `pys`.

        The default maps over rows (memory: one row of pairs at a time) and vmaps over columns
        (or maps over them too, if `sequential`).
        """
        if self.sequential:
            return lax.map(lambda px: lax.map(lambda py: self.pair(px, py), pys), pxs)
        return lax.map(lambda px: jax.vmap(self.pair, (None, 0))(px, pys), pxs)

    def upper_block(self, pxs: PyTree) -> Float[Array, "a a"]:
        """`block(pxs, pxs)` of a symmetric measure, on and above the diagonal (zero below: the
        engine mirrors it).

        With the default `block`, each of the a (a + 1) / 2 pairs is computed once, a / 2 at a
        time (their prepared models gathered: the memory of one more block, as an off-diagonal
        pair of blocks holds) or one at a time if `sequential`; a measure with a batched `block`
        of its own uses that.
        """
        if type(self).block is not Measure.block:
            return self.block(pxs, pxs)
        a = jax.tree.leaves(pxs)[0].shape[0]
        rows, cols = np.triu_indices(a)

        def one(rc):
            return self.pair(*(jax.tree.map(lambda v, i=i: v[i], pxs) for i in rc))

        batch = None if self.sequential else max(1, a // 2)
        vals = lax.map(one, (jnp.asarray(rows), jnp.asarray(cols)), batch_size=batch)
        return jnp.zeros((a, a), vals.dtype).at[rows, cols].set(vals)

    def prepare_resampled(self, x: Float[Array, "n d"], idx: Int[Array, " n"]) -> PyTree:
        """`prepare` of the examples `x[idx]` drawn with replacement (a bootstrap resample).

        By default the resample is prepared as it is: a repeated example counts as a weighted
        one, as in the usual bootstrap of covariance-based estimators. Measures built on pairs
        of examples override this so that an example paired with its own copy counts as a
        self-pair (see `copies`), not as two examples that are alike.
        """
        return self.prepare(self.examples(x, idx))

    def examples(self, x: Float[Array, "n d"], idx: Int[Array, " k"]) -> Float[Array, "k ..."]:
        """The model restricted to the examples `idx` (in that order, repeats allowed): its
        rows `x[idx]`; a model given as a precomputed `[n, n]` matrix of pairs of examples
        restricts rows and columns."""
        return x[idx]

    def __call__(self, x: Float[Array, "n dx"], y: Float[Array, "n dy"]) -> Float[Array, ""]:
        """`pair(prepare(x), prepare(y))`, without validation (see `jaxrsa.similarity`)."""
        return self.pair(self.prepare(x), self.prepare(y))


@dataclasses.dataclass(frozen=True)
class GramMeasure(Measure):
    """A measure that is an inner product of unit-norm per-model feature vectors.

    `prepare(x)` returns phi(x) `[p]` with ||phi|| = 1, so the similarity is <phi(x), phi(y)> and
    all pairs of a block are one matrix product Phi_a Phi_b^T. Results are clipped to [-1, 1],
    the Cauchy-Schwarz bound that rounding can overstep.
    """

    @staticmethod
    def inner(pxs: Float[Array, "a p"], pys: Float[Array, "b p"], precision=HIGHEST):
        """All inner products `[a, b]`, accumulated in at least float32."""
        acc = jnp.promote_types(pxs.dtype, jnp.float32)
        return jnp.matmul(pxs, pys.T, precision=precision, preferred_element_type=acc)

    def finish(self, inner: Float[Array, "..."]) -> Float[Array, "..."]:
        """Similarities from inner products of prepared vectors (here: clipped to [-1, 1])."""
        return jnp.clip(inner, -1.0, 1.0)

    def pair(self, px: Float[Array, " p"], py: Float[Array, " p"]) -> Float[Array, ""]:
        return self.finish(jnp.dot(px, py, precision=HIGHEST))

    def block(self, pxs: Float[Array, "a p"], pys: Float[Array, "b p"]) -> Float[Array, "a b"]:
        return self.finish(self.inner(pxs, pys))

    def example_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """For each entry of `prepare(x)` (length p), the examples `(i, j)` it belongs to.

        Declares that the prepared vector is laid out by pairs of examples and that `prepare`
        commutes with permutations of the examples: entry k of `prepare(x[perm])` is the entry
        of `prepare(x)` at the pair `(perm[i_k], perm[j_k])` (or `(perm[j_k], perm[i_k])` when
        only one order is stored). `permutation_test` then permutes prepared vectors instead of
        preparing the permuted activations again. None (the default): not laid out by pairs.
        """
        return None

    def pair_matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"] | None:
        """An `[n, n]` matrix whose entry (i, j) depends on examples i and j alone (a kernel or
        a dissimilarity), from which a resample is prepared: `prepare_resampled(x, idx)` is
        `prepare_gathered(pair_matrix(x), idx)`. The bootstrap then computes it once per model
        and gathers from it per resample instead of recomputing it from activations. None (the
        default): no such matrix (e.g. a median bandwidth over the whole matrix).
        """
        return None

    def prepare_gathered(self, s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, " p"]:
        """`prepare_resampled` of the resample `idx` from the model's `pair_matrix` `s` (whose
        resample is `resampled(s, idx)`). Only for measures whose `pair_matrix` is not None."""
        raise NotImplementedError(f"{self} has no pair matrix (pair_matrix is None)")

    def row_width(self, n: int) -> int | None:
        """Entries of `prepare(x)` per example row, when it is laid out by example rows.

        Declares that `prepare(x)` of n examples is n consecutive runs of `row_width(n)`
        entries, run i depending on example i's row of a first-order matrix and on statistics
        of that row alone, so that `prepare_rows` gives any run of rows without the rest. The
        engine then streams over panels of example rows when whole prepared vectors do not fit
        its memory budget. None (the default): not laid out so (a global statistic, such as a
        mean or median over the whole matrix, or ranks, normalizes every entry).
        """
        return None

    def prepare_rows(self, x: Float[Array, "n d"], start, count: int) -> Float[Array, " q"]:
        """The entries of `prepare(x)` belonging to example rows `[start, start + count)`:
        `prepare(x)[start * w : (start + count) * w]` with `w = row_width(n)`, `[count * w]`.

        `start` may be traced (one compilation per `count`); `start + count <= n`. Only for
        measures whose `row_width` is not None.
        """
        raise NotImplementedError(f"{self} is not laid out by example rows (row_width is None)")


def from_pairs(v: Float[Array, "... p"], rows, cols, n: int) -> Float[Array, "... n n"]:
    """`[..., n, n]` matrices M with M[rows, cols] = v and, where a layout stores one order of a
    pair only (a triangle), the same value at the mirror entry M[cols, rows] (zero elsewhere)."""
    m = jnp.zeros((*v.shape[:-1], n, n), v.dtype)
    return m.at[..., cols, rows].set(v).at[..., rows, cols].set(v)  # stored entries win


def resampled(s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, "n n"]:
    """The pair matrix of the resample `x[idx]`: `s[idx][:, idx]`, one gather."""
    return s[idx[:, None], idx[None, :]]


def copies(idx: Int[Array, " n"], diagonal: bool = False) -> Bool[Array, "n n"]:
    """Pairs `(a, b)` of a resample `idx` that are one example twice: `idx[a] == idx[b]`.

    The diagonal (a == b) is included unless `diagonal` is True (then only distinct positions
    holding the same example count).
    """
    same = idx[:, None] == idx[None, :]
    if diagonal:
        same = same & ~jnp.eye(idx.shape[0], dtype=bool)
    return same
