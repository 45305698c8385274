"""Differences of one summary statistic of each model (ReSi): magnitude, concentricity and
uniformity. Distances: 0 when the statistics are equal; all pairs are one subtraction."""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._numerics import is_noise, norm0, sq_distances
from jaxrsa.measures._inner import StatisticDifference


@dataclasses.dataclass(frozen=True)
class MagnitudeDifference(StatisticDifference):
    """| ||mean_i x_i|| - ||mean_i y_i|| |: the difference of the norms of the mean representations
    (ReSi's `MagnitudeDifference`). Invariant to orthogonal maps, not to translation or scaling.

    References:
        M. Klabunde et al., "ReSi: A Comprehensive Benchmark for Representational Similarity
        Measures", ICLR 2025.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.array([[1.0, 0.0], [1.0, 2.0]])  # mean (1, 1)
        >>> round(float(similarity(x, 3 * x, "magnitude_difference")), 6)  # 3 sqrt(2) - sqrt(2)
        2.828427
    """

    def statistic(self, x: Float[Array, "n d"]) -> Float[Array, ""]:
        return norm0(jnp.mean(x, axis=0))


@dataclasses.dataclass(frozen=True)
class ConcentricityDifference(StatisticDifference):
    """|c(x) - c(y)|, c(x) the mean cosine similarity of the examples to their mean (ReSi's
    `ConcentricityDifference`). As in ReSi (scikit-learn's cosine), an example with zero norm has
    cosine 0; a zero mean representation (e.g. centred activations) makes c undefined (an error).
    Invariant to orthogonal maps and isotropic scaling.

    References:
        M. Klabunde et al., "ReSi: A Comprehensive Benchmark for Representational Similarity
        Measures", ICLR 2025.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.array([[1.0, 0.0], [0.0, 1.0]])  # both at 45 degrees to the mean
        >>> round(float(similarity(x, x + 1.0, "concentricity_difference")), 6)
        0.241577
    """

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def degenerate(self) -> str:
        return "the mean representation is zero, so cosines to it are undefined"

    def statistic(self, x: Float[Array, "n d"]) -> Float[Array, ""]:
        mean = jnp.mean(x, axis=0)
        scale = jnp.max(jnp.abs(x))
        mean_norm = norm0(mean)
        zero_mean = is_noise(mean_norm, scale, x.size)
        norms = norm0(x, axis=1)
        zero = norms == 0
        cos = (x @ mean) / (jnp.where(zero, 1.0, norms) * jnp.where(zero_mean, 1.0, mean_norm))
        return jnp.where(zero_mean, jnp.nan, jnp.mean(jnp.where(zero, 0.0, cos)))


@dataclasses.dataclass(frozen=True)
class UniformityDifference(StatisticDifference):
    """|u(x) - u(y)|, u(x) = log(mean over all n^2 pairs of exp(-t ||x_i - x_j||^2)), t = 2
    (Wang and Isola 2020; ReSi's `UniformityDifference`). Computed with a log-sum-exp.
    Invariant to orthogonal maps and translation, not to scaling.

    Args:
        t: the temperature (default 2, as ReSi).

    References:
        T. Wang and P. Isola, "Understanding Contrastive Representation Learning through
        Alignment and Uniformity on the Hypersphere", ICML 2020.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.array([[0.0], [1.0]])  # u = log((2 + 2 e^-2) / 4)
        >>> round(float(similarity(x, 0 * x + 1, "uniformity_difference")), 6)  # u(y) = 0
        0.566219
    """

    t: float = 2.0

    @property
    def translation_invariant(self) -> bool:
        return True

    def __post_init__(self):
        object.__setattr__(self, "t", _inputs.positive("UniformityDifference t", self.t))

    def statistic(self, x: Float[Array, "n d"]) -> Float[Array, ""]:
        n = x.shape[0]
        return logsumexp(-self.t * sq_distances(x)) - 2.0 * np.log(n)
