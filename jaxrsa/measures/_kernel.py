"""Measures on each model's n x n distance or Gram matrix: distance correlation, the effective
number of shared dimensions (ENSD) and the RSM norm difference (ReSi)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import is_noise, sq_distances, sq_distances_triangle, sqrt0, tri, unit
from jaxrsa.measures._base import GramMeasure
from jaxrsa.measures._cka import double_centre
from jaxrsa.measures._inner import SquaredDistanceMeasure, gram_features

FLAT = "every example has the same representation (zero variance across examples)"


def distances(x: Float[Array, "n d"]) -> Float[Array, "n n"]:
    """Euclidean distances with a finite derivative: the square root is taken only where the
    squared distance is positive (the zero diagonal, and copies, stay 0 with derivative 0)."""
    return sqrt0(sq_distances(x))


@dataclasses.dataclass(frozen=True)
class DistanceCorrelation(GramMeasure):
    """Distance correlation (Székely et al. 2007), as ReSi's `DistanceCorrelation`.

    With A and B the double-centred Euclidean distance matrices of x and y (all n^2 entries),
    dCor = sqrt(<A, B>_F / sqrt(<A, A>_F <B, B>_F)), in [0, 1]: 1 for y = a x Q + b (Q
    orthogonal), 0 in the population limit only for independent representations. Invariant to
    orthogonal maps, translation and isotropic scaling of either model.

    Gram-type: the prepared vector is the unit vector of A, so all pairs are one product and
    `finish` takes the square root.

    References:
        G. Székely, M. Rizzo and N. Bakirov, "Measuring and testing dependence by correlation of
        distances", Annals of Statistics 2007; M. Klabunde et al., "ReSi: A Comprehensive
        Benchmark for Representational Similarity Measures", ICLR 2025.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> round(float(similarity(x, 2 * x[:, ::-1] + 1, "distance_correlation")), 6)
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
    def degenerate(self) -> str:
        return FLAT

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """Unit vector [sqrt(2) tri(A), diag(A)] of the double-centred distances `[n (n+1)/2]`."""
        a = double_centre(distances(x))
        return unit(jnp.concatenate([np.sqrt(2.0) * tri(a), jnp.diagonal(a)]))

    def finish(self, inner: Float[Array, "..."]) -> Float[Array, "..."]:
        return sqrt0(jnp.minimum(inner, 1.0))


@dataclasses.dataclass(frozen=True)
class ENSD(GramMeasure):
    """Effective number of shared dimensions (Giaffar et al. 2023).

    With K = Xc Xc^T and L = Yc Yc^T (columns centred),
    ENSD = tr(K) tr(L) tr(K L) / (tr(K^2) tr(L^2)) = sqrt(PR(x) PR(y)) CKA(x, y), where
    PR(x) = tr(K)^2 / tr(K^2) is the participation ratio; ENSD(x, x) = PR(x). Not bounded by 1:
    it counts dimensions (between 0 and min(rank x, rank y)). Invariant to orthogonal maps,
    translation and isotropic scaling.

    Gram-type: the prepared vector is [sqrt(2) tri(K), diag(K)] tr(K) / tr(K^2), whose inner
    products are ENSD itself (`finish` leaves them unclipped).

    References:
        C. Giaffar, C. Rueda Buitrago, T. Huang and D. Hochstein, "The effective number of
        shared dimensions: A simple method for revealing shared structure between datasets",
        bioRxiv 2023 (camillerb/ENSD).

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.vstack([np.eye(3), -np.eye(3)])  # three directions of equal variance
        >>> round(float(similarity(x, x, "ensd")), 6)
        3.0
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
    def degenerate(self) -> str:
        return FLAT

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        xc = x - jnp.mean(x, axis=0)
        trace = jnp.sum(xc * xc)
        flat = is_noise(jnp.sqrt(trace), jnp.max(jnp.abs(x)), x.size)
        features = gram_features(xc)
        sq = jnp.sum(features * features)
        return jnp.where(flat, jnp.nan, features * (trace / jnp.where(flat, 1.0, sq)))

    def finish(self, inner: Float[Array, "..."]) -> Float[Array, "..."]:
        return jnp.maximum(inner, 0.0)


NORMS = ("frobenius", "spectral")


@dataclasses.dataclass(frozen=True)
class RSMNormDifference(SquaredDistanceMeasure):
    """||S_x - S_y|| of the Euclidean distance matrices S (ReSi's `RSMNormDifference`): a distance.

    `norm="frobenius"` (default) is the definition in ReSi's paper and code comment: the
    Frobenius norm of the n x n difference, computed for all pairs as one product (prepared: the
    vector of S and its squared norm). ReSi's code takes `numpy.linalg.norm(S - S', ord=2)` of the
    full matrices, which is the spectral norm (largest singular value), not what its comment
    says; `norm="spectral"` reproduces it (one symmetric eigenvalue problem per pair). Invariant to
    orthogonal maps and translation, not to scaling.

    Args:
        norm: "frobenius" (default) or "spectral" (ReSi's published numbers).

    References:
        M. Klabunde et al., "ReSi: A Comprehensive Benchmark for Representational Similarity
        Measures", ICLR 2025; Shahbazi et al., "Using distance on the Riemannian manifold to
        compare representations in brain and in models", NeuroImage 2021.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.array([[0.0, 0.0], [3.0, 4.0]])
        >>> round(float(similarity(x, 2 * x, "rsm_norm_difference")), 4)  # 5 vs 10, twice
        7.0711
    """

    norm: str = "frobenius"

    def __post_init__(self):
        _inputs.check_choice("RSMNormDifference norm", self.norm, NORMS)

    @property
    def translation_invariant(self) -> bool:
        return True

    def prepare(self, x: Float[Array, "n d"]):
        """`(features, norms)`: sqrt(2) tri(S) and its `norms` (Frobenius), or S (spectral)."""
        if self.norm == "spectral":
            return distances(x), jnp.zeros((2,), x.dtype)
        v = np.sqrt(2.0) * sqrt0(sq_distances_triangle(x))
        return v, self.norms(v)

    def pair(self, px, py) -> Float[Array, ""]:
        if self.norm == "spectral":
            return jnp.max(jnp.abs(jnp.linalg.eigvalsh(px[0] - py[0])))
        return super().pair(px, py)

    def block(self, pxs, pys) -> Float[Array, "a b"]:
        if self.norm == "spectral":
            return jax.lax.map(lambda px: jax.vmap(self.pair, (None, 0))(px, pys), pxs)
        return super().block(pxs, pys)
