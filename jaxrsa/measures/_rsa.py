"""Representational similarity analysis: compare two models' (dis)similarity matrices.

`RSA(first=, second=, threshold=, diagonal=)` is one public class; the comparison `second`
chooses its form, a subclass: `RowwiseRSA` (rows of similarity matrices, Abnar), `TriangleRSA`
(vectors of the RDM's strict upper triangle: Gram-type, one product for all pairs) and
`PairwiseRSA` (rsatoolbox's Kendall tau-b, tau-a and Bures similarity, which need per-pair work,
batched over pairs). Each form takes its first-order kernel or metric as a name or an object
(`jaxrsa._first_order`), so a new metric needs no change here.
"""

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float, Int

from jaxrsa import _inputs
from jaxrsa._first_order import (
    RSA_METRICS,
    Cosine,
    Dot,
    Kernel,
    Metric,
    Precomputed,
    as_kernel,
    as_metric,
)
from jaxrsa._numerics import (
    HIGHEST,
    centre_unit,
    not_differentiable,
    symmetrize,
    triangle_indices,
    unit,
)
from jaxrsa._rank import rankdata
from jaxrsa.measures._base import GramMeasure, Measure, copies, from_pairs, resampled
from jaxrsa.measures._cka import double_centre

EQUAL = "all its pairwise dissimilarities are equal, so a correlation with them is undefined"
ZERO = "all its pairwise dissimilarities are zero"


def off_diagonal(s: Float[Array, "n n"]) -> Float[Array, "n n-1"]:
    """Each row of a square matrix without its diagonal entry, in column order."""
    n = s.shape[0]
    return s.reshape(-1)[1:].reshape(n - 1, n + 1)[:, :-1].reshape(n, n - 1)


def _masked_unit(v: Float[Array, "... p"], keep, centre: bool) -> Float[Array, "... p"]:
    """`centre_unit` (or `unit`) over the entries where `keep`; the others become 0."""
    w = keep.astype(v.dtype)
    if centre:
        v = v - jnp.sum(v * w, axis=-1, keepdims=True) / jnp.sum(w, axis=-1, keepdims=True)
    v = jnp.where(keep, v, 0.0)
    return unit(v, jnp.max(jnp.abs(v), axis=-1))


def square(v: Float[Array, " p"], n: int) -> Float[Array, "n n"]:
    """The symmetric zero-diagonal matrix whose strict upper triangle is `v` (in
    `triangle_indices` order)."""
    i, j = triangle_indices(n)
    m = jnp.zeros((n, n), v.dtype).at[i, j].set(v)
    return m + m.T


def centred_basis(n: int) -> np.ndarray:
    """An orthonormal basis `[n, n - 1]` of the vectors orthogonal to 1 (the last columns of the
    Householder reflection that maps e_1 to 1 / sqrt(n)): Q Q^T = H = I - 11^T / n."""
    u = np.full(n, 1.0 / np.sqrt(n))
    u[0] -= 1.0
    reflection = np.eye(n) - 2.0 * np.outer(u, u) / (u @ u)
    return reflection[:, 1:]


def _kernel_root(d: Float[Array, "n n"]) -> tuple[Float[Array, "n-1 n-1"], Float[Array, ""]]:
    """A factor F of G = -Q^T D Q / 2 (the centred kernel of D in a basis Q of the vectors
    orthogonal to 1, its exact zero eigenvalue left out): F = U sqrt(W) over the eigenvalues
    above rounding (their square roots would add errors of order sqrt(eps), 3e-4 in float32),
    and rsatoolbox's trace of G, negative eigenvalues included."""
    q = jnp.asarray(centred_basis(d.shape[0]), d.dtype)  # G = Q G' Q^T exactly: H1 = 0 drops out
    g = -0.5 * jnp.matmul(q.T, jnp.matmul(d, q, precision=HIGHEST), precision=HIGHEST)
    w, u = jnp.linalg.eigh(symmetrize(g))
    live = w > d.shape[0] * jnp.finfo(w.dtype).eps * jnp.max(jnp.abs(w))
    return u * jnp.sqrt(jnp.where(live, w, 0.0)), jnp.sum(w)


def tie_pairs(same: Bool[Array, " q"], dtype) -> Float[Array, ""]:
    """Number of pairs within runs of a sorted sequence s, from `same[k] = s[k + 1] == s[k]`:
    the sum over runs of c (c - 1) / 2."""
    k = jnp.arange(1, same.shape[0] + 1)
    start = lax.cummax(jnp.where(same, 0, k))  # where the run holding position k starts
    return jnp.sum(jnp.where(same, k - start, 0).astype(dtype))


class Ranked(NamedTuple):
    """A vector prepared for Kendall's tau (`ranked`)."""

    ranks: Int[Array, " p"]  # from 0, equal values sharing one
    order: Int[Array, " p"]  # an order that sorts the vector
    below: Int[Array, " c"]  # below[u]: the number of ranks < u, for u = 0 .. 2^b
    ties: Float[Array, ""]  # the number of tied pairs
    longest: Int[Array, ""]  # the longest run of equal values


def ranked(v: Float[Array, " p"]) -> Ranked:
    """`Ranked` of v (b = `_rank_bits(p)` bits hold every rank)."""
    p = v.shape[0]
    order = jnp.argsort(v)
    s = v[order]
    same = s[1:] == s[:-1]
    sorted_ranks = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(~same, dtype=jnp.int32)])
    ranks = jnp.zeros(p, jnp.int32).at[order].set(sorted_ranks, unique_indices=True)
    bound = jnp.arange((1 << _rank_bits(p)) + 1, dtype=jnp.int32)
    below = jnp.searchsorted(sorted_ranks, bound, side="left").astype(jnp.int32)
    longest = jnp.max(jnp.diff(below)).astype(jnp.int32)
    return Ranked(ranks, order.astype(jnp.int32), below, tie_pairs(same, v.dtype), longest)


def _rank_bits(p: int) -> int:
    return max(1, (p - 1).bit_length())


def _count(values: Int[Array, " p"], dtype) -> Float[Array, ""]:
    """Sum of non-negative int32 values below 2^b (b = `_rank_bits(p)`) as a float: exact
    int32 sums over chunks that cannot overflow, then one float sum of the chunk totals."""
    p = values.shape[0]
    chunk = min(p, 1 << max(0, 30 - _rank_bits(p)))
    padded = jnp.pad(values, (0, -p % chunk)).reshape(-1, chunk)
    return jnp.sum(jnp.sum(padded, axis=1).astype(dtype))


def inversions(ranks: Int[Array, " p"], below: Int[Array, " c"], dtype) -> Float[Array, ""]:
    """Number of pairs k < l with ranks[k] > ranks[l], `below` as in `Ranked` of the same
    ranks.

    A radix partition from the most significant bit: before bit t the sequence is grouped
    (stably) by the bits above t, each group where `below` says it is; an element with bit t
    clear is passed by every earlier element of its group with the bit set, and a stable
    partition by the bit refines the groups. b iterations of one loop body of a prefix sum, two
    gathers and a scatter: O(p log p), nothing per element, and it vmaps over pairs.
    """
    p = ranks.shape[0]
    bits = _rank_bits(p)
    pos = jnp.arange(p, dtype=jnp.int32)

    def level(i, carry):
        seq, total = carry
        t = bits - 1 - i
        low = jnp.left_shift(jnp.right_shift(seq, t + 1), t + 1)  # smallest rank of the group
        start = below[low]
        zeros = below[jnp.minimum(low + jnp.left_shift(1, t), 1 << bits)] - start
        bit = jnp.bitwise_and(jnp.right_shift(seq, t), 1)
        before = lax.associative_scan(jnp.add, bit) - bit
        ones = before - before[start]  # earlier elements of the group with the bit set
        total = total + _count(jnp.where(bit == 0, ones, 0), dtype)
        new = start + jnp.where(bit == 0, pos - start - ones, zeros + ones)
        return jnp.zeros_like(seq).at[new].set(seq, unique_indices=True), total

    return lax.fori_loop(0, bits, level, (ranks, jnp.zeros((), dtype)))[1]


# Runs of ties up to this long are counted pair by pair (`_within_runs`); longer runs on both
# sides take the lexicographic sort.
SHORT_RUNS = 16


def _within_runs(seq: Int[Array, " p"], start: Int[Array, " p"], longest, dtype):
    """Over pairs k < l of one run (`start[l]` <= k, l - k < `longest`): how many have
    seq[k] > seq[l], and how many seq[k] == seq[l]."""
    pos = jnp.arange(seq.shape[0], dtype=jnp.int32)

    def offset(off, counts):
        earlier = jnp.roll(seq, off)  # seq[l - off] where that is in the run
        inside = pos - off >= start
        greater = _count((inside & (earlier > seq)).astype(jnp.int32), dtype)
        equal = _count((inside & (earlier == seq)).astype(jnp.int32), dtype)
        return counts[0] + greater, counts[1] + equal

    zero = jnp.zeros((), dtype)
    return lax.fori_loop(1, longest, offset, (zero, zero))


def discordant(x: Ranked, y: Ranked, dtype) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """Pairs of entries ordered strictly one way by x and the other by y, and pairs tied in
    both: scipy's `_kendall_dis` and joint ties, in O(p log p).

    In the order of a side whose runs of ties are short, the other side's ranks have as many
    inversions as there are discordant pairs plus those inside its runs, which are counted
    pair by pair with the joint ties; where both sides have long runs, the entries are sorted
    by (x, y) and there are no inversions inside runs.
    """

    def in_order_of(u: Ranked, w: Ranked):
        def count():
            seq = w.ranks[u.order]
            start = u.below[u.ranks[u.order]]  # where each entry's run of u starts
            inside, joint = _within_runs(seq, start, u.longest, dtype)
            return inversions(seq, w.below, dtype) - inside, joint

        return count

    def lexicographic():
        a_s, b_s = lax.sort((x.ranks, y.ranks), num_keys=2)
        joint = tie_pairs((a_s[1:] == a_s[:-1]) & (b_s[1:] == b_s[:-1]), dtype)
        return inversions(b_s, y.below, dtype), joint

    branch = jnp.where(x.longest <= SHORT_RUNS, 0, jnp.where(y.longest <= SHORT_RUNS, 1, 2))
    return lax.switch(branch, [in_order_of(x, y), in_order_of(y, x), lexicographic])


@dataclasses.dataclass(frozen=True, repr=False)
class RSA(Measure):
    """Representational similarity analysis: compare two models' (dis)similarity matrices.

    Row-wise comparisons (`second="rowwise_pearson"` or `"rowwise_cosine"`) take each model's
    similarity matrix S = `rsm(x, first)` and average, over examples i, the Pearson r (or the
    cosine) of the rows S_X[i] and S_Y[i]. The diagonal S[i, i] is left out of every row unless
    `diagonal=True`: it is the same in every model, and with it unrelated representations score
    above 0 (about 0.07 with "rowwise_pearson", 0.95 with "rowwise_cosine" on ReLU activations).

    Triangle comparisons take the strict upper triangle of the RDM D = `rdm(x, first)`:
    `"pearson"`, `"spearman"` (average ranks for ties), `"cosine"`, and rsatoolbox's comparators
    (`rsatoolbox.rdm.compare` methods, same values): `"kendall"` (tau-b), `"tau_a"`, `"rho_a"`
    (Spearman without tie correction: 12 <r_x - mean, r_y - mean> / (p^3 - p)), `"corr_cov"`
    and `"cosine_cov"` (the RDM vectors whitened by the RDM covariance of the design: the cosine
    of the centred kernels G = -H D H / 2, after subtracting the triangle's mean for
    "corr_cov"; "cosine_cov" equals linear CKA of those kernels) and `"bures"` (the fidelity
    ||G_x^1/2 G_y^1/2||_* / sqrt(tr G_x tr G_y), rsatoolbox's `_bures_similarity_second_way`,
    which equals `compare` whenever the G are positive semidefinite, as they are for the four
    metrics). Rank comparisons rank dissimilarities computed pair by pair (`Metric.ordinal`), so
    equal true dissimilarities (integer data, repeated examples) tie exactly.

    `first="precomputed"` takes each model as its own `[n, n]` RDM (symmetric, zero diagonal,
    finite: checked), e.g. to compare model RDMs with brain RDMs:
    `similarity_matrix(rdms, measure=RSA(first="precomputed", second="spearman"))`.

    Bootstrap resamples (`prepare_resampled`): a pair of an example and its own copy is left
    out like the diagonal (row-wise, and the triangle comparisons except the following); the
    kernel comparisons ("corr_cov", "cosine_cov", "bures") and Kendall's taus keep the copies'
    zero dissimilarities, since their double centring and tie counts need every entry.

    The default, `RSA()` (registry name "rsa"), is row-wise Pearson of cosine similarities
    without the diagonal: chance level 0. `RSA(second="rowwise_cosine", diagonal=True)` is
    Abnar's published code ("rsa_rowwise_cosine").

    Args:
        first: first-order kernel (row-wise: "cosine", "correlation", "dot", "rbf", or a
            `Kernel`) or metric (triangle: "correlation", "cosine", "euclidean", "sqeuclidean",
            "precomputed", or a `Metric`).
        second: "rowwise_pearson" (default), "rowwise_cosine", "pearson", "spearman", "cosine",
            "kendall", "tau_a", "rho_a", "corr_cov", "cosine_cov" or "bures".
        threshold: RBF bandwidth as a fraction of the median distance (with `first="rbf"`).
        diagonal: keep each row's diagonal entry in row-wise comparisons.

    References:
        S. Abnar, "Visualizing Model Comparison" (2020); S. Abnar, M. Dehghani and W. Zuidema,
        "Transferring Inductive Biases through Knowledge Distillation" (2020); N. Kriegeskorte,
        M. Mur and P. Bandettini, "Representational similarity analysis" (2008); H. Nili et al.,
        "A toolbox for representational similarity analysis" (2014); J. Diedrichsen et al.,
        "Comparing representational geometries using whitened unbiased-distance-matrix
        similarity" (2021).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import measures, similarity
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
        >>> round(float(similarity(x, 2.0 * x, measures.RSA())), 6)
        1.0
        >>> d1 = jnp.array([[0.0, 1, 2], [1, 0, 3], [2, 3, 0]])
        >>> d2 = jnp.array([[0.0, 2, 4], [2, 0, 5], [4, 5, 0]])
        >>> round(float(similarity(d1, d2, measures.RSA("precomputed", "kendall"))), 6)
        1.0
    """

    first: "str | Kernel | Metric" = "cosine"
    second: str = "rowwise_pearson"
    threshold: float = 0.5
    diagonal: bool = False

    def __new__(cls, *args, **kwargs):
        if cls is not RSA and not args and not kwargs:  # copy and pickle restore fields later
            return object.__new__(cls)
        second = kwargs.get("second", args[1] if len(args) > 1 else "rowwise_pearson")
        _inputs.check_choice("second-order comparison", second, tuple(_FORMS))
        form = _FORMS[second]
        if not issubclass(form, cls):
            raise TypeError(f"second={second!r} is an RSA of another form: use measures.RSA(...)")
        return object.__new__(form)

    def __post_init__(self):
        object.__setattr__(self, "threshold", _inputs.positive("threshold", self.threshold))
        if not isinstance(self.diagonal, bool):
            raise TypeError(f"diagonal must be True or False, got {self.diagonal!r}")
        _ = self._first  # an unknown first-order name fails here, at construction

    def __repr__(self) -> str:
        return (
            f"RSA(first={self.first!r}, second={self.second!r}, threshold={self.threshold!r}, "
            f"diagonal={self.diagonal!r})"
        )

    @property
    def _first(self) -> "Kernel | Metric":
        raise NotImplementedError

    @property
    def scale_invariant(self) -> bool:
        return True

    def explain(self, x: Float[Array, "n d"]) -> str:
        return self._first.explain(x) or self.degenerate


@dataclasses.dataclass(frozen=True, repr=False)
class RowwiseRSA(RSA, GramMeasure):
    """Row-wise RSA (see `RSA`): rows of S = kernel(x), normalized, mean of row dot products."""

    @property
    def _first(self) -> Kernel:
        what = f"first-order kernel for {self.second!r}"
        return as_kernel(self.first, self.threshold, what=what)

    @property
    def _centre(self) -> bool:
        return self.second == "rowwise_pearson"

    @property
    def translation_invariant(self) -> bool:
        return self._first.translation_invariant

    @property
    def min_n(self) -> int:
        return 3 if self._centre and not self.diagonal else 2

    @property
    def degenerate(self) -> str:
        where = "" if self.diagonal else " off the diagonal"
        what = "constant" if self._centre else "all zeros"
        return f"a row of its similarity matrix is {what}{where}"

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """Unit feature vector `[n (n - 1)]` (`[n * n]` with the diagonal), scaled so that the
        inner product of two models' vectors is the mean over rows of the rows' dot products."""
        return self._finish(self._first.matrix(x))

    def prepare_resampled(
        self, x: Float[Array, "n d"], idx: Int[Array, " n"]
    ) -> Float[Array, " p"]:
        """`prepare(x[idx])` with every pair of an example and its own copy left out of the rows,
        as the diagonal is: a copy is not a second example that happens to be alike."""
        s = self.pair_matrix(x)
        if s is None:
            return self._finish(self._first.matrix(x[idx]), ~copies(idx, diagonal=self.diagonal))
        return self.prepare_gathered(s, idx)

    def pair_matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"] | None:
        """The kernel matrix `[n, n]` for the kernels computed pair by pair ("cosine",
        "correlation", "dot"); None for "rbf", whose bandwidth is a median over the matrix."""
        return self._first.matrix(x) if isinstance(self._first, (Cosine, Dot)) else None

    def prepare_gathered(self, s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, " p"]:
        return self._finish(resampled(s, idx), ~copies(idx, diagonal=self.diagonal))

    def example_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        per_row = n if self.diagonal else n - 1
        rows = np.repeat(np.arange(n), per_row)
        cols = np.tile(np.arange(per_row), n)
        return rows, cols if self.diagonal else cols + (cols >= rows)

    def row_width(self, n: int) -> int | None:
        """`n - 1` (`n` with the diagonal) when the kernel's rows can be computed alone
        ("cosine", "correlation", "dot"); None for "rbf", whose bandwidth is a median over
        the whole matrix."""
        if not isinstance(self._first, (Cosine, Dot)):
            return None
        return n if self.diagonal else n - 1

    def prepare_rows(self, x: Float[Array, "n d"], start, count: int) -> Float[Array, " q"]:
        """Rows `[start, start + count)` of `prepare(x)`, from those rows of the kernel alone:
        `[count * row_width(n)]`, O(count n d) work and O(count n) memory."""
        kernel, n = self._first, x.shape[0]
        if self.row_width(n) is None:
            return super().prepare_rows(x, start, count)
        features = kernel.rows(x) if isinstance(kernel, Cosine) else x
        panel = lax.dynamic_slice_in_dim(features, start, count)
        s = jnp.matmul(panel, features.T, precision=HIGHEST)
        example = start + jnp.arange(count)[:, None]  # each row's own example
        if not self.diagonal:  # row i without column i: columns j < i, then j + 1
            s = jnp.where(jnp.arange(n - 1) < example, s[:, :-1], s[:, 1:])
        elif isinstance(kernel, Cosine):  # as `Cosine.matrix`: exactly 1 on the diagonal
            s = jnp.where(jnp.arange(n) == example, 1.0, s)
        return self._unit_rows(s, n)

    def _finish(self, s: Float[Array, "n n"], keep=None) -> Float[Array, " p"]:
        n = s.shape[0]
        if not self.diagonal:
            s = off_diagonal(s)
            keep = None if keep is None else off_diagonal(keep)
        return self._unit_rows(s, n, keep)

    def _unit_rows(self, s: Float[Array, "r w"], n: int, keep=None) -> Float[Array, " q"]:
        """Rows of a similarity matrix of n examples (the diagonal already left out unless
        `diagonal`) centred (Pearson) and scaled to norm 1 / sqrt(n) (entries where not `keep`
        left out), flattened."""
        if keep is None:
            rows = centre_unit(s) if self._centre else unit(s)
        else:
            rows = _masked_unit(s, keep, self._centre)
        return rows.reshape(-1) / jnp.sqrt(jnp.asarray(n, s.dtype))


@dataclasses.dataclass(frozen=True)
class _Vector:
    """A triangle comparison that is the inner product of a (masked) normalized vector of the
    triangle or of its ranks; `rho_a` scales centred ranks by sqrt(12 / (p^3 - p)) instead."""

    centre: bool
    ranks: bool = False
    rho_a: bool = False
    min_n: int = 3
    degenerate: str = EQUAL

    def pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return triangle_indices(n)

    def values(self, metric: Metric, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """The triangle of the RDM (ranks: of its exact ordinal values)."""
        return metric.ordinal(x) if self.ranks else metric.triangle(x)

    def prepare(self, metric: Metric, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        return self.finish(self.values(metric, x))

    def gathered(self, s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, " p"]:
        """`prepare` of the resample `idx` from the model's RDM `s`, every pair of an example
        and its own copy left out as the diagonal is."""
        i, j = triangle_indices(idx.shape[0])
        a, b = idx[i], idx[j]  # the resample's triangle, gathered from s directly
        return self.finish(s[a, b], a != b)

    def finish(self, v: Float[Array, " p"], keep=None) -> Float[Array, " p"]:
        if self.ranks:  # ranks would turn an undefined (NaN) triangle finite
            finite = jnp.isfinite(v).all()
            if keep is not None:  # left-out entries rank above all others, then drop out
                v = jnp.where(keep, v, jnp.inf)
            v = jnp.where(finite, rankdata(v), jnp.nan)
        if self.rho_a:
            kept = v.shape[0] if keep is None else jnp.sum(keep).astype(v.dtype)
            keep = jnp.ones(v.shape, bool) if keep is None else keep
            c = jnp.where(keep, v - (kept + 1.0) / 2.0, 0.0)  # the kept ranks are 1..kept
            return c * jnp.sqrt(12.0 / (kept**3 - kept))
        if keep is None:
            return centre_unit(v) if self.centre else unit(v)
        return _masked_unit(v, keep, self.centre)


@dataclasses.dataclass(frozen=True)
class _Kernelized:
    """rsatoolbox's whitened comparisons: the unit vector of the centred kernel G = -H D H / 2
    of the RDM D (of D minus the mean of its triangle for `centre`, which is G - mean H / 2),
    all n^2 entries, whose inner products are <G_x, G_y>_F / (||G_x||_F ||G_y||_F). G is one
    product of the metric's kernel factor where it has one (`Metric.kernel_factor`). A
    resample keeps the zero dissimilarity of an example and its copy (G is of all pairs)."""

    centre: bool
    ranks: bool = False
    min_n: int = 3
    degenerate: str = EQUAL

    def pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.divmod(np.arange(n * n), n)
        return rows, cols

    def prepare(self, metric: Metric, x: Float[Array, "n d"]) -> Float[Array, " q"]:
        factor = metric.kernel_factor(x)
        if factor is None:
            return self.from_rdm(square(metric.triangle(x), x.shape[0]))
        g = symmetrize(jnp.matmul(factor, factor.T, precision=HIGHEST))
        # D_ij = G_ii + G_jj - 2 G_ij for a centred G: the triangle's mean is 2 tr G / (n - 1)
        return self._finish(g, 2.0 * jnp.trace(g) / (x.shape[0] - 1))

    def from_rdm(self, d: Float[Array, "n n"]) -> Float[Array, " q"]:
        """The vector of an RDM `[n, n]` (only its off-diagonal entries are used)."""
        n = d.shape[0]
        d = jnp.where(jnp.eye(n, dtype=bool), 0.0, d)
        return self._finish(-0.5 * double_centre(d), jnp.sum(d) / (n * (n - 1)))

    def gathered(self, s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, " q"]:
        return self.from_rdm(resampled(s, idx))

    def _finish(self, g: Float[Array, "n n"], mean: Float[Array, ""]) -> Float[Array, " q"]:
        if self.centre:  # D - mean (J - I) has the kernel G - mean H / 2
            n = g.shape[0]
            g = g - 0.5 * mean * (jnp.eye(n, dtype=g.dtype) - 1.0 / n)
        w = g.reshape(-1)
        return unit(w, jnp.max(jnp.abs(w)))


_TRIANGLE = {
    "pearson": _Vector(centre=True),
    "spearman": _Vector(centre=True, ranks=True),
    "cosine": _Vector(centre=False, min_n=2, degenerate=ZERO),
    "rho_a": _Vector(centre=True, ranks=True, rho_a=True),
    "corr_cov": _Kernelized(centre=True),
    "cosine_cov": _Kernelized(centre=False, min_n=2, degenerate=ZERO),
}


@dataclasses.dataclass(frozen=True, repr=False)
class _TriangleForms(RSA):
    """What the triangle forms share: a metric, validated for its comparison."""

    def __post_init__(self):
        super().__post_init__()
        if self.diagonal:
            raise ValueError(
                f"diagonal=True applies to row-wise comparisons; {self.second!r} compares the "
                "strict upper triangle, which has no diagonal"
            )

    @property
    def _first(self) -> Metric:
        what = f"first-order metric for {self.second!r}"
        return as_metric(self.first, what=what, table=RSA_METRICS)

    def examples(self, x: Float[Array, "n d"], idx: Int[Array, " k"]) -> Float[Array, "k ..."]:
        """Rows `x[idx]`; a precomputed RDM's rows and columns."""
        return resampled(x, idx) if isinstance(self._first, Precomputed) else x[idx]


@dataclasses.dataclass(frozen=True, repr=False)
class TriangleRSA(_TriangleForms, GramMeasure):
    """RSA on the RDM's strict upper triangle, Gram-type (see `RSA`)."""

    @property
    def _comparison(self):
        return _TRIANGLE[self.second]

    @property
    def translation_invariant(self) -> bool:
        # Ranks need dissimilarities computed from the raw rows: centring first would round
        # integer data and break its exact ties.
        return self._first.translation_invariant and not self._comparison.ranks

    @property
    def min_n(self) -> int:
        return self._comparison.min_n

    @property
    def degenerate(self) -> str:
        return self._comparison.degenerate

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """Feature vector `[n (n - 1) / 2]` (`[n^2]` for "corr_cov" and "cosine_cov")."""
        return self._comparison.prepare(self._first, x)

    def prepare_resampled(
        self, x: Float[Array, "n d"], idx: Int[Array, " n"]
    ) -> Float[Array, " p"]:
        """`prepare(x[idx])` with every pair of an example and its own copy left out of the
        triangle, as the diagonal is (the kernel comparisons keep them: see `RSA`). A
        precomputed RDM is resampled in its rows and columns."""
        return self.prepare_gathered(self.pair_matrix(x), idx)

    def pair_matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"]:
        """The RDM `[n, n]`; for rank comparisons the symmetric matrix of `Metric.ordinal`, whose
        equal dissimilarities are exactly equal (zero diagonal)."""
        if not self._comparison.ranks:
            return self._first.matrix(x)
        return from_pairs(self._first.ordinal(x), *triangle_indices(x.shape[0]), x.shape[0])

    def prepare_gathered(self, s: Float[Array, "n n"], idx: Int[Array, " n"]) -> Float[Array, " p"]:
        return self._comparison.gathered(s, idx)

    def example_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self._comparison.pairs(n)

    def prepare_many(self, xs: Float[Array, "k n d"]) -> Float[Array, "k p"]:
        """Rank comparisons rank every model's triangle in one batch (the ranking uses all
        cores)."""
        if not self._comparison.ranks:
            return super().prepare_many(xs)
        values = lax.map(functools.partial(self._comparison.values, self._first), xs)
        return jax.vmap(self._comparison.finish)(values)


@dataclasses.dataclass(frozen=True, repr=False)
class PairwiseRSA(_TriangleForms):
    """RSA comparisons that need per-pair work (see `RSA`), batched over pairs by the engine:
    Kendall's tau-b and tau-a (a radix count of discordant pairs in the order of a side without
    ties, or after a lexicographic sort of the ranks; O(p log p) per pair, one pair at a time)
    and the Bures similarity (a k x k SVD per pair of kernel factors of width k, d for the
    correlation, cosine and squared Euclidean metrics, n - 1 otherwise)."""

    @property
    def _kendall(self) -> bool:
        return self.second in ("kendall", "tau_a")

    @property
    def sequential(self) -> bool:
        return self._kendall  # `pair` branches on ties

    @property
    def translation_invariant(self) -> bool:
        return self._first.translation_invariant and not self._kendall

    @property
    def min_n(self) -> int:
        return 3 if self.second == "kendall" else 2

    @property
    def degenerate(self) -> str:
        return EQUAL if self.second == "kendall" else ZERO

    def prepare(self, x: Float[Array, "n d"]):
        """Kendall: the triangle's `Ranked` (its tie count NaN where tau is undefined).
        Bures: a factor F `[n, k]` of G / tr G = F F^T, G = -H D H / 2 the centred kernel of
        the RDM D: the metric's own (`Metric.kernel_factor`, k = d), else from the
        eigendecomposition of G (k = n - 1), so that the similarity
        ||G_x^1/2 G_y^1/2||_* / sqrt(tr G_x tr G_y) is ||F_x^T F_y||_*, a k x k SVD per pair."""
        if self._kendall:
            v = not_differentiable(self._first.ordinal(x), "ranking (Kendall's tau)")
            r = ranked(v)
            p = v.shape[0]
            undefined = ~jnp.isfinite(v).all()
            if self.second == "kendall":  # every entry tied: tau-b is 0 / 0
                undefined = undefined | (r.ties == p * (p - 1) / 2)
            return r._replace(ties=jnp.where(undefined, jnp.nan, r.ties))
        # square roots of a kernel of rank below n - 1 (the usual case, d < n) have no finite
        # derivative: refuse differentiation clearly instead of returning NaN gradients
        x = not_differentiable(
            x, "the Bures similarity", "the square root of a rank-deficient kernel has no "
            "finite derivative, and kernels of d < n features are rank-deficient",
        )  # fmt: skip
        factor = self._first.kernel_factor(x)
        if factor is None:
            factor, trace = _kernel_root(square(self._first.triangle(x), x.shape[0]))
        else:
            trace = jnp.sum(factor * factor)
        zero = ~(trace > 0) | ~jnp.isfinite(trace)
        return jnp.where(zero, jnp.nan, factor / jnp.sqrt(jnp.where(zero, 1.0, trace)))

    def pair(self, px, py) -> Float[Array, ""]:
        if not self._kendall:
            fidelity = jnp.linalg.svd(jnp.matmul(px.T, py, precision=HIGHEST), compute_uv=False)
            return jnp.minimum(jnp.sum(fidelity), 1.0)
        p, ta, tb = px.ranks.shape[0], px.ties, py.ties
        dis, joint = discordant(px, py, ta.dtype)
        total = p * (p - 1) / 2
        score = total - ta - tb + joint - 2.0 * dis
        if self.second == "kendall":
            return jnp.clip(score / jnp.sqrt((total - ta) * (total - tb)), -1.0, 1.0)
        return jnp.clip(score / total, -1.0, 1.0)


_FORMS = {
    "rowwise_pearson": RowwiseRSA,
    "rowwise_cosine": RowwiseRSA,
    **dict.fromkeys(_TRIANGLE, TriangleRSA),
    **dict.fromkeys(("kendall", "tau_a", "bures"), PairwiseRSA),
}
