"""First order: the n x n (dis)similarity matrix of one model's representations of n examples.

Every metric (a dissimilarity between examples) and kernel (a similarity) is one small frozen
object, in the spirit of ott-jax's `CostFn`: it knows its full matrix for one unbatched model, its
strict upper triangle (what triangle RSA compares), and the condition under which it is undefined.
`rdm`, `rsm` and the RSA measures take a name or such an object; a name is looked up in one table
and an unknown name is an error there. To add a metric, subclass `Metric` and pass an instance.
"""

import dataclasses
import functools
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike
from jaxtyping import Array, Bool, Float

from jaxrsa import _inputs
from jaxrsa._numerics import (
    ROUNDING_FACTOR,
    centre_unit,
    gram,
    gram_triangle,
    median_sq_distance,
    sq_distances,
    sq_distances_triangle,
    sqrt0,
    symmetrize,
    triangle_indices,
    unit,
)


def _pairwise_exact(f, xt: Float[Array, "d n"]) -> Float[Array, " p"]:
    """`f(x_i, x_j)` for every pair of the triangle (`triangle_indices` order), from the
    transposed activations `xt` `[d, n]`.

    `f(a [d, 1], b [d, n])` reduces over axis 0, the major axis: XLA accumulates it feature by
    feature in each lane, the same sequence for every example, so two pairs of identical rows
    give bitwise identical values wherever they sit (a reduction over the minor axis is
    vectorized differently for the trailing examples). `xt` is materialized first: fused into
    `f`, a division computed in a vector lane and in a scalar broadcast rounded differently.
    """
    xt = lax.optimization_barrier(xt)  # no fusion of the rows' arithmetic into each pair
    full = lax.map(lambda xi: f(xi[:, None], xt), xt.T)
    return full[triangle_indices(xt.shape[1])]


# ------------------------------------------------------------------------------------ kernels


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A first-order similarity between examples: `matrix(x)` is `[n, n]` for `x: [n, d]`.

    Class attributes: `name` (the name `rsm` accepts), `degree` (`matrix(c x) = c^degree
    matrix(x)` for c > 0, used to compute at any magnitude), `translation_invariant`, and
    `condition` (why one example can make the kernel undefined, or None).
    """

    name: ClassVar[str]
    degree: ClassVar[int]
    translation_invariant: ClassVar[bool] = False
    condition: ClassVar[str | None] = None

    def matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"]:
        """The `[n, n]` similarity matrix of one model; NaN where it is undefined."""
        raise NotImplementedError

    def undefined_rows(self, x: Float[Array, "n d"]) -> Bool[Array, " n"]:
        """The examples for which `condition` holds (default: none)."""
        return jnp.zeros(x.shape[0], bool)

    def explain(self, x: Float[Array, "n d"]) -> str | None:
        """Why `matrix(x)` is undefined, naming the first culprit; None if it is defined."""
        bad = np.flatnonzero(np.asarray(self.undefined_rows(x)))
        return f"example {int(bad[0])} {self.condition}" if len(bad) else None


@dataclasses.dataclass(frozen=True)
class Dot(Kernel):
    """S = X X^T."""

    name: ClassVar[str] = "dot"
    degree: ClassVar[int] = 2

    def matrix(self, x):
        return symmetrize(gram(x))


@dataclasses.dataclass(frozen=True)
class Cosine(Kernel):
    """Cosine similarity of two examples' feature vectors (rows scaled to unit norm)."""

    name: ClassVar[str] = "cosine"
    degree: ClassVar[int] = 0
    condition: ClassVar[str] = "has zero norm, so its cosine similarity is undefined"
    centred: ClassVar[bool] = False  # rows centred before they are scaled

    def rows(self, x: Float[Array, "n d"]) -> Float[Array, "n d"]:
        """Rows whose dot products are the kernel; NaN rows where `condition` holds."""
        return unit(x)

    def undefined_rows(self, x):
        return jnp.isnan(self.rows(x)).any(axis=-1)

    def matrix(self, x):
        s = symmetrize(gram(self.rows(x)))
        return s.at[jnp.diag_indices(x.shape[0])].set(1.0)


@dataclasses.dataclass(frozen=True)
class Correlation(Cosine):
    """Pearson r between two examples' feature vectors (rows centred, then unit norm)."""

    name: ClassVar[str] = "correlation"
    condition: ClassVar[str] = (
        "is constant across features, so its Pearson correlation is undefined"
    )
    centred: ClassVar[bool] = True

    def rows(self, x):
        return centre_unit(x)


def rbf_kernel(x: Float[Array, "n d"], threshold: float = 0.5) -> Float[Array, "n n"]:
    """K_ij = exp(-D2_ij / (2 t^2 median(D2))), the median over all n^2 squared distances.

    Kornblith et al. (2019)'s bandwidth; NaN when the median is zero (most examples coincide).
    """
    d2 = sq_distances(x)
    median = median_sq_distance(d2)
    bandwidth = 2.0 * threshold**2 * median
    safe = jnp.where(median > 0, bandwidth, 1.0)
    return jnp.where(median > 0, jnp.exp(-d2 / safe), jnp.nan)


@dataclasses.dataclass(frozen=True)
class RBF(Kernel):
    """exp(-D2 / (2 threshold^2 median(D2))), D2 the squared distances (see `rbf_kernel`)."""

    threshold: float = 0.5
    name: ClassVar[str] = "rbf"
    degree: ClassVar[int] = 0
    translation_invariant: ClassVar[bool] = True

    def __post_init__(self):
        object.__setattr__(self, "threshold", _inputs.positive("threshold", self.threshold))

    def matrix(self, x):
        return rbf_kernel(x, self.threshold)

    def explain(self, x):
        if np.isnan(np.asarray(self.matrix(x))).any():
            return "the median squared distance is zero (most examples coincide)"
        return None


# ------------------------------------------------------------------------------------ metrics


@dataclasses.dataclass(frozen=True)
class Metric:
    """A first-order dissimilarity between examples: `matrix(x)` is `[n, n]` for `x: [n, d]`.

    Besides the full matrix, a metric gives its strict upper triangle in `triangle_indices`
    order (`triangle`, the fast path built on Gram blocks) and `ordinal`, a vector with the same
    order as the triangle, computed so that equal true dissimilarities give equal entries (what
    ranks need: every pair by the same elementwise reduction, not by blocked products).
    Class attributes as for `Kernel`.
    """

    name: ClassVar[str]
    degree: ClassVar[int]
    translation_invariant: ClassVar[bool] = False
    condition: ClassVar[str | None] = None

    def matrix(self, x: Float[Array, "n d"]) -> Float[Array, "n n"]:
        """The `[n, n]` dissimilarity matrix of one model; NaN where it is undefined."""
        raise NotImplementedError

    def triangle(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """The strict upper triangle of `matrix(x)`, p = n (n - 1) / 2, `triangle_indices` order."""
        return self.matrix(x)[triangle_indices(x.shape[0])]

    def ordinal(self, x: Float[Array, "n d"]) -> Float[Array, " p"]:
        """A vector in the order of `triangle` whose ranks are the triangle's, with ties exact."""
        return self.triangle(x)

    def undefined_rows(self, x: Float[Array, "n d"]) -> Bool[Array, " n"]:
        """The examples for which `condition` holds (default: none)."""
        return jnp.zeros(x.shape[0], bool)

    def kernel_factor(self, x: Float[Array, "n d"]) -> Float[Array, "n k"] | None:
        """F `[n, k]`, k <= d, with F F^T = -H D H / 2 (the centred kernel of the matrix, H the
        centring matrix) where the metric has one; None where it has not (that kernel is then
        found by an n x n eigendecomposition)."""
        return None

    def explain(self, x: Float[Array, "n d"]) -> str | None:
        """Why `matrix(x)` is undefined, naming the first culprit; None if it is defined."""
        bad = np.flatnonzero(np.asarray(self.undefined_rows(x)))
        return f"example {int(bad[0])} {self.condition}" if len(bad) else None


@dataclasses.dataclass(frozen=True)
class SqEuclidean(Metric):
    """||x_i - x_j||^2."""

    name: ClassVar[str] = "sqeuclidean"
    degree: ClassVar[int] = 2
    translation_invariant: ClassVar[bool] = True

    def matrix(self, x):
        return sq_distances(x)

    def triangle(self, x):
        return sq_distances_triangle(x)

    def ordinal(self, x):
        return _pairwise_exact(lambda a, b: jnp.sum((a - b) ** 2, axis=0), x.T)

    def kernel_factor(self, x):
        return x - jnp.mean(x, axis=0)  # classical scaling: -H D H / 2 = Xc Xc^T


@dataclasses.dataclass(frozen=True)
class Euclidean(SqEuclidean):
    """||x_i - x_j||; ranks as the squared distances (`ordinal` is inherited). Its derivative
    at coinciding examples (the diagonal among them) is 0, the symmetric one (`sqrt0`)."""

    name: ClassVar[str] = "euclidean"
    degree: ClassVar[int] = 1

    def matrix(self, x):
        return sqrt0(super().matrix(x))

    def triangle(self, x):
        return sqrt0(super().triangle(x))

    def kernel_factor(self, x):
        return None


@dataclasses.dataclass(frozen=True)
class CosineDistance(Metric):
    """1 - cosine similarity (the `Cosine` kernel)."""

    kernel: ClassVar[Cosine] = Cosine()
    name: ClassVar[str] = "cosine"
    degree: ClassVar[int] = 0
    condition: ClassVar[str] = Cosine.condition

    def matrix(self, x):
        return 1.0 - self.kernel.matrix(x)

    def triangle(self, x):
        return 1.0 - gram_triangle(self.kernel.rows(x))[0]

    def ordinal(self, x):
        """-S_ij (the same ranks as 1 - S_ij without rounding near S = 0), exactly -1 for two
        examples with the same normalized row, every step reduced over the major axis (see
        `_pairwise_exact`) so that repeated examples give identical entries."""

        def one_row(v):  # one example at a time: the same code for every example, whereas a
            # vectorized division by a square root rounds differently in the trailing lanes
            v = v - jnp.mean(v) if self.kernel.centred else v
            return v / jnp.sqrt(jnp.sum(v * v))

        undefined = self.kernel.undefined_rows(x)
        ut = jnp.where(undefined, jnp.nan, lax.map(one_row, x).T)

        def minus_s(a, b):
            same = jnp.all(a == b, axis=0)
            return jnp.where(same, -1.0, -jnp.sum(a * b, axis=0))

        return _pairwise_exact(minus_s, ut)

    def undefined_rows(self, x):
        return self.kernel.undefined_rows(x)

    def kernel_factor(self, x):
        rows = self.kernel.rows(x)  # D = 1 - R R^T, so -H D H / 2 = H R R^T H / 2
        return (rows - jnp.mean(rows, axis=0)) / np.sqrt(2.0)


@dataclasses.dataclass(frozen=True)
class CorrelationDistance(CosineDistance):
    """1 - Pearson r between two examples' feature vectors (the `Correlation` kernel)."""

    kernel: ClassVar[Cosine] = Correlation()
    name: ClassVar[str] = "correlation"
    condition: ClassVar[str] = Correlation.condition


@dataclasses.dataclass(frozen=True)
class Precomputed(Metric):
    """Each model given as its own `[n, n]` dissimilarity matrix (e.g. a brain RDM).

    The matrix must be square, symmetric and have a zero diagonal (up to rounding: differences
    of at most 8 eps max|D|); only its strict upper triangle is used. `matrix` is NaN where these
    checks fail, and `explain` says which.
    """

    name: ClassVar[str] = "precomputed"
    degree: ClassVar[int] = 1

    def _defects(self, d: Float[Array, "n k"]) -> tuple[Bool[Array, ""], Bool[Array, ""]]:
        tol = ROUNDING_FACTOR * jnp.finfo(d.dtype).eps * jnp.max(jnp.abs(d))
        asymmetric = jnp.max(jnp.abs(d - d.T)) > tol
        diagonal = jnp.max(jnp.abs(jnp.diagonal(d))) > tol
        return asymmetric, diagonal

    def matrix(self, x):
        n, k = x.shape
        if n != k:  # shapes are static: the whole model is undefined
            return jnp.full((n, n), jnp.nan, x.dtype)
        asymmetric, diagonal = self._defects(x)
        return jnp.where(asymmetric | diagonal, jnp.nan, x)

    def explain(self, x):
        n, k = x.shape
        if n != k:
            return f"a precomputed RDM must be square [n, n], got shape [{n}, {k}]"
        d = np.asarray(x)
        asymmetric, diagonal = (bool(b) for b in self._defects(x))
        if asymmetric:
            i, j = np.unravel_index(np.argmax(np.abs(d - d.T)), d.shape)
            return f"the precomputed RDM is not symmetric: entries ({i}, {j}) and ({j}, {i}) differ"
        if diagonal:
            i = int(np.argmax(np.abs(np.diagonal(d))))
            return f"the precomputed RDM has a non-zero diagonal at entry ({i}, {i})"
        return None


# ------------------------------------------------------------------------------------ lookup

_KERNELS: dict[str, Kernel] = {k.name: k for k in (Dot(), Cosine(), Correlation(), RBF())}
_METRICS: dict[str, Metric] = {
    m.name: m for m in (Euclidean(), SqEuclidean(), CorrelationDistance(), CosineDistance())
}
KERNELS = tuple(_KERNELS)
METRICS = tuple(_METRICS)
# Metrics that only RSA takes (a model's activations are its RDM).
RSA_METRICS = {**_METRICS, "precomputed": Precomputed()}


def as_kernel(value: "str | Kernel", threshold: float = 0.5, *, what: str = "kernel") -> Kernel:
    """The kernel object for a name or an object; `threshold` configures the name "rbf"."""
    if isinstance(value, Kernel):
        return value
    _inputs.check_choice(what, value, KERNELS)
    return RBF(threshold) if value == "rbf" else _KERNELS[value]


def as_metric(value: "str | Metric", *, what: str = "metric", table=None) -> Metric:
    """The metric object for a name (from `table`, default the `rdm` metrics) or an object."""
    if isinstance(value, Metric):
        return value
    table = _METRICS if table is None else table
    _inputs.check_choice(what, value, tuple(table))
    return table[value]


# Kept for the measures that ask about cosine and correlation rows by name.
ROW_CONDITION = {k.name: k.condition for k in (Cosine(), Correlation())}


def first_undefined_example(x: Float[Array, "n d"], how: str) -> tuple[int] | None:
    """(example,) of the first row that kernel `how` cannot normalize, or None."""
    bad = np.flatnonzero(np.asarray(as_kernel(how).undefined_rows(x)))
    return (int(bad[0]),) if len(bad) else None


def rsm_kernel(x: Float[Array, "n d"], name: str, threshold: float = 0.5) -> Float[Array, "n n"]:
    """Similarity matrix of one model for a kernel name (see `rsm`)."""
    return as_kernel(name, threshold).matrix(x)


# ------------------------------------------------------------------------------------ rdm, rsm


def _rescaled(f, degree: int, x: Float[Array, "n d"]) -> Float[Array, "n n"]:
    """`f(x)` computed on `x / 2^e` (max |x / 2^e| in [1, 2)) and scaled back by 2^(e degree):
    exact in binary floating point, so magnitudes such as 1e20 or 1e-20 neither overflow nor
    underflow in the products."""
    peak = jnp.max(jnp.abs(x))
    ok = jnp.isfinite(peak) & (peak > 0)
    e = jnp.where(ok, jnp.frexp(jnp.where(ok, peak, 1.0))[1] - 1, 0)
    out = f(jnp.ldexp(x, -e))
    return out if degree == 0 else jnp.ldexp(out, degree * e)


@functools.partial(jax.jit, static_argnames=("obj",))
def _first_order(x, obj):
    one = functools.partial(_rescaled, obj.matrix, obj.degree)
    return jax.vmap(one)(x) if x.ndim == 3 else one(x)


def _apply(x: ArrayLike, obj: "Kernel | Metric", what: str) -> Float[Array, "*m n n"]:
    x = _inputs.as_models_array(x)
    out = _first_order(x, obj)
    if _inputs.concrete(out) and not bool(jnp.isfinite(out).all()):
        batch, results = (x, out) if x.ndim == 3 else (x[None], out[None])
        i = int(np.argmax(~np.isfinite(np.asarray(results)).reshape(len(results), -1).all(1)))
        why = obj.explain(batch[i]) or (
            f"its {what} overflows {out.dtype} at this magnitude (largest activation "
            f"{float(jnp.max(jnp.abs(batch[i]))):.3g}); rescale the activations"
            + ("" if out.dtype == jnp.float64 else " or pass float64 with jax_enable_x64")
        )
        raise ValueError(f"model {i}: {why}" if x.ndim == 3 else f"x: {why}")
    return out


def rdm(x: ArrayLike, metric: "str | Metric" = "correlation") -> Float[Array, "*m n n"]:
    """Representational dissimilarity matrix of one model or a batch of models.

    Computed at any finite magnitude: each model is divided by a power of two before the products
    and the result multiplied back (exact), so `rdm(x * 1e20, "cosine") == rdm(x, "cosine")`.

    Args:
        x: activations `[n, d]` (n examples, d features), or `[m, n, d]` for m models.
        metric: "correlation" (1 - Pearson r between two examples' feature vectors), "cosine"
            (1 - cosine similarity), "euclidean" or "sqeuclidean", or a `Metric` object.

    Returns:
        `[n, n]` (or `[m, n, n]`): symmetric, zero diagonal, dtype of `x` (float32 for integers).

    Raises:
        ValueError: an unknown metric, an example for which the metric is undefined (named),
            or distances that overflow the dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import rdm
        >>> rdm(jnp.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]), "cosine")
        Array([[0., 1., 0.],
               [1., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    return _apply(x, as_metric(metric), "distance")


def rsm(
    x: ArrayLike, kernel: "str | Kernel" = "cosine", *, threshold: float = 0.5
) -> Float[Array, "*m n n"]:
    """Representational similarity (Gram) matrix of one model or a batch of models.

    Args:
        x: activations `[n, d]`, or `[m, n, d]` for m models.
        kernel: "cosine", "correlation" (Pearson r between examples), "dot" (X X^T) or "rbf"
            (exp(-D2 / (2 threshold^2 median(D2))), D2 the squared distances, the median over all
            n^2 entries, as CKA-RBF uses it), or a `Kernel` object.
        threshold: the RBF bandwidth as a fraction of the median distance (for the name "rbf";
            an `RBF` object carries its own).

    Returns:
        `[n, n]` (or `[m, n, n]`), symmetric, dtype of `x` (float32 for integers).

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import rsm
        >>> rsm(jnp.array([[1.0, 0.0], [1.0, 1.0]]), "dot")
        Array([[1., 1.],
               [1., 2.]], dtype=float32)
    """
    obj = as_kernel(kernel, _inputs.positive("threshold", threshold))
    return _apply(x, obj, "similarity")
