"""Canonical correlation analysis (CCA) and SVCCA: the cosines of the angles between column spaces.

Every model is prepared once into an orthonormal basis of its centred activations (a rank-revealing
thin SVD, optionally reduced to its top principal directions); a pair is then one product
Qx^T Qy `[k_x, k_y]` whose singular values are the canonical correlations. The basis is computed
in float64 whenever JAX has it, also for float32 activations (see `CCA` on precision), and
returned in the activations' dtype.

Shapes must be static under `jit`, so a data-dependent number of directions (the numerical rank,
or SVCCA's 99% of the variance) is not a shape: the basis keeps a fixed width with the discarded
columns zeroed, and the number kept travels beside it. Zero columns add only zero singular values,
so the mean divides by min(kept_x, kept_y).
"""

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from jaxrsa import _inputs
from jaxrsa._numerics import HIGHEST, ROUNDING_FACTOR, compute_dtype, svd
from jaxrsa.measures._base import Measure


class Principal(NamedTuple):
    """The kept principal directions of one model's centred activations Xc = U S V^T.

    Columns of `u` (rows of `vt`, entries of `s`) beyond `kept` are zero.
    """

    u: Float[Array, "n k"]
    s: Float[Array, " k"]
    vt: Float[Array, "k d"]
    kept: Int[Array, ""]


class Basis(NamedTuple):
    """A prepared model for CCA: orthonormal basis `q` of its kept directions, and how many."""

    q: Float[Array, "n k"]
    kept: Int[Array, ""]


def numerical_rank(
    s: Float[Array, " k"], n: int, d: int, scale: Float[Array, ""]
) -> Int[Array, ""]:
    """How many singular values of a centred `[n, d]` matrix are above its rounding noise.

    Two noises, each with the epsilon of its own precision: the SVD's (numpy.linalg.matrix_rank's
    tolerance s_max max(n, d) eps, eps of `s`, the precision the SVD ran in) and the data's (8 eps
    sqrt(n) max|x|, with `scale` = max|x| in the activations' precision: the error that rounding
    or centring them leaves). Dead units, duplicated or constant features and n <= d all give
    singular values below the larger of the two.
    """
    tol = jnp.maximum(
        s[0] * max(n, d) * jnp.finfo(s.dtype).eps,
        ROUNDING_FACTOR * jnp.finfo(scale.dtype).eps * np.sqrt(n) * scale.astype(s.dtype),
    )
    return jnp.sum(s > tol)


def basis_dtype() -> np.dtype:
    """The dtype every basis is computed in: float64 whenever JAX has it (`jax_enable_x64`),
    else float32."""
    return compute_dtype(np.float64)


def variance_kept(variance: float, s: Float[Array, " k"]) -> Int[Array, ""]:
    """The fewest leading directions whose sum of s^2 reaches `variance` of the total."""
    power = jnp.cumsum(s * s)
    return jnp.sum(power < variance * power[-1]) + 1


def resi_variance_kept(variance: float, s: Float[Array, " k"]) -> Int[Array, ""]:
    """ReSi's `top_k_pca_comps`: the explained fraction is compared with `variance` times the
    total sum of s^2 rather than with `variance`, so one direction is kept whenever that total
    exceeds 1 / variance (the usual case), and more only for activations of small magnitude."""
    power = jnp.cumsum(s * s)
    reached = power / power[-1] >= variance * power[-1]
    return jnp.where(jnp.any(reached), jnp.argmax(reached) + 1, 1)


VARIANCE_RULES = {"paper": variance_kept, "resi": resi_variance_kept}


def principal(
    x: Float[Array, "n d"],
    max_dims: int | None = None,
    keep: Callable[[Float[Array, " k"]], Int[Array, ""]] | None = None,
) -> Principal:
    """Thin SVD of the centred activations, truncated to the directions that are kept.

    Kept: the numerically nonzero directions (`numerical_rank`), at most `max_dims` of them
    (a static truncation: `[n, min(n, d, max_dims)]`), and at most `keep(s)` of them (a rule on
    the singular values, e.g. `variance_kept`). Computed in `basis_dtype()`, returned in the
    dtype of `x`.
    """
    n, d = x.shape
    wide = x.astype(basis_dtype())
    u, s, vt = svd(wide - jnp.mean(wide, axis=0))
    kept = numerical_rank(s, n, d, jnp.max(jnp.abs(x)))
    if keep is not None:
        kept = jnp.minimum(kept, keep(s))
    k = min(n, d) if max_dims is None else min(n, d, max_dims)
    kept = jnp.minimum(kept, k)
    live = jnp.arange(k) < kept
    u, s, vt = (a.astype(x.dtype) for a in (u[:, :k] * live, s[:k] * live, vt[:k] * live[:, None]))
    return Principal(u, s, vt, kept)


def widening() -> int:
    """How many compute-dtype scalars a `basis_dtype()` scalar may take (2 when float32
    activations get a float64 basis; the same 2 over-counts float64 activations: safe)."""
    return basis_dtype().itemsize // np.dtype(np.float32).itemsize


def defined(kept: Int[Array, ""], n: int) -> Array:
    """CCA needs at least one direction, and fewer than n - 1 (else every correlation is 1)."""
    return (kept >= 1) & (kept < n - 1)


def undefined_reason(kept: int, n: int, d: int, remedy: str) -> str:
    """Why the basis of an `[n, d]` model with `kept` directions is unusable for CCA."""
    if kept == 0:
        return "every example has the same representation (zero variance across examples)"
    return (
        f"n = {n} examples, d = {d} features: its centred activations span all n - 1 = {kept} "
        "centred directions, so every canonical correlation with any model would be 1 (CCA is "
        f"undefined when n <= d + 1); reduce each model to k < {n - 1} directions first with "
        f"{remedy}"
    )


def cross(qx: Float[Array, "n kx"], qy: Float[Array, "n ky"]) -> Float[Array, "kx ky"]:
    """Qx^T Qy, whose singular values are the canonical correlations (and zeros)."""
    return jnp.matmul(qx.T, qy, precision=HIGHEST)


def check_max_dims(max_dims) -> int | None:
    """`max_dims` as an int (or None), or an error if it is not a positive integer."""
    return None if max_dims is None else _inputs.positive_int("max_dims", max_dims)


@dataclasses.dataclass(frozen=True)
class CCA(Measure):
    """Mean (squared) canonical correlation between two models' centred activations.

    The canonical correlations rho are the singular values of Qx^T Qy, Q an orthonormal basis of
    the centred activations' column space (from a thin SVD, which reveals the rank). `cca` is the
    mean of rho over min(r_x, r_y), `cca_r2` (`squared=True`) the mean of rho^2, computed without
    a decomposition as ||Qx^T Qy||_F^2 / min(r_x, r_y). r is the numerical rank (the width for
    full-rank activations; see `numerical_rank` for the tolerance), so dead units and duplicated
    features change nothing. Invariant to invertible linear maps and translations of either side.

    CCA is undefined when the activations span every centred direction (rank n - 1, i.e. n <= d
    + 1): every canonical correlation is then 1 whatever the other model. That raises an error;
    `max_dims=k` first reduces each model to its top k principal directions (SVCCA with a fixed
    number of dimensions), which makes CCA defined for k < n - 1.

    Precision: weak directions count as much as strong ones, so the rank must be decided below
    the weakest real direction. With float64 available (`jax_enable_x64`) each basis is computed
    in float64, also for float32 activations, and returned in their dtype (the pair step runs in
    the activations' dtype); only the activations' own rounding noise, 8 eps sqrt(n) max|x|
    (about 1e-6 s_max for float32 at n = 1000), is dropped. Float32 CCA, CCA r2 and SVCCA then
    stay within 1e-6 of float64 for condition numbers up to 1e5 (measured at n = 1000, d = 64
    and 256, dead units included), PWCCA within 1e-4 (see there). The float64 SVD took about
    1.7 times the float32 one on CPU (n = 1000, d = 128); GPUs with slow float64 pay more, and
    TPUs have no native float64. Without float64 (JAX's default) the SVD runs in float32, whose
    own rounding noise, s_max max(n, d) eps (1.2e-4 s_max at n = 1000), hides weaker
    directions: they are dropped, which changes nothing below a condition number of about
    1 / (max(n, d) eps) (8e3 at n = 1000) but moved float32 CCA by up to 0.1 against float64 at
    1e5 (PWCCA by up to 3.5e-2). Enable x64 for ill-conditioned activations.

    Args:
        squared: mean of rho^2 instead of rho.
        max_dims: keep at most this many principal directions of each model (None: all).

    References:
        H. Hotelling, "Relations between two sets of variates", Biometrika 1936; M. Raghu,
        J. Gilmer, J. Yosinski and J. Sohl-Dickstein, "SVCCA", NeurIPS 2017.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(20, 3))
        >>> a = np.array([[1.0, 2, 0], [0, 1, 0], [3, 0, 1]])  # invertible
        >>> round(float(similarity(x, x @ a, "cca")), 6)
        1.0
    """

    squared: bool = False
    max_dims: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "squared", _inputs.boolean("squared", self.squared))
        object.__setattr__(self, "max_dims", check_max_dims(self.max_dims))

    def reduction(self) -> tuple[int | None, Callable | None]:
        """`(max_dims, keep)`: at most how many directions, and the rule on the singular values
        (see `principal`)."""
        return self.max_dims, None

    @property
    def scale_invariant(self) -> bool:
        return True

    @property
    def translation_invariant(self) -> bool:
        return True

    @property
    def min_n(self) -> int:
        return 3

    @property
    def degenerate(self) -> str:
        return "its activations have zero variance or span every centred direction (n <= d + 1)"

    def remedy(self) -> str:
        return "measures.CCA(max_dims=k) or measures.SVCCA()"

    def explain(self, x: Float[Array, "n d"]) -> str:
        n, d = x.shape
        kept = int(principal(x, *self.reduction()).kept)
        return undefined_reason(kept, n, d, self.remedy())

    def workspace(self, n: int, d: int) -> int:
        k = min(n, d)
        return (3 * n * d + 3 * n * k + k * d) * widening()

    def prepare(self, x: Float[Array, "n d"]) -> Basis:
        """Orthonormal basis `[n, min(n, d, max_dims)]` of the kept directions, NaN if undefined."""
        p = principal(x, *self.reduction())
        ok = defined(p.kept, x.shape[0])
        return Basis(jnp.where(ok, p.u, jnp.nan), p.kept)

    def pair(self, px: Basis, py: Basis) -> Float[Array, ""]:
        m = cross(px.q, py.q)
        if self.squared:
            total = jnp.sum(m * m)
        else:
            total = jnp.sum(jnp.clip(jnp.linalg.svd(m, compute_uv=False), 0.0, 1.0))
        return jnp.clip(total / jnp.minimum(px.kept, py.kept).astype(m.dtype), 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class SVCCA(CCA):
    """CCA after reducing each model to its top principal directions (Raghu et al. 2017).

    Each model's centred activations are reduced to the fewest leading singular directions that
    hold `variance` of the variance (sum of s^2), or to `max_dims` directions; then `CCA`. The
    default keeps 99% of the variance. Give one of `variance` and `max_dims`. Invariant to
    orthogonal maps, isotropic scaling and translation (not to general linear maps, which change
    the principal directions).

    `convention="resi"` reproduces ReSi's `SVCCA` (`repsim/measures/cca.py`, `top_k_pca_comps`),
    whose variance rule compares the explained fraction with 0.99 times the total sum of s^2
    instead of with 0.99: it keeps a single direction of each model whenever that total exceeds
    1 / 0.99 (the usual case; the value is then the correlation of the two first principal
    components) and depends on the activations' scale otherwise. Use it only to reproduce
    numbers published with ReSi.

    Args:
        variance: fraction of the variance to keep, in (0, 1] (default 0.99).
        max_dims: keep this many directions instead (fewer if the rank is lower).
        squared: mean of rho^2 instead of rho.
        convention: "paper" (default: Raghu et al.'s rule, above) or "resi" (ReSi's rule, with
            `variance` in place of its 0.99; not with `max_dims`).

    References:
        M. Raghu, J. Gilmer, J. Yosinski and J. Sohl-Dickstein, "SVCCA: Singular Vector
        Canonical Correlation Analysis for Deep Learning Dynamics and Interpretability",
        NeurIPS 2017.

    Examples:
        >>> import numpy as np
        >>> from jaxrsa import measures, similarity
        >>> x = np.random.default_rng(0).normal(size=(30, 5))
        >>> round(float(similarity(x, 2 * x[:, ::-1], measures.SVCCA(max_dims=3))), 6)
        1.0
    """

    variance: float | None = None
    convention: str = "paper"

    def __post_init__(self):
        super().__post_init__()
        _inputs.check_choice("SVCCA convention", self.convention, tuple(VARIANCE_RULES))
        variance = self.variance
        if variance is not None and self.max_dims is not None:
            raise ValueError("give SVCCA either variance or max_dims, not both")
        if self.convention == "resi" and self.max_dims is not None:
            raise ValueError(
                "SVCCA(convention='resi') reduces by ReSi's variance rule: no max_dims"
            )
        if variance is None and self.max_dims is None:
            variance = 0.99
        if variance is not None:
            variance = _inputs.positive("variance", variance)
            if variance > 1.0:
                raise ValueError(f"variance must be a fraction in (0, 1], got {variance}")
        object.__setattr__(self, "variance", variance)

    def reduction(self) -> tuple[int | None, Callable | None]:
        if self.variance is None:
            return self.max_dims, None
        return self.max_dims, functools.partial(VARIANCE_RULES[self.convention], self.variance)

    @property
    def scale_invariant(self) -> bool:
        """False for ReSi's rule, whose number of directions depends on the total variance."""
        return self.convention == "paper"

    def remedy(self) -> str:
        return "measures.SVCCA(max_dims=k) or a smaller measures.SVCCA(variance=...)"
