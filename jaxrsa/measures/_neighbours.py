"""Measures on each example's k nearest neighbours (cosine similarity, self excluded): ReSi's
Jaccard, rank and second-order cosine similarities, and platonic-rep's CKNNA and cycle kNN.

Every model is prepared once into its neighbour lists `[n, k]` (as `MutualKNN`); a pair then
costs O(n k^2) comparisons (second-order cosine: O(n k d)), batched over the pairs of a block.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from jaxrsa._numerics import unit
from jaxrsa.measures._knn import MutualKNN

# Pairs evaluated together in `block`: each one gathers [n, k, d] (second-order cosine).
PAIRS_PER_STEP = 8


def shared(ix: Float[Array, "n k"], iy: Float[Array, "n k"]):
    """eq[i, a, b]: whether x's a-th neighbour of i is y's b-th (indices stored as floats)."""
    return ix[:, :, None] == iy[:, None, :]


def as_index(i: Float[Array, "..."]):
    return i.astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class JaccardSimilarity(MutualKNN):
    """Mean over examples of |kNN_x(i) ∩ kNN_y(i)| / |kNN_x(i) ∪ kNN_y(i)| (ReSi's
    `JaccardSimilarity`; k = 10, cosine neighbours). In [0, 1]; invariant to orthogonal maps and
    to rescaling each example.

    Args:
        k: number of neighbours (default 10).

    References:
        M. Klabunde et al., "ReSi: A Comprehensive Benchmark for Representational Similarity
        Measures", ICLR 2025.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> float(similarity(x, 3 * x[:, ::-1], "jaccard_similarity"))
        1.0
    """

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    def pair(self, px: Float[Array, "n k"], py: Float[Array, "n k"]) -> Float[Array, ""]:
        s = jnp.sum(shared(px, py), axis=(1, 2)).astype(px.dtype)
        return jnp.mean(s / (2 * self.k - s))


@dataclasses.dataclass(frozen=True)
class RankSimilarity(MutualKNN):
    """ReSi's `RankSimilarity` (Wang et al. 2020): neighbours shared by both lists, weighted by
    how alike and how high their ranks are.

    For example i with shared neighbours J_i, ranks r_x(j), r_y(j) in 1..k:
    s_i = sum over j in J_i of 2 / ((1 + |r_x(j) - r_y(j)|) (r_x(j) + r_y(j))), divided by
    sum_{t=1}^{|J_i|} 1/t (0 when J_i is empty); the measure is the mean of s_i, in [0, 1].

    Args:
        k: number of neighbours (default 10).

    References:
        C. Wang, W. Rao, W. Guo, P. Wang, J. Liu and X. Guan, "Towards understanding the
        instability of network embedding", IEEE TKDE 2020.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> round(float(similarity(x, 3 * x[:, ::-1], "rank_similarity")), 6)
        1.0
    """

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    def pair(self, px: Float[Array, "n k"], py: Float[Array, "n k"]) -> Float[Array, ""]:
        eq = shared(px, py)
        rank = np.arange(1, self.k + 1)
        weight = 2.0 / ((1 + np.abs(rank[:, None] - rank[None, :])) * (rank[:, None] + rank))
        harmonic = np.concatenate([[1.0], np.cumsum(1.0 / rank)])  # [0] unused: no term
        score = jnp.sum(jnp.where(eq, jnp.asarray(weight, px.dtype), 0.0), axis=(1, 2))
        count = jnp.sum(eq, axis=(1, 2))
        return jnp.mean(score / jnp.asarray(harmonic, px.dtype)[count])


@dataclasses.dataclass(frozen=True)
class SecondOrderCosineSimilarity(MutualKNN):
    """ReSi's `SecondOrderCosineSimilarity` (Hamilton et al. 2016): for each example, the cosine
    between its cosine distances to the union of its neighbours in x and in y, as measured in x
    and in y; the mean over examples. Invariant to orthogonal maps and to rescaling each example.

    Prepared: the unit-norm examples and the neighbour lists; a pair gathers the distances at
    the other model's neighbours (O(n k d)).

    Args:
        k: number of neighbours (default 10).

    References:
        W. Hamilton, J. Leskovec and D. Jurafsky, "Cultural Shift or Linguistic Drift? Comparing
        Two Computational Measures of Semantic Change", EMNLP 2016.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> round(float(similarity(x, 3 * x[:, ::-1], "second_order_cosine_similarity")), 6)
        1.0
    """

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    def prepare(self, x: Float[Array, "n d"]):
        return unit(x), super().prepare(x)

    def pair(self, px, py) -> Float[Array, ""]:
        (xh, ix), (yh, iy) = px, py

        def distances(h, idx):  # cosine distances of each example to its listed others
            d = 1.0 - jnp.einsum("nd,nkd->nk", h, h[as_index(idx)], precision=lax.Precision.HIGHEST)
            return jnp.clip(d, 0.0, 2.0)  # as scikit-learn's cosine_distances

        new = ~jnp.any(shared(ix, iy), axis=1)  # y's neighbours not among x's: [n, k]
        dx = jnp.concatenate([distances(xh, ix), jnp.where(new, distances(xh, iy), 0.0)], 1)
        dy = jnp.concatenate([distances(yh, ix), jnp.where(new, distances(yh, iy), 0.0)], 1)
        norms = jnp.linalg.norm(dx, axis=1) * jnp.linalg.norm(dy, axis=1)
        return jnp.mean(jnp.sum(dx * dy, axis=1) / norms)

    def block(self, pxs, pys) -> Float[Array, "a b"]:
        row = lambda px: lax.map(lambda py: self.pair(px, py), pys, batch_size=PAIRS_PER_STEP)
        return lax.map(row, pxs)


def masked_hsic(ix, vx, iy, vy) -> Float[Array, ""]:
    """Unbiased HSIC (Song et al. 2012) of K and L restricted to the mutual neighbours.

    K, L are given by their values `vx`, `vy` at each model's neighbour lists `ix`, `iy`; the
    mask keeps entry (i, j) when j is a neighbour of i in both. Equals platonic-rep's
    `hsic_unbiased(mask * K, mask * L)` without forming the n x n matrices.
    """
    n = ix.shape[0]
    eq = shared(ix, iy)
    a = jnp.where(jnp.any(eq, axis=2), vx, 0.0)  # (mask K)[i, ix[i, p]]
    b = jnp.sum(jnp.where(eq, vy[:, None, :], 0.0), axis=2)  # (mask L)[i, ix[i, p]]
    j = as_index(ix)
    column_sums_a = jnp.zeros(n, a.dtype).at[j].add(a)
    row_sums_b = jnp.sum(b, axis=1)
    # (mask L)[j, i] for each listed j of row i: row j's entry whose index is i
    back = ix[j] == jnp.arange(n, dtype=ix.dtype)[:, None, None]
    b_transposed = jnp.sum(jnp.where(back, b[j], 0.0), axis=2)
    trace = jnp.sum(a * b_transposed)
    value = (
        trace
        + jnp.sum(a) * jnp.sum(b) / ((n - 1) * (n - 2))
        - 2.0 * jnp.dot(column_sums_a, row_sums_b) / (n - 2)
    )
    return value / (n * (n - 3))


@dataclasses.dataclass(frozen=True)
class CKNNA(MutualKNN):
    """Centred kernel nearest-neighbour alignment (Huh et al. 2024, platonic-rep's `cknna`).

    Linear kernels K = X^ X^T of the unit-norm examples, restricted to the pairs (i, j) where j
    is among i's k nearest neighbours in both models; CKNNA = HSIC(K', L') / sqrt(HSIC(K'_x,
    K'_x) HSIC(L'_y, L'_y)) with the unbiased HSIC, K'_x the kernel restricted to x's own
    neighbours. 1 for identical neighbourhoods and kernels. Not symmetric (as platonic-rep's):
    the masked kernels are not symmetric matrices, and HSIC's term 1^T K' L' 1 changes when they
    swap (by about 1% on random data).

    platonic-rep adds 1e-6 to the denominator, which changes values by about 1e-6 / HSIC
    (1e-4 relative at n = 1000, k = 10) and makes identical models score below 1; `eps=1e-6`
    reproduces it, the default 0 does not.

    Prepared: neighbour lists, kernel values at them `[n, k]`, and the model's own HSIC.

    Args:
        k: number of neighbours (default 10, platonic-rep's `topk`), at least 2.
        eps: added to the denominator (platonic-rep: 1e-6).

    References:
        M. Huh, B. Cheung, T. Wang and P. Isola, "The Platonic Representation Hypothesis",
        ICML 2024.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> round(float(similarity(x, 3 * x[:, ::-1], "cknna")), 6)
        1.0
    """

    eps: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if self.k < 2:
            raise ValueError(f"CKNNA needs k >= 2, got {self.k}")
        eps = float(self.eps)
        if not (eps >= 0.0 and np.isfinite(eps)):
            raise ValueError(f"CKNNA eps must be a finite number >= 0, got {self.eps!r}")
        object.__setattr__(self, "eps", eps)

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    @property
    def symmetric(self) -> bool:
        return False  # the mask of mutual neighbours enters 1^T (mask K)(mask L) 1 unsymmetrically

    @property
    def min_n(self) -> int:
        return max(self.k + 1, 4)

    def prepare(self, x: Float[Array, "n d"]):
        idx = super().prepare(x)
        xh = unit(x)
        vals = jnp.einsum("nd,nkd->nk", xh, xh[as_index(idx)], precision=lax.Precision.HIGHEST)
        own = masked_hsic(idx, vals, idx, vals)
        return idx, vals, jnp.where(own > 0, own, jnp.nan)[None]

    def pair(self, px, py) -> Float[Array, ""]:
        (ix, vx, hx), (iy, vy, hy) = px, py
        return masked_hsic(ix, vx, iy, vy) / (jnp.sqrt(hx[0] * hy[0]) + self.eps)


@dataclasses.dataclass(frozen=True)
class CycleKNN(MutualKNN):
    """platonic-rep's `cycle_knn`: the fraction of examples i that are among the k nearest
    neighbours in x of one of their own k nearest neighbours in y. Not symmetric: `pair(x, y)`
    follows y's neighbours, then x's.

    Args:
        k: number of neighbours (default 10).

    References:
        M. Huh, B. Cheung, T. Wang and P. Isola, "The Platonic Representation Hypothesis",
        ICML 2024.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> float(similarity(x, 3 * x[:, ::-1], "cycle_knn"))
        1.0
    """

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    @property
    def symmetric(self) -> bool:
        return False

    def pair(self, px: Float[Array, "n k"], py: Float[Array, "n k"]) -> Float[Array, ""]:
        n = px.shape[0]
        back = px[as_index(py)] == jnp.arange(n, dtype=px.dtype)[:, None, None]
        return jnp.mean(jnp.any(back, axis=(1, 2)).astype(px.dtype))
