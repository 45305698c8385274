"""Representational similarity analysis: compare two models' (dis)similarity matrices."""

import dataclasses

import jax
import jax.numpy as jnp
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
from jaxrsa._numerics import centre_unit, gram_triangle, sq_distances_triangle, unit
from jaxrsa._rank import rankdata
from jaxrsa.measures._base import GramMeasure

ROWWISE = ("rowwise_cosine", "rowwise_pearson")
TRIANGLE = ("pearson", "spearman", "cosine")


@dataclasses.dataclass(frozen=True)
class RSA(GramMeasure):
    """Representational similarity analysis, row-wise (Abnar) or on the upper triangle.

    Row-wise comparisons (`second="rowwise_cosine"` or `"rowwise_pearson"`) take each model's
    similarity matrix S = `rsm(x, first)`, normalize (or centre and normalize) every row, and
    average the dot products of corresponding rows: full rows, diagonal included. Triangle
    comparisons (`"pearson"`, `"spearman"`, `"cosine"`) take the strict upper triangle of
    `rdm(x, first)` and compare those vectors (Spearman: average ranks for ties).

    Args:
        first: first-order kernel (row-wise: "cosine", "correlation", "dot", "rbf") or metric
            (triangle: "correlation", "cosine", "euclidean", "sqeuclidean").
        second: "rowwise_cosine" (default, Abnar), "rowwise_pearson", "pearson", "spearman" or
            "cosine".
        threshold: RBF bandwidth as a fraction of the median distance (with `first="rbf"`).

    References:
        S. Abnar, "Visualizing Model Comparison" (2020); S. Abnar, M. Dehghani and W. Zuidema,
        "Transferring Inductive Biases through Knowledge Distillation" (2020); N. Kriegeskorte,
        M. Mur and P. Bandettini, "Representational similarity analysis" (2008).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import measures, similarity
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> round(float(similarity(x, 2.0 * x, measures.RSA(second="rowwise_pearson"))), 6)
        1.0
    """

    first: str = "cosine"
    second: str = "rowwise_cosine"
    threshold: float = 0.5

    def __post_init__(self):
        _inputs.check_choice("second-order comparison", self.second, ROWWISE + TRIANGLE)
        if self.second in ROWWISE:
            _inputs.check_choice(f"first-order kernel for {self.second!r}", self.first, KERNELS)
        else:
            _inputs.check_choice(f"first-order metric for {self.second!r}", self.first, METRICS)
        object.__setattr__(self, "threshold", _inputs.positive("threshold", self.threshold))

    @property
    def min_n(self) -> int:
        return 3 if self.second in ("pearson", "spearman") else 2

    @property
    def degenerate(self) -> str:
        return {
            "rowwise_cosine": "a row of its similarity matrix is all zeros",
            "rowwise_pearson": "a row of its similarity matrix is constant",
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
        """Unit feature vector: `[n * n]` (row-wise) or `[n (n - 1) / 2]` (triangle)."""
        if self.second in ROWWISE:
            s = rsm_kernel(x, self.first, self.threshold)
            rows = unit(s) if self.second == "rowwise_cosine" else centre_unit(s)
            return rows.reshape(-1) / jnp.sqrt(jnp.asarray(x.shape[0], x.dtype))
        return self._finish_triangle(self._triangle(x))

    def prepare_many(self, xs: Float[Array, "k n d"]) -> Float[Array, "k p"]:
        """Spearman ranks every model's triangle in one batch (the ranking uses all cores)."""
        if self.second != "spearman":
            return super().prepare_many(xs)
        return jax.vmap(self._finish_triangle)(lax.map(self._triangle, xs))

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

    def _finish_triangle(self, v: Float[Array, " p"]) -> Float[Array, " p"]:
        if self.second == "spearman":  # ranks would turn an undefined (NaN) triangle finite
            v = jnp.where(jnp.isfinite(v).all(), rankdata(v), jnp.nan)
        return unit(v) if self.second == "cosine" else centre_unit(v)
