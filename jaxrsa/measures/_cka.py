"""Centred kernel alignment (CKA), linear or RBF, biased or debiased."""

import dataclasses

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa._first_order import rbf_kernel
from jaxrsa._numerics import (
    HIGHEST,
    gram,
    gram_triangle,
    is_noise,
    symmetrize,
    tri,
    triangle_indices,
    triu_indices,
    unit,
)
from jaxrsa.measures._base import GramMeasure, copies, resampled


def double_centre(k: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """H K H with H = I - 11^T / n."""
    k = k - jnp.mean(k, axis=0, keepdims=True)
    return k - jnp.mean(k, axis=1, keepdims=True)


def u_centre(k: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """U-centring of a Gram matrix (Song et al. 2012; as Kornblith et al.'s `center_gram`).

    Diagonal zeroed; row/column means taken over n - 2 with the 1 / (2 (n - 1)) correction
    subtracted; diagonal zeroed again. <U(K), U(L)> / (n (n - 3)) is the unbiased HSIC.
    """
    n = k.shape[0]
    off = ~jnp.eye(n, dtype=bool)
    k = jnp.where(off, k, 0.0)
    means = jnp.sum(k, axis=0) / (n - 2)
    means = means - jnp.sum(means) / (2 * (n - 1))
    return jnp.where(off, k - means[:, None] - means[None, :], 0.0)


@dataclasses.dataclass(frozen=True)
class CKA(GramMeasure):
    """Centred kernel alignment: <HKH, HLH>_F / (||HKH||_F ||HLH||_F).

    Linear: K = X X^T, equal to ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F). RBF:
    K_ij = exp(-D2_ij / (2 t^2 median(D2))). Debiased: U-centred Grams instead of HKH (n >= 4).
    Invariant to orthogonal maps and isotropic scaling (linear: also to translation).

    Args:
        kernel: "linear" or "rbf".
        threshold: the RBF bandwidth t, a fraction of the median distance.
        debiased: use the unbiased HSIC estimator (U-centring).

    References:
        S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of Neural Network
        Representations Revisited", ICML 2019.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import measures, similarity
        >>> x = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
        >>> round(float(similarity(x, 3.0 * x[:, ::-1], measures.CKA())), 6)
        1.0
    """

    kernel: str = "linear"
    threshold: float = 0.5
    debiased: bool = False

    def __post_init__(self):
        _inputs.check_choice("CKA kernel", self.kernel, ("linear", "rbf"))
        object.__setattr__(self, "threshold", _inputs.positive("threshold", self.threshold))
        object.__setattr__(self, "debiased", _inputs.boolean("debiased", self.debiased))

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def min_n(self) -> int:
        return 4 if self.debiased else 2

    @property
    def degenerate(self) -> str:
        if self.kernel == "rbf":
            return "the median squared distance is zero (most examples coincide)"
        return "every example has the same representation (zero variance across examples)"

    def centred_gram(self, xc: Float[Array, "n d"]) -> Float[Array, " p"]:
        """The centred linear Gram Xc Xc^T (debiased: U-centred) of centred activations, as a
        vector whose dot products are the Frobenius products of the matrices (HSIC up to a
        factor): `[n (n + 1) / 2]`, or `[n (n - 1) / 2]` debiased (its diagonal is zero).

        `prepare` normalizes it; `jaxrsa.minibatch_cka` adds its products over batches.
        """
        if not self.debiased:  # H X X^T H = Xc Xc^T, by triangle blocks (`gram_triangle`)
            upper, diagonal = gram_triangle(xc)
            return jnp.concatenate([2.0**0.5 * upper, diagonal])
        return 2.0**0.5 * tri(u_centre(symmetrize(gram(xc))))  # a Python float keeps the dtype

    def prepare(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """Unit feature vector of the centred Gram: `[n (n + 1) / 2]` (`[n (n - 1) / 2]` debiased).

        A symmetric matrix A maps to [sqrt(2) tri(A), diag(A)], whose dot products are the
        Frobenius products <A, B>_F: half the length of vec(A).
        """
        if self.kernel == "linear":
            xc = x - jnp.mean(x, axis=0)
            flat = is_noise(jnp.linalg.norm(xc), jnp.max(jnp.abs(x)), x.size)
            return unit(self.centred_gram(jnp.where(flat, jnp.nan, xc)))
        k = rbf_kernel(x, self.threshold)
        k = k if self.debiased else double_centre(k)
        if self.debiased:
            return unit(tri(u_centre(k)))
        return unit(jnp.concatenate([np.sqrt(2.0) * tri(k), jnp.diagonal(k)]))

    def prepare_resampled(self, x: Float[Array, "n d"], idx) -> Float[Array, " p"]:
        """`prepare(x[idx])` with the centred Gram's entries for pairs of an example and its own
        copy set to zero (debiased: before U-centring, as the diagonal), so that a copy does not
        count as a second example that is alike; the true diagonal is kept."""
        s = self.pair_matrix(x)
        if s is not None:
            return self.prepare_gathered(s, idx)
        k = rbf_kernel(x[idx], self.threshold)
        return self._finish_resampled(k if self.debiased else double_centre(k), idx)

    def pair_matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"] | None:
        """Linear: the Gram matrix `[n, n]` of the examples centred at their mean (NaN for a
        constant model); None for RBF, whose bandwidth is a median over the whole matrix."""
        if self.kernel != "linear":
            return None
        xc = x - jnp.mean(x, axis=0)
        flat = is_noise(jnp.linalg.norm(xc), jnp.max(jnp.abs(x)), x.size)
        return symmetrize(gram(jnp.where(flat, jnp.nan, xc)))

    def prepare_gathered(self, s: Float[Array, "n n"], idx) -> Float[Array, " p"]:
        """Double centring the resample's Gram gives the Gram of the resample centred at its own
        mean: `s[a, b] - r[a] - r[b] + g` with r the mean of row a over the resample (`s` times
        the examples' counts) and g their mean, so the biased form gathers only its triangle. A
        resample whose centred Gram has a trace at the rounding level of `s` is constant (NaN).
        """
        n = s.shape[0]
        scale = jnp.max(jnp.diagonal(s)[idx])
        if self.debiased:
            k = symmetrize(double_centre(resampled(s, idx)))
            flat = is_noise(jnp.trace(k), scale, n * n)
            return self._finish_resampled(jnp.where(flat, jnp.nan, k), idx)
        counts = jnp.zeros(n, s.dtype).at[idx].add(1.0)
        r = jnp.matmul(s, counts, precision=HIGHEST) / n
        g = jnp.dot(counts, r, precision=HIGHEST) / n
        rows, cols = self.example_pairs(n)
        a, b = idx[rows], idx[cols]
        k = s[a, b] - r[a] - r[b] + g
        flat = is_noise(jnp.sum(k[-n:]), scale, n * n)  # the trace: the diagonal comes last
        k = jnp.where((a == b) & (rows != cols), 0.0, jnp.where(flat, jnp.nan, k))
        return unit(jnp.where(rows == cols, 1.0, np.sqrt(2.0)) * k)

    def _finish_resampled(self, k: Float[Array, "n n"], idx) -> Float[Array, " p"]:
        k = jnp.where(copies(idx, diagonal=True), 0.0, k)
        if self.debiased:
            return unit(tri(u_centre(k)))
        rows, cols = self.example_pairs(k.shape[0])
        return unit(jnp.where(rows == cols, 1.0, np.sqrt(2.0)) * k[rows, cols])

    def example_pairs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Debiased: the strict upper triangle; otherwise the triangle (in the order `prepare`
        computes it), then the diagonal."""
        if self.debiased:
            return triu_indices(n)
        rows, cols = triangle_indices(n) if self.kernel == "linear" else triu_indices(n)
        return np.concatenate([rows, np.arange(n)]), np.concatenate([cols, np.arange(n)])
