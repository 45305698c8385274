"""Mutual k-nearest-neighbour alignment (Huh et al. 2024)."""

import dataclasses

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._first_order import ROW_CONDITION, first_undefined_example, rsm_kernel
from jaxrsa._numerics import ROUNDING_FACTOR, not_differentiable
from jaxrsa.measures._base import Measure

COINCIDE = (
    "all its examples point the same way (every cosine similarity is 1), so their neighbours "
    "would only reflect the examples' order"
)


@dataclasses.dataclass(frozen=True)
class MutualKNN(Measure):
    """Mean over examples of |kNN_X(i) ∩ kNN_Y(i)| / k (Huh et al. 2024).

    kNN_X(i) are the k examples whose representations in X have the largest cosine similarity to
    example i's, i itself excluded. Among equal similarities the lower example index comes first
    (`lax.top_k`'s order), so ties are broken the same way in every run. Invariant to orthogonal
    maps and to rescaling each example (not to translation: cosine neighbours are not centred).
    Needs k < n; examples with zero norm make it undefined (an error), and so do examples that all
    coincide in direction (every neighbour list would be an artefact of the examples' order).
    Neighbour lists are piecewise constant: differentiating through `mutual_knn` raises a
    TypeError naming the differentiable measures.

    Prepared: each example's k neighbours `[n, k]`, as indices stored in the activations' float
    dtype (exact below 2^24 examples; a float lets NaN mark an undefined model), so a pair costs
    n k^2 comparisons and memory stays O(n k) per model.

    Args:
        k: number of neighbours (default 10).

    References:
        M. Huh, B. Cheung, T. Wang and P. Isola, "The Platonic Representation Hypothesis",
        ICML 2024.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 4))
        >>> float(similarity(x, 3 * x[:, ::-1], measures.MutualKNN(k=5)))
        1.0
    """

    k: int = 10

    def __post_init__(self):
        object.__setattr__(self, "k", _inputs.positive_int("k", self.k))

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return False  # cosine neighbours

    @property
    def min_n(self) -> int:
        return self.k + 1

    @property
    def degenerate(self) -> str:
        return f"an example {ROW_CONDITION['cosine']}, or {COINCIDE}"

    def explain(self, x: Float[Array, "n d"]) -> str:
        bad = first_undefined_example(x, "cosine")
        return COINCIDE if bad is None else f"example {bad[0]} {ROW_CONDITION['cosine']}"

    def workspace(self, n: int, d: int) -> int:
        return 3 * n * n + 2 * n * d

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n k"]:
        """Indices of each example's k nearest neighbours `[n, k]` (as floats), NaN if undefined."""
        n = x.shape[0]
        x = not_differentiable(x, "mutual_knn (its neighbour lists)")
        s = rsm_kernel(x, "cosine")
        off = ~jnp.eye(n, dtype=bool)
        spread = jnp.max(s, where=off, initial=-jnp.inf) - jnp.min(s, where=off, initial=jnp.inf)
        coincide = spread <= ROUNDING_FACTOR * jnp.finfo(s.dtype).eps
        undefined = jnp.isnan(s).any() | coincide
        s = s.at[jnp.diag_indices(n)].set(-jnp.inf)
        _, idx = lax.top_k(s, self.k)
        return jnp.where(undefined, jnp.nan, idx.astype(x.dtype))

    def pair(self, px: Float[Array, "n k"], py: Float[Array, "n k"]) -> Float[Array, ""]:
        shared = jnp.sum(px[:, :, None] == py[:, None, :], dtype=jnp.int32)  # exact count
        return shared.astype(px.dtype) / (px.shape[0] * self.k)
