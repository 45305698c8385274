"""Representational similarity analysis: compare two models' (dis)similarity matrices."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._first_order import (
    KERNELS,
    METRICS,
    ROW_CONDITION,
    first_undefined_example,
    normalized_rows,
    rsm_kernel,
)
from jaxrsa._numerics import (
    centre_unit,
    gram_triangle,
    sq_distances_triangle,
    triangle_indices,
    unit,
)
from jaxrsa._rank import rankdata
from jaxrsa.measures._base import GramMeasure, copies

ROWWISE = ("rowwise_pearson", "rowwise_cosine")
TRIANGLE = ("pearson", "spearman", "cosine")


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


@dataclasses.dataclass(frozen=True)
class RSA(GramMeasure):
    """Representational similarity analysis, row-wise (Abnar) or on the upper triangle.

    Row-wise comparisons (`second="rowwise_pearson"` or `"rowwise_cosine"`) take each model's
    similarity matrix S = `rsm(x, first)` and average, over examples i, the Pearson r (or the
    cosine) of the rows S_X[i] and S_Y[i]. The diagonal S[i, i] is left out of every row unless
    `diagonal=True`: it is the same in every model, and with it unrelated representations score
    above 0 (about 0.07 with "rowwise_pearson", 0.95 with "rowwise_cosine" on ReLU activations).
    Triangle comparisons (`"pearson"`, `"spearman"`, `"cosine"`) take the strict upper triangle of
    `rdm(x, first)` and compare those vectors (Spearman: average ranks for ties).

    The default, `RSA()` (registry name "rsa"), is row-wise Pearson of cosine similarities
    without the diagonal: chance level 0. `RSA(second="rowwise_cosine", diagonal=True)` is
    Abnar's published code ("rsa_rowwise_cosine").

    Args:
        first: first-order kernel (row-wise: "cosine", "correlation", "dot", "rbf") or metric
            (triangle: "correlation", "cosine", "euclidean", "sqeuclidean").
        second: "rowwise_pearson" (default), "rowwise_cosine", "pearson", "spearman" or
            "cosine".
        threshold: RBF bandwidth as a fraction of the median distance (with `first="rbf"`).
        diagonal: keep each row's diagonal entry in row-wise comparisons.

    References:
        S. Abnar, "Visualizing Model Comparison" (2020); S. Abnar, M. Dehghani and W. Zuidema,
        "Transferring Inductive Biases through Knowledge Distillation" (2020); N. Kriegeskorte,
        M. Mur and P. Bandettini, "Representational similarity analysis" (2008).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import measures, similarity
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
        >>> round(float(similarity(x, 2.0 * x, measures.RSA())), 6)
        1.0
    """

    first: str = "cosine"
    second: str = "rowwise_pearson"
    threshold: float = 0.5
    diagonal: bool = False

    def __post_init__(self):
        _inputs.check_choice("second-order comparison", self.second, ROWWISE + TRIANGLE)
        if self.second in ROWWISE:
            _inputs.check_choice(f"first-order kernel for {self.second!r}", self.first, KERNELS)
        else:
            _inputs.check_choice(f"first-order metric for {self.second!r}", self.first, METRICS)
        object.__setattr__(self, "threshold", _inputs.positive("threshold", self.threshold))
        if not isinstance(self.diagonal, bool):
            raise TypeError(f"diagonal must be True or False, got {self.diagonal!r}")
        if self.diagonal and self.second not in ROWWISE:
            raise ValueError(
                f"diagonal=True applies to row-wise comparisons; {self.second!r} compares the "
                "strict upper triangle, which has no diagonal"
            )

    @property
    def _offdiagonal_rows(self) -> bool:
        return self.second in ROWWISE and not self.diagonal

    @property
    def scale_invariant(self) -> bool:
        return self.second in ROWWISE + TRIANGLE

    @property
    def translation_invariant(self) -> bool:
        return self.first in ("euclidean", "sqeuclidean")

    @property
    def min_n(self) -> int:
        if self.second in ("pearson", "spearman"):
            return 3
        return 3 if self.second == "rowwise_pearson" and not self.diagonal else 2

    @property
    def degenerate(self) -> str:
        where = " off the diagonal" if self._offdiagonal_rows else ""
        return {
            "rowwise_cosine": f"a row of its similarity matrix is all zeros{where}",
            "rowwise_pearson": f"a row of its similarity matrix is constant{where}",
            "cosine": "all its pairwise dissimilarities are zero",
        }.get(
            self.second,
            "all its pairwise dissimilarities are equal, so a correlation with them is undefined",
        )

    def explain(self, x: Float[Array, "n d"]) -> str:
        if self.first in ROW_CONDITION:
            bad = first_undefined_example(x, self.first)
            if bad is not None:
                return f"example {bad[0]} {ROW_CONDITION[self.first]}"
        if self.first == "rbf":
            return "the median squared distance is zero (most examples coincide)"
        return self.degenerate

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """Unit feature vector: `[n (n - 1)]` (row-wise; `[n * n]` with the diagonal) or
        `[n (n - 1) / 2]` (triangle)."""
        if self.second in ROWWISE:
            return self._finish_rows(rsm_kernel(x, self.first, self.threshold))
        return self._finish_triangle(self._triangle(x))

    def prepare_resampled(self, x: Float[Array, "n d"], idx) -> Float[Array, " p"]:
        """`prepare(x[idx])` with every pair of an example and its own copy left out, as the
        diagonal is: a copy is not a second example that happens to be alike."""
        n = idx.shape[0]
        if self.second in ROWWISE:
            keep = ~copies(idx, diagonal=self.diagonal)
            return self._finish_rows(rsm_kernel(x[idx], self.first, self.threshold), keep)
        i, j = triangle_indices(n)
        keep = idx[i] != idx[j]
        return self._finish_triangle(self._triangle(x[idx]), keep)

    def example_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if self.second not in ROWWISE:
            return triangle_indices(n)
        rows = np.repeat(np.arange(n), n - 1 if self._offdiagonal_rows else n)
        cols = np.tile(np.arange(n - 1 if self._offdiagonal_rows else n), n)
        if self._offdiagonal_rows:
            cols = cols + (cols >= rows)
        return rows, cols

    def prepare_many(self, xs: Float[Array, "k n d"]) -> Float[Array, "k p"]:
        """Spearman ranks every model's triangle in one batch (the ranking uses all cores)."""
        if self.second != "spearman":
            return super().prepare_many(xs)
        return jax.vmap(self._finish_triangle)(lax.map(self._triangle, xs))

    def _finish_rows(self, s: Float[Array, "n n"], keep=None) -> Float[Array, " p"]:
        """Rows of S normalized (Pearson: centred first), flattened, scaled so that the inner
        product of two models' vectors is the mean over rows of the rows' dot products."""
        n = s.shape[0]
        centre = self.second == "rowwise_pearson"
        if self._offdiagonal_rows:
            s = off_diagonal(s)
            keep = None if keep is None else off_diagonal(keep)
        if keep is None:
            rows = centre_unit(s) if centre else unit(s)
        else:
            rows = _masked_unit(s, keep, centre)
        return rows.reshape(-1) / jnp.sqrt(jnp.asarray(n, s.dtype))

    def _triangle(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """tri(rdm(x, first)) in `triangle_indices` order, or a vector the comparison cannot
        tell from it.

        Pearson r and Spearman rho are unchanged when both vectors go through the same
        decreasing affine map, so for "correlation" and "cosine" distances (1 - S) they take
        tri(S) itself.
        """
        if self.second in ("pearson", "spearman") and self.first in ROW_CONDITION:
            return gram_triangle(normalized_rows(x, self.first))[0]
        if self.first in ("euclidean", "sqeuclidean"):
            d2 = sq_distances_triangle(x)
            return jnp.sqrt(d2) if self.first == "euclidean" else d2
        return 1.0 - gram_triangle(normalized_rows(x, self.first))[0]

    def _finish_triangle(self, v: Float[Array, " p"], keep=None) -> Float[Array, " p"]:
        if self.second == "spearman":  # ranks would turn an undefined (NaN) triangle finite
            finite = jnp.isfinite(v).all()
            if keep is not None:  # left-out entries rank above all others, then drop out
                v = jnp.where(keep, v, jnp.inf)
            v = jnp.where(finite, rankdata(v), jnp.nan)
        centre = self.second != "cosine"
        if keep is None:
            return centre_unit(v) if centre else unit(v)
        return _masked_unit(v, keep, centre)
