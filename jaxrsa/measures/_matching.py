"""Measures that match the neurons (features) of two models one to one: netrep's permutation
shape metric, ReSi's permutation Procrustes and hard / soft correlation matches.

The optimal matching is a linear assignment problem, solved in JAX by optax's Hungarian
algorithm, so the pairs of a block are solved together under `vmap`.
"""

import dataclasses

import jax.numpy as jnp
from jaxtyping import Array, Float
from optax.assignment import hungarian_algorithm

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST, is_noise, norm0
from jaxrsa.measures._base import Measure
from jaxrsa.measures._shape import SCORES, distance

FLAT = "every example has the same representation (zero variance across examples)"


def matched_sum(c: Float[Array, "a b"]) -> Float[Array, ""]:
    """Largest sum of min(a, b) entries of `c` with no two in one row or column."""
    rows, cols = hungarian_algorithm(-c)
    return jnp.sum(c[rows, cols])


@dataclasses.dataclass(frozen=True)
class PermutationMetric(Measure):
    """netrep's `PermutationMetric`: distance after the best one-to-one matching of neurons.

    With P the permutation (of the zero-padded wider model's columns) maximising <Xc, Yc P>_F,
    score "angular" (default) is arccos(<Xc, Yc P>_F / (||Xc||_F ||Yc||_F)) and "euclidean" is
    ||Xc - Yc P||_F; both are metrics, invariant to permutations of neurons (and to translation
    when centred). With `center=False, score="euclidean"` it is ReSi's `PermutationProcrustes`.

    Args:
        score: "angular" (default) or "euclidean".
        center: centre the columns first (default True, netrep's `center_columns`).

    References:
        A. Williams, E. Kunz, S. Kornblith and S. Linderman, "Generalized Shape Metrics on
        Neural Representations", NeurIPS 2021 (ahwillia/netrep).

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 4))
        >>> round(float(similarity(x, x[:, [2, 0, 3, 1]] + 1.0, measures.PermutationMetric())), 3)
        0.0
    """

    score: str = "angular"
    center: bool = True

    def __post_init__(self):
        _inputs.check_choice("PermutationMetric score", self.score, SCORES)
        object.__setattr__(self, "center", _inputs.boolean("center", self.center))

    @property
    def scale_invariant(self) -> bool:
        return self.score == "angular"

    @property
    def translation_invariant(self) -> bool:
        return self.center

    @property
    def larger_is_more_similar(self) -> bool:
        return False

    @property
    def degenerate(self) -> str:
        return FLAT if self.center else "every activation is zero"

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
        """The (centred) activations; unit norm for the angular score."""
        xc = x - jnp.mean(x, axis=0) if self.center else x
        norm = jnp.linalg.norm(xc)
        flat = is_noise(norm, jnp.max(jnp.abs(x)), x.size)
        if self.score == "angular":
            xc = xc / jnp.where(flat, 1.0, norm)
        return jnp.where(flat, jnp.nan, xc)

    def pair(self, px: Float[Array, "n a"], py: Float[Array, "n b"]) -> Float[Array, ""]:
        return distance(self.score, matched_sum(jnp.matmul(px.T, py, precision=HIGHEST)), px, py)


@dataclasses.dataclass(frozen=True)
class CorrelationMatch(Measure):
    """Mean Pearson correlation of matched neurons (Li et al. 2016; ReSi's correlation matches).

    C: the d_x x d_y correlations between the neurons (columns) of x and y. "hard" (ReSi's
    `HardCorrelationMatch`): the mean of C over the one-to-one matching of min(d_x, d_y) neurons
    that maximises its sum. "soft" (`SoftCorrelationMatch`): the mean over x's neurons of their
    best correlation with any neuron of y, averaged with the same from y's side. A constant
    neuron has correlation 0 with every other (as scikit-learn's cosine in ReSi); a model whose
    neurons are all constant is an error. Invariant to permutations of neurons, translation and
    scaling of each neuron.

    Args:
        mode: "hard" or "soft".

    References:
        Y. Li, J. Yosinski, J. Clune, H. Lipson and J. Hopcroft, "Convergent Learning: Do
        different neural networks learn the same representations?", ICLR 2016.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 4))
        >>> round(float(similarity(x, 2 * x[:, [2, 0, 3, 1]], "hard_correlation_match")), 6)
        1.0
    """

    mode: str = "hard"

    def __post_init__(self):
        _inputs.check_choice("CorrelationMatch mode", self.mode, ("hard", "soft"))

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
        return "every neuron is constant across examples (no correlation is defined)"

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
        """Columns centred and scaled to unit norm (constant columns: zero)."""
        xc = x - jnp.mean(x, axis=0)
        norms = norm0(xc, axis=0)
        constant = is_noise(norms, jnp.max(jnp.abs(x), axis=0), x.shape[0])
        z = jnp.where(constant, 0.0, xc / jnp.where(constant, 1.0, norms))
        return jnp.where(jnp.all(constant), jnp.nan, z)

    def pair(self, px: Float[Array, "n a"], py: Float[Array, "n b"]) -> Float[Array, ""]:
        c = jnp.matmul(px.T, py, precision=HIGHEST)
        if self.mode == "hard":
            return matched_sum(c) / min(c.shape)
        return 0.5 * (jnp.mean(jnp.max(c, axis=1)) + jnp.mean(jnp.max(c, axis=0)))
