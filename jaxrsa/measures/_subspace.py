"""Measures on the subspaces the examples span (ReSi): eigenspace overlap, linear regression and
GULP. Each compares n x n projection (or ridge hat) matrices, so all pairs are one product."""

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import is_noise, svd
from jaxrsa.measures._inner import InnerProductMeasure, SquaredDistanceMeasure, gram_features

FLAT = "every example has the same representation (zero variance across examples)"


def left_singular(x: Float[Array, "n d"]):
    """Thin SVD of x: left singular vectors `[n, r]`, singular values `[r]`, and which count
    towards the rank (above numpy's `matrix_rank` tolerance s_max max(n, d) eps)."""
    u, s, _ = svd(x)
    tol = s[0] * max(x.shape) * jnp.finfo(x.dtype).eps
    return u, s, s > tol


def centred(x: Float[Array, "n d"]):
    """Columns centred, and whether they are all constant (up to rounding)."""
    xc = x - jnp.mean(x, axis=0)
    return xc, is_noise(jnp.linalg.norm(xc), jnp.max(jnp.abs(x)), x.size)


DENOMINATORS = ("width", "rank")


@dataclasses.dataclass(frozen=True)
class EigenspaceOverlapScore(InnerProductMeasure):
    """Eigenspace overlap score ||U_x^T U_y||_F^2 / max(d_x, d_y) (May et al. 2019), as ReSi.

    U_x: orthonormal basis of the column space of x (left singular vectors above the rank
    tolerance; the activations are not centred, as in ReSi). In [0, 1]; 1 when x and y span the
    same n-dimensional subspace and have full column rank. Invariant to invertible linear maps
    of the features.

    `denominator="width"` (default, ReSi) divides by the larger feature count, so a model with
    more features than examples (rank < d) scores below 1 even against itself;
    `denominator="rank"` divides by the larger rank, which is 1 for identical subspaces always.
    The two agree for full-rank models with d <= n.

    Prepared: the projection U U^T as a vector and the model's width and rank, so all pairs are
    one product <U_x U_x^T, U_y U_y^T>_F = ||U_x^T U_y||_F^2.

    Args:
        denominator: "width" (ReSi) or "rank".

    References:
        A. May, J. Zhang, T. Dao and C. Ré, "On the downstream performance of compressed word
        embeddings", NeurIPS 2019.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> round(float(similarity(x, x @ np.array([[1., 2, 0], [0, 1, 0], [3, 0, 1]]),
        ...                        "eigenspace_overlap_score")), 6)
        1.0
    """

    denominator: str = "width"

    def __post_init__(self):
        _inputs.check_choice("EigenspaceOverlapScore denominator", self.denominator, DENOMINATORS)

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    def prepare(self, x: Float[Array, "n d"]):
        u, _, kept = left_singular(x)
        scale = x.shape[1] if self.denominator == "width" else jnp.sum(kept)
        return gram_features(u * kept), jnp.asarray(scale, x.dtype)[None]

    def combine(self, inner, sx, sy):
        return inner / jnp.maximum(sx[..., 0], sy[..., 0])


@dataclasses.dataclass(frozen=True)
class LinearRegression(InnerProductMeasure):
    """R^2 of the least-squares prediction of x from y: ||P_y Xc||_F^2 / ||Xc||_F^2 (ReSi).

    Columns centred; P_y projects onto the column space of Yc (ReSi forms the orthonormal basis
    Yc (Yc^T Yc)^{-1/2}, which fails when Yc has not full column rank, e.g. d_y >= n; the
    projection is the same where that exists and defined everywhere). Not symmetric: `pair(x, y)`
    is how well y explains x. In [0, 1]; invariant to orthogonal maps and isotropic scaling of x
    and to invertible linear maps of y.

    Prepared: the vectors of Xc Xc^T / ||Xc||_F^2 (left) and of P_x (right), so all pairs are one
    product <Xc Xc^T, P_y>_F / ||Xc||_F^2.

    References:
        M. Klabunde, T. Schumacher, M. Strohmaier and F. Lemmerich, "Similarity of Neural
        Network Models: A Survey of Functional and Representational Measures", 2023.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> y = np.random.default_rng(0).normal(size=(20, 3))
        >>> round(float(similarity(y[:, :2], y, "linear_regression")), 6)  # x lies in y's span
        1.0
    """

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def larger_is_more_similar(self) -> bool:
        return True

    @property
    def symmetric(self) -> bool:
        return False

    @property
    def degenerate(self) -> str:
        return FLAT

    def prepare(self, x: Float[Array, "n d"]):
        xc, flat = centred(x)
        u, _, kept = left_singular(xc)
        norm = jnp.where(flat, 1.0, jnp.linalg.norm(xc))
        features = jnp.concatenate([gram_features(xc / norm), gram_features(u * kept)])
        return jnp.where(flat, jnp.nan, features), jnp.zeros((0,), x.dtype)

    def left(self, features):
        return features[..., : features.shape[-1] // 2]

    def right(self, features):
        return features[..., features.shape[-1] // 2 :]

    def combine(self, inner, sx, sy):
        return jnp.clip(inner, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class GULP(SquaredDistanceMeasure):
    """GULP distance (Boix-Adserà et al. 2022), as ReSi's `Gulp`: a squared distance.

    Each model is centred and scaled to ||Xc||_F^2 = n (so its covariance has trace 1); with
    H_x = Xc (Xc^T Xc / n + lambda I)^{-1} Xc^T / n, the ridge hat matrix, the value is
    ||H_x - H_y||_F^2: the squared distance between the best ridge predictors from the two
    representations, averaged over all linear targets. lambda = 0 (ReSi's default): H is the
    projection onto the column space, invariant to invertible linear maps and translation.

    ReSi (copying the GULP authors' code) counts every positive eigenvalue of the covariance as
    a dimension; with lambda = 0 the eigenvalues that are rounding noise (rank-deficient
    activations, e.g. d >= n) then count as full dimensions. Here eigenvalues below numpy's
    rank tolerance are zero, so the value is defined for every input; the two agree on
    full-rank activations.

    Prepared: the vector of H and its squared norm; all pairs are one product.

    Args:
        lmbda: the ridge penalty lambda >= 0 (default 0).

    References:
        E. Boix-Adserà, H. Lawrence, G. Stepaniants and P. Rigollet, "GULP: a prediction-based
        metric between representations", NeurIPS 2022.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> round(float(similarity(x, x @ np.array([[1., 2, 0], [0, 1, 0], [3, 0, 1]]), "gulp")), 4)
        0.0
    """

    lmbda: float = 0.0

    def __post_init__(self):
        value = float(self.lmbda)
        if not (value >= 0.0 and value < float("inf")):
            raise ValueError(f"GULP lmbda must be a finite number >= 0, got {self.lmbda!r}")
        object.__setattr__(self, "lmbda", value)

    @property
    def scale_invariant(self) -> bool:
        return True  # each model is normalized first

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def root(self) -> bool:
        return False  # GULP's value is the squared distance, as in ReSi

    @property
    def degenerate(self) -> str:
        return FLAT

    def prepare(self, x: Float[Array, "n d"]):
        n = x.shape[0]
        xc, flat = centred(x)
        xc = xc * (jnp.sqrt(n) / jnp.where(flat, 1.0, jnp.linalg.norm(xc)))
        u, s, kept = left_singular(xc)
        # sqrt of the weights ev / (ev + lambda), ev = s^2 / n: written so its derivative is
        # finite at s = 0 (dead units)
        root_w = s / jnp.sqrt(s * s + n * self.lmbda) if self.lmbda > 0 else kept.astype(x.dtype)
        features = jnp.where(flat, jnp.nan, gram_features(u * root_w))
        return features, self.norms(features)
