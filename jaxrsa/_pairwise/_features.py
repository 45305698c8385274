"""Linear CKA in feature space: all pairs from products of centred features, no n x n matrix.

For centred activations Xc `[n, d_x]`, Yc `[n, d_y]`, HSIC(X, Y) = ||Yc^T Xc||_F^2 (up to a
factor that cancels), and the debiased (U-statistic) HSIC adds terms of the rows' squared norms
r_x = diag(Xc Xc^T) (Song et al. 2012; Kornblith et al. 2019's
`_debiased_dot_product_similarity_helper`):

    HSIC_u = ||Yc^T Xc||_F^2 - n / (n - 2) r_x . r_y + (sum r_x)(sum r_y) / ((n - 1)(n - 2)).

All pairs of two blocks are a product `[d, n] x [n, e]` per pair, one pair at a time, whose
entries are squared and summed. It costs about 2 n d^2 per pair instead of
n^2 (d + 1) for the Gram path and holds `[n, d]` per model instead of n^2 / 2; `prefer` says
which path a call should take.

The same idea serves every measure whose pair is a function of the cross-covariance Xc^T Yc and
per-model terms: `cca`, `cca_r2`, `svcca`, `pwcca` and `procrustes` already work that way (their
prepared models are `[n, k]` bases and each pair is an SVD of a `[k, k]` cross product); the RSA
variants, RBF CKA and the rank-based measures have no such form.
"""

import dataclasses

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Float

from jaxrsa import measures
from jaxrsa._numerics import HIGHEST, is_noise


@dataclasses.dataclass(frozen=True)
class FeatureCKA(measures.Measure):
    """Linear CKA (biased or debiased) computed from centred features, equal to `CKA(debiased)`.

    Prepared model: (centred activations `[n, d]`, squared row norms `[n]`, self-HSIC `[]`).
    """

    debiased: bool = False

    @property
    def min_n(self) -> int:
        return 4 if self.debiased else 2

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def degenerate(self) -> str:
        return "every example has the same representation (zero variance across examples)"

    def __str__(self) -> str:
        return f"CKA(kernel='linear', debiased={self.debiased}) in feature space"

    def workspace(self, n: int, d: int) -> int:
        return 3 * n * d + 2 * d * d

    def _hsic(self, xty, rx, ry, n):
        """HSIC from ||Yc^T Xc||_F^2 and the rows' squared norms `[n]`."""
        if not self.debiased:
            return xty
        dot = jnp.matmul(ry, rx, precision=HIGHEST)
        return xty - n / (n - 2.0) * dot + jnp.sum(rx) * jnp.sum(ry) / ((n - 1.0) * (n - 2.0))

    def prepare(self, x: Float[Array, "n d"]):
        xc = x - jnp.mean(x, axis=0)
        flat = is_noise(jnp.linalg.norm(xc), jnp.max(jnp.abs(x)), x.size)
        xc = jnp.where(flat, jnp.nan, xc)
        rows = jnp.sum(xc * xc, axis=1)
        cov = jnp.matmul(xc.T, xc, precision=HIGHEST)
        own = self._hsic(jnp.sum(cov * cov), rows, rows, x.shape[0])
        return xc, rows, jnp.where(own > 0, own, jnp.nan)

    @property
    def sequential(self) -> bool:
        """Pairs one at a time, each one large product: vmapped over a block, XLA would first
        copy the block transposed (`[n, b e]`, as large as the block)."""
        return True

    def pair(self, px, py) -> Float[Array, ""]:
        (xc, rx, own_x), (yc, ry, own_y) = px, py
        cross = lax.dot_general(xc, yc, (((0,), (0,)), ((), ())), precision=HIGHEST)  # Xc^T Yc
        hsic = self._hsic(jnp.sum(cross * cross), rx, ry, xc.shape[0])
        return jnp.clip(hsic / jnp.sqrt(own_x * own_y), -1.0, 1.0)


def feature_form(measure: measures.Measure) -> FeatureCKA | None:
    """The feature-space equivalent of `measure`, if it has one."""
    if isinstance(measure, measures.CKA) and measure.kernel == "linear":
        return FeatureCKA(debiased=measure.debiased)
    return None


def prefer(n: int, widths: list[int], pairs: int, budget: int, itemsize: int) -> bool:
    """Whether the feature path is the better one for `pairs` pairs of models of these widths:
    fewer multiply-adds, or the only one whose prepared models fit the budget."""
    mean_d = sum(widths) / len(widths)
    gram = n * n * (sum(widths) / 2 + pairs / 2)  # prepare tri(Xc Xc^T), then products
    feature = n * (sum(d * d for d in widths) + pairs * mean_d * mean_d)
    gram_fits = 3 * n * (n + 1) // 2 * itemsize <= budget
    return feature <= gram or not gram_fits
