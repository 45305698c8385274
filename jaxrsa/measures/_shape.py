"""Shape metrics (netrep's `LinearMetric`, Williams et al. 2021) and the orthogonal Procrustes
family of ReSi, with its aligned cosine similarity."""

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST, arccos0, is_noise, sqrt0, svd
from jaxrsa.measures._base import Measure

SCORES = ("angular", "euclidean")
# netrep's `whiten`: covariance eigenvalues are clipped to this, and alpha above 1 - this is 1.
EIGVAL_TOL = 1e-7


def distance(score: str, inner: Float[Array, ""], px: Array, py: Array) -> Float[Array, ""]:
    """The "angular" (arccos inner) or "euclidean" (sqrt(||px||^2 + ||py||^2 - 2 inner))
    distance from the best inner product of two prepared models: exactly 0 for identical ones,
    with derivative 0 there (the kink at the minimum), finite everywhere."""
    same = jnp.all(px == py) if px.shape == py.shape else False
    if score == "angular":
        return jnp.where(same, 0.0, arccos0(inner))
    sq = jnp.sum(px * px) + jnp.sum(py * py) - 2.0 * inner
    return jnp.where(same, 0.0, sqrt0(sq))


def nuclear_norm(px: Float[Array, "n a"], py: Float[Array, "n b"]) -> Float[Array, ""]:
    """||px^T py||_*: the largest <px, py Q>_F over orthogonal Q (narrower side zero-padded)."""
    return jnp.sum(jnp.linalg.svd(jnp.matmul(px.T, py, precision=HIGHEST), compute_uv=False))


@dataclasses.dataclass(frozen=True)
class ShapeMetric(Measure):
    """netrep's `LinearMetric(alpha)`: distance between partially whitened, optimally rotated
    representations (Williams et al. 2021).

    Each model is centred and partially whitened, X_w = Xc Z with
    Z = V diag(alpha + (1 - alpha) lambda^{-1/2}) V^T (V, lambda: eigenvectors and eigenvalues of
    Xc^T Xc, clipped below at 1e-7, as netrep). alpha = 1 leaves Xc as it is (Procrustes shape
    distance, invariant to rotations), alpha = 0 whitens fully (a CCA-like metric invariant to
    invertible linear maps). With score "angular" (default, netrep's) the distance is
    arccos(||X_w^T Y_w||_* / (||X_w||_F ||Y_w||_F)) in [0, pi/2]; with "euclidean" it is
    min_Q ||X_w - Y_w Q||_F = sqrt(||X_w||^2 + ||Y_w||^2 - 2 ||X_w^T Y_w||_*) with netrep's
    variance-preserving rescaling of Z. Both are metrics.

    `normalize=True` scales each X_w to unit Frobenius norm before the euclidean score (ReSi's
    `OrthogonalProcrustesCenteredAndNormalized`: sqrt(2 - 2 ||X_n^T Y_n||_*)); the angular score
    is unaffected. `center=False` skips the centring (netrep's `center_columns=False`).

    netrep zero-pads the narrower model of a pair before whitening; for the euclidean score with
    alpha < 1 its rescaling then counts the padded columns (eigenvalue 1e-7) and depends on the
    partner's width. Here each model is prepared once with its own width: equal to netrep for
    angular scores, for alpha = 1, and for models of equal width.

    Prepared: the partially whitened model in its own singular basis, U diag(s z) `[n, min(n, d)]`
    (the same nuclear norms and norms as X_w), so a pair is one small product and its singular
    values.

    Args:
        alpha: whitening regularization in [0, 1] (default 1).
        score: "angular" (default) or "euclidean".
        normalize: scale each model to unit norm (only changes the euclidean score).
        center: centre the columns first (default True).

    References:
        A. Williams, E. Kunz, S. Kornblith and S. Linderman, "Generalized Shape Metrics on
        Neural Representations", NeurIPS 2021 (ahwillia/netrep).

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> a = np.array([[1.0, 2, 0], [0, 1, 0], [3, 0, 1]])  # invertible, not orthogonal
        >>> round(float(similarity(x, x @ a, measures.ShapeMetric(alpha=0.0))), 2)  # ~sqrt(eps)
        0.0
    """

    alpha: float = 1.0
    score: str = "angular"
    normalize: bool = False
    center: bool = True

    def __post_init__(self):
        alpha = float(self.alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"ShapeMetric alpha must be in [0, 1], got {self.alpha!r}")
        object.__setattr__(self, "alpha", alpha)
        _inputs.check_choice("ShapeMetric score", self.score, SCORES)
        object.__setattr__(self, "normalize", _inputs.boolean("normalize", self.normalize))
        object.__setattr__(self, "center", _inputs.boolean("center", self.center))

    @property
    def scale_invariant(self) -> bool:
        # partial whitening (0 < alpha < 1) mixes scales: alpha + (1 - alpha) lambda^(-1/2)
        return self.alpha in (0.0, 1.0) and (self.score == "angular" or self.normalize)

    @property
    def translation_invariant(self) -> bool:
        return self.center

    @property
    def larger_is_more_similar(self) -> bool:
        return False

    @property
    def degenerate(self) -> str:
        if self.center:
            return "every example has the same representation (zero variance across examples)"
        return "every activation is zero"

    def workspace(self, n: int, d: int) -> int:
        return 3 * n * d + 2 * min(n, d) ** 2

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n r"]:
        """U diag(s z) `[n, min(n, d)]`, unit norm for angular or normalized scores."""
        d = x.shape[1]
        xc = x - jnp.mean(x, axis=0) if self.center else x
        norm = jnp.linalg.norm(xc)
        flat = is_noise(norm, jnp.max(jnp.abs(x)), x.size)
        u, s, _ = svd(jnp.where(flat, 1.0, xc))
        coef = s
        if self.alpha <= 1.0 - EIGVAL_TOL:
            a, padded = self.alpha, d - s.shape[0]  # eigenvalues beyond the rank: 0, clipped
            lam = jnp.maximum(s * s, EIGVAL_TOL)
            z = a + (1.0 - a) / jnp.sqrt(lam)
            if self.score == "euclidean" and not self.normalize:  # netrep's preserve_variance

                def new_var(lam):
                    return a * a * lam + 2 * a * (1 - a) * jnp.sqrt(lam) + (1 - a) ** 2

                total = jnp.sum(lam) + padded * EIGVAL_TOL
                var = jnp.sum(new_var(lam)) + padded * new_var(jnp.asarray(EIGVAL_TOL, x.dtype))
                z = z * jnp.sqrt(total / var)
            coef = s * z
        p = u * coef
        if self.score == "angular" or self.normalize:
            p = p / jnp.linalg.norm(p)
        return jnp.where(flat, jnp.nan, p)

    def pair(self, px: Float[Array, "n a"], py: Float[Array, "n b"]) -> Float[Array, ""]:
        return distance(self.score, nuclear_norm(px, py), px, py)


@dataclasses.dataclass(frozen=True)
class AlignedCosineSimilarity(Measure):
    """Mean cosine similarity of corresponding examples after the orthogonal Procrustes
    alignment of x onto y (ReSi's `AlignedCosineSimilarity`).

    Q = argmin over orthogonal Q of ||x Q - y||_F (x, y not centred; the narrower model
    zero-padded), then the mean over examples of cos(x_i Q, y_i). Examples whose representation
    is exactly zero in either model are left out of the mean (as ReSi, which warns); a model
    whose activations are all zero is an error. In [-1, 1]; invariant to orthogonal maps.

    References:
        M. Klabunde et al., "ReSi: A Comprehensive Benchmark for Representational Similarity
        Measures", ICLR 2025.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> q = np.linalg.qr(np.arange(9.0).reshape(3, 3) + np.eye(3))[0]
        >>> round(float(similarity(x, 2 * x @ q, "aligned_cosine_similarity")), 6)
        1.0
    """

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    @property
    def degenerate(self) -> str:
        return "every activation is zero"

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
        return jnp.where(jnp.any(x != 0), x, jnp.nan)

    def pair(self, px: Float[Array, "n a"], py: Float[Array, "n b"]) -> Float[Array, ""]:
        u, _, vt = jnp.linalg.svd(jnp.matmul(px.T, py, precision=HIGHEST), full_matrices=False)
        aligned = jnp.matmul(px, jnp.matmul(u, vt, precision=HIGHEST), precision=HIGHEST)
        # ||x_i Q|| = ||x_i||: Q is orthogonal once the narrower model is zero-padded
        nx, ny = jnp.linalg.norm(px, axis=1), jnp.linalg.norm(py, axis=1)
        used = jnp.any(px != 0, axis=1) & jnp.any(py != 0, axis=1)
        cos = jnp.sum(aligned * py, axis=1) / jnp.where(used, nx * ny, 1.0)
        count = jnp.sum(used)
        return jnp.where(count > 0, jnp.sum(jnp.where(used, cos, 0.0)), jnp.nan) / count
