"""Orthogonal Procrustes: how well one model's centred, normalized activations rotate onto
another's."""

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST, arccos0, is_noise, sqrt0, svd
from jaxrsa.measures._base import Measure

OUTPUTS = ("score", "angular", "euclidean")


@dataclasses.dataclass(frozen=True)
class Procrustes(Measure):
    """Orthogonal Procrustes score ||Xn^T Yn||_*, Xn = Xc / ||Xc||_F, or a distance from it.

    The score is max over orthogonal Q of <Xn, Yn Q>_F (the sum of the singular values of
    Xn^T Yn; narrower models are padded with zero features): 1 when the representations are
    identical up to rotation, reflection, translation and isotropic scaling, 0 when their centred
    activations are orthogonal. Invariant to exactly those maps, not to general linear ones.

    `output="angular"` returns the angular shape distance arccos(score) and `"euclidean"` the
    Procrustes distance min_Q ||Xn - Yn Q||_F = sqrt(2 - 2 score) (Williams et al. 2021); both
    are metrics. These are distances, not similarities: 0 on the diagonal of `similarity_matrix`
    and for identical inputs. Near 0 they resolve about sqrt(eps) (float32: ~5e-4), since they
    are computed from the score; bitwise identical prepared models give exactly score 1.

    Prepared: Xn `[n, d]`, or for d > n the `[n, n]` matrix U S of its thin SVD (same singular
    values of every product Xn^T Yn), so each pair is one `[k_x, k_y]` product and its singular
    values.

    Args:
        output: "score" (similarity, default), "angular" or "euclidean" (distances).

    References:
        J. Gower, "Generalized Procrustes analysis", Psychometrika 1975; A. Williams, E. Kunz,
        S. Kornblith and S. Linderman, "Generalized Shape Metrics on Neural Representations",
        NeurIPS 2021.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> q = np.linalg.qr(np.arange(9.0).reshape(3, 3) + np.eye(3))[0]
        >>> round(float(similarity(x, 5 * x @ q + 1, "procrustes")), 6)
        1.0
    """

    output: str = "score"

    def __post_init__(self):
        _inputs.check_choice("Procrustes output", self.output, OUTPUTS)

    @property
    def larger_is_more_similar(self) -> bool:
        """True for the score; the angular and Euclidean outputs are distances."""
        return self.output == "score"

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def degenerate(self) -> str:
        return "every example has the same representation (zero variance across examples)"

    def workspace(self, n: int, d: int) -> int:
        return 3 * n * d + 2 * min(n, d) ** 2

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n k"]:
        """Xn `[n, d]` (or U S `[n, n]` when d > n), NaN when the activations have no variance."""
        n, d = x.shape
        xc = x - jnp.mean(x, axis=0)
        norm = jnp.linalg.norm(xc)
        flat = is_noise(norm, jnp.max(jnp.abs(x)), x.size)
        xn = xc / jnp.where(flat, 1.0, norm)
        if d > n:
            u, s, _ = svd(xn)
            xn = u * s
        return jnp.where(flat, jnp.nan, xn)

    def pair(self, px: Float[Array, "n kx"], py: Float[Array, "n ky"]) -> Float[Array, ""]:
        m = jnp.matmul(px.T, py, precision=HIGHEST)
        score = jnp.clip(jnp.sum(jnp.linalg.svd(m, compute_uv=False)), 0.0, 1.0)
        if px.shape == py.shape:
            score = jnp.where(jnp.all(px == py), 1.0, score).astype(score.dtype)
        if self.output == "angular":
            return arccos0(score)
        if self.output == "euclidean":
            return sqrt0(2.0 - 2.0 * score)
        return score
