"""Measures whose all pairs are one matrix product plus per-model scalars, and measures that
compare one per-model statistic.

`GramMeasure` covers inner products of unit vectors (and functions of them); distances such as
||phi(x) - phi(y)|| need each model's norm as well, and asymmetric measures such as linear
regression pair a left vector of x with a right vector of y. `InnerProductMeasure` carries both:
the block of pairs is one product of the prepared vectors, combined entrywise with the models'
scalars.
"""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa._numerics import HIGHEST, abs0, gram_triangle, sqrt0
from jaxrsa.measures._base import GramMeasure, Measure


def gram_features(z: Float[Array, "n r"]) -> Float[Array, " p"]:
    """Vector of Z Z^T whose dot products are Frobenius products: [sqrt(2) upper, diagonal].

    p = n (n + 1) / 2; the triangle is taken block by block (`gram_triangle`), in the same order
    for every model, so feature vectors of different models line up.
    """
    upper, diagonal = gram_triangle(z)
    return jnp.concatenate([np.sqrt(2.0) * upper, diagonal])


@dataclasses.dataclass(frozen=True)
class InnerProductMeasure(Measure):
    """A measure `combine(<left(x), right(y)>, s(x), s(y))` of prepared vectors and scalars.

    `prepare` returns `(features [p], scalars [k])`; `left` and `right` select the vectors that
    are multiplied (both the whole feature vector unless a subclass says otherwise), so all pairs
    of a block are one matrix product followed by `combine`.
    """

    def left(self, features: Float[Array, "... p"]) -> Float[Array, "... q"]:
        """The part of the prepared vector that stands on the left of the inner product."""
        return features

    def right(self, features: Float[Array, "... p"]) -> Float[Array, "... q"]:
        """The part of the prepared vector that stands on the right of the inner product."""
        return features

    def combine(self, inner, sx, sy):
        """The measure from inner products `[...]` and scalars `[..., k]` of the two sides."""
        raise NotImplementedError

    def pair(self, px, py) -> Float[Array, ""]:
        inner = jnp.dot(self.left(px[0]), self.right(py[0]), precision=HIGHEST)
        return self.combine(inner, px[1], py[1])

    def block(self, pxs, pys) -> Float[Array, "a b"]:
        inner = GramMeasure.inner(self.left(pxs[0]), self.right(pys[0]))
        return self.combine(inner, pxs[1][:, None, :], pys[1][None, :, :])


@dataclasses.dataclass(frozen=True)
class SquaredDistanceMeasure(InnerProductMeasure):
    """||phi(x) - phi(y)||^2 (or its square root) from <phi(x), phi(y)> and the scalars
    `norms(phi)` that `prepare` returns: the squared norm and a fingerprint of phi.

    Computed from inner products, a distance near 0 resolves about sqrt(eps) ||phi|| (float64:
    1e-8 relative). Prepared models with equal squared norms and fingerprints (bitwise: the same
    model) are at distance exactly 0, on the diagonal of `similarity_matrix` too.
    """

    @property
    def larger_is_more_similar(self) -> bool:
        return False

    @property
    def root(self) -> bool:
        """Whether the measure is the distance (True) or its square (False)."""
        return True

    @staticmethod
    def norms(v: Float[Array, " p"]) -> Float[Array, " 2"]:
        """[||v||^2, a fixed pseudo-random projection of v]: equal for equal vectors only."""
        weights = jnp.cos(jnp.arange(v.shape[0], dtype=v.dtype) * 0.7071)
        return jnp.stack([jnp.dot(v, v, precision=HIGHEST), jnp.dot(v, weights, precision=HIGHEST)])

    def combine(self, inner, sx, sy):
        sq = jnp.maximum(sx[..., 0] + sy[..., 0] - 2.0 * inner, 0.0)
        same = (sx[..., 0] == sy[..., 0]) & (sx[..., 1] == sy[..., 1])
        sq = jnp.where(same, 0.0, sq)
        return sqrt0(sq) if self.root else sq


@dataclasses.dataclass(frozen=True)
class StatisticDifference(Measure):
    """|s(x) - s(y)| for a per-model statistic `s` (a distance: 0 for equal statistics)."""

    @property
    def larger_is_more_similar(self) -> bool:
        return False

    def statistic(self, x: Float[Array, "n d"]) -> Float[Array, ""]:
        """The per-model statistic."""
        raise NotImplementedError

    def workspace(self, n: int, d: int) -> int:
        return 3 * n * n + 2 * n * d

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " 1"]:
        return self.statistic(x)[None]

    def pair(self, px: Float[Array, " 1"], py: Float[Array, " 1"]) -> Float[Array, ""]:
        return abs0(px[0] - py[0])

    def block(self, pxs: Float[Array, "a 1"], pys: Float[Array, "b 1"]) -> Float[Array, "a b"]:
        return abs0(pxs - pys.T)
