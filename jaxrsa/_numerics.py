"""Small numerical building blocks shared by the first- and second-order kernels.

All functions here work on one unbatched input and are safe to nest in `jit` and `vmap`.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float

# Full float32 products on every backend: accelerators otherwise default to TF32/bf16 passes.
HIGHEST = lax.Precision.HIGHEST

# A norm under this many float-epsilons (per sqrt of length) of its input's scale is rounding noise.
ROUNDING_FACTOR = 8.0


def compute_dtype(dtype) -> np.dtype:
    """The float dtype a computation on `dtype` runs in.

    float64 stays float64, other floats (half precision included) compute in float32, and integers
    and booleans in JAX's default float type.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))  # float32 unless x64 is enabled
    if jnp.issubdtype(dtype, jnp.floating):
        return np.dtype(np.float32)
    return np.dtype(jnp.result_type(float))


def gram(x: Float[Array, "n d"]) -> Float[Array, "n n"]:
    """X X^T at full precision."""
    return jnp.matmul(x, x.T, precision=HIGHEST)


def symmetrize(a: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """(A + A^T) / 2: exactly symmetric whatever the rounding of the product behind A."""
    return 0.5 * (a + a.T)


def is_noise(norm: Array, scale: Array, length: int) -> Bool[Array, "..."]:
    """True where `norm` is zero up to the rounding error of a length-`length` vector of `scale`."""
    eps = jnp.finfo(norm.dtype).eps
    return norm <= ROUNDING_FACTOR * eps * np.sqrt(length) * scale


def sqrt0(a: Array) -> Array:
    """sqrt(max(a, 0)) with derivative 0 where a <= 0, not inf (or NaN in forward mode).

    At the zero of a distance, sqrt has a kink at a minimum: the symmetric derivative there
    (what central differences give) is 0, and so is the gradient returned.
    """
    positive = a > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, a, 1.0)), 0.0)


def arccos0(c: Array) -> Array:
    """arccos of `c` clipped to [-1, 1], with derivative 0 where |c| >= 1 (as `sqrt0`)."""
    inside = jnp.abs(c) < 1
    return jnp.where(inside, jnp.arccos(jnp.where(inside, c, 0.0)), jnp.where(c > 0, 0.0, jnp.pi))


def abs0(a: Array) -> Array:
    """|a| with derivative 0 at a = 0 (JAX's is +1 there); the distance between equal
    statistics has a kink at its minimum, where the symmetric derivative is 0."""
    return jnp.where(a == 0, 0.0, jnp.abs(a))


def norm0(v: Array, axis=None) -> Array:
    """Euclidean norm along `axis` with derivative 0 (not NaN) at the zero vector."""
    return sqrt0(jnp.sum(v * v, axis=axis))


def unit(
    v: Float[Array, "... p"], scale: Float[Array, "..."] | None = None
) -> Float[Array, "... p"]:
    """`v / ||v||` along the last axis, NaN where the norm is zero (or rounding noise of `scale`).

    NaN marks an undefined normalization so that the API boundary can name the culprit; the
    double `where` keeps gradients finite elsewhere.
    """
    norm = jnp.linalg.norm(v, axis=-1)
    bad = norm == 0 if scale is None else is_noise(norm, scale, v.shape[-1])
    safe = jnp.where(bad, 1.0, norm)
    return jnp.where(bad[..., None], jnp.nan, v / safe[..., None])


def centre_unit(v: Float[Array, "... p"]) -> Float[Array, "... p"]:
    """Centre along the last axis, then `unit`: the vector whose dot products are Pearson r."""
    scale = jnp.max(jnp.abs(v), axis=-1)
    return unit(v - jnp.mean(v, axis=-1, keepdims=True), scale)


def sq_distances(x: Float[Array, "n d"]) -> Float[Array, "n n"]:
    """Squared Euclidean distances via one Gram product of the centred data.

    Centring first (distances are translation invariant) keeps the cancellation in
    ||a||^2 + ||b||^2 - 2 a.b small. Exactly symmetric, zero diagonal, non-negative.
    """
    x = x - jnp.mean(x, axis=0)
    g = symmetrize(gram(x))
    sq = jnp.diagonal(g)
    d2 = sq[:, None] + sq[None, :] - 2.0 * g
    n = x.shape[0]
    return jnp.where((d2 > 0) & ~jnp.eye(n, dtype=bool), d2, 0.0)


def triu_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major strict upper triangle, as `numpy.triu_indices(n, 1)` and scipy's `squareform`."""
    return np.triu_indices(n, 1)


def tri(a: Float[Array, "n n"]) -> Float[Array, " p"]:
    """The strict upper triangle of a square matrix, row-major, p = n (n - 1) / 2."""
    i, j = triu_indices(a.shape[0])
    return a[i, j]


# `gram_triangle` works in row blocks of about this many examples, in at most this many blocks:
# big enough products, small diagonal blocks, and at most 36 products per model in the program.
TRIANGLE_ROWS = 256
MAX_TRIANGLE_BLOCKS = 8


def _triangle_spans(n: int) -> list[tuple[int, int]]:
    blocks = min(MAX_TRIANGLE_BLOCKS, max(1, -(-n // TRIANGLE_ROWS)))
    edges = np.linspace(0, n, blocks + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


@functools.cache
def triangle_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every entry of `gram_triangle`'s triangle: the strict upper triangle of
    an n x n matrix in row blocks (each diagonal block's triangle, then the blocks right of it)."""
    rows, cols = [], []
    spans = _triangle_spans(n)
    for b, (i0, i1) in enumerate(spans):
        i, j = np.triu_indices(i1 - i0, 1)
        rows.append(i + i0)
        cols.append(j + i0)
        for j0, j1 in spans[b + 1 :]:
            i, j = np.meshgrid(np.arange(i0, i1), np.arange(j0, j1), indexing="ij")
            rows.append(i.ravel())
            cols.append(j.ravel())
    return np.concatenate(rows), np.concatenate(cols)


def gram_triangle(x: Float[Array, "n d"]) -> tuple[Float[Array, " p"], Float[Array, " n"]]:
    """The strict upper triangle of X X^T (p = n (n - 1) / 2, in `triangle_indices` order) and
    its diagonal, at full precision.

    Computed by blocks of rows, each pair of blocks once: about half the products of the full
    Gram and no gather over its n^2 entries. Measures that compare triangles entry by entry
    (correlations, Frobenius products) need the same order for every model, not row-major.
    """
    upper, diagonal = [], []
    spans = _triangle_spans(x.shape[0])
    for b, (i0, i1) in enumerate(spans):
        block = gram(x[i0:i1])
        upper.append(tri(block))
        diagonal.append(jnp.diagonal(block))
        for j0, j1 in spans[b + 1 :]:
            upper.append(jnp.matmul(x[i0:i1], x[j0:j1].T, precision=HIGHEST).ravel())
    return jnp.concatenate(upper), jnp.concatenate(diagonal)


def sq_distances_triangle(x: Float[Array, "n d"]) -> Float[Array, " p"]:
    """The strict upper triangle of `sq_distances(x)`, in `triangle_indices` order."""
    upper, sq = gram_triangle(x - jnp.mean(x, axis=0))
    i, j = triangle_indices(x.shape[0])
    return jnp.maximum(sq[i] + sq[j] - 2.0 * upper, 0.0)


def sort_nonnegative(v: Float[Array, " p"]) -> Float[Array, " p"]:
    """Sort non-negative floats through their bit patterns.

    For non-negative IEEE floats the integer view is monotone, and XLA:CPU sorts integers about
    five times faster than floats (it needs no total-order comparator for them).
    """
    itype = jnp.int64 if v.dtype == jnp.float64 else jnp.int32
    keys = lax.bitcast_convert_type(v, itype)
    return lax.bitcast_convert_type(jnp.sort(keys), v.dtype)


def median_sq_distance(d2: Float[Array, "n n"]) -> Float[Array, ""]:
    """Median of all n^2 entries of a squared-distance matrix (diagonal zeros included).

    The n^2 entries are n zeros and every strict-upper-triangle value twice, so the order
    statistics come from sorting the triangle alone; this equals `numpy.median(d2)`.

    Differentiable: an order statistic's derivative is that of the entry holding it, so each one
    is read back from the unsorted triangle at its position (the integer sort carries no
    gradient; among tied entries the first is taken, a valid choice of one-sided derivative).
    """
    n = d2.shape[0]
    triangle = tri(d2)
    upper = lax.stop_gradient(sort_nonnegative(triangle))

    def order_statistic(q: int):
        if q < n:
            return jnp.zeros((), d2.dtype)
        return triangle[jnp.argmax(triangle == upper[(q - n) // 2])]

    total = n * n
    if total % 2:
        return order_statistic(total // 2)
    return 0.5 * (order_statistic(total // 2 - 1) + order_statistic(total // 2))


def _thin_svd(a: Float[Array, "m k"]):
    return tuple(jnp.linalg.svd(a, full_matrices=False))


@jax.custom_jvp
def svd(a: Float[Array, "m k"]):
    """Thin SVD `(u [m, r], s [r], vt [r, k])`, r = min(m, k), whose derivative stays finite.

    The derivative is JAX's, except where it divides by zero: the coupling of two singular
    values that are equal up to rounding (|s_i^2 - s_j^2| <= 8 eps (s_i^2 + s_j^2)) or both
    below the noise level tol (the `numpy.linalg.matrix_rank` tolerance s_max max(m, k) eps),
    and 1 / s_i for s_i <= tol, are taken as 0. For a function of the span of the columns kept
    above the noise (as CCA and Procrustes are: invariant to rotations among equal singular
    values, blind to the discarded ones) that is the true derivative; JAX's own gives inf and
    NaN for dead units, duplicated features and equal singular values.
    """
    return _thin_svd(a)


@svd.defjvp
def _svd_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    u, s, vt = _thin_svd(a)
    m, k = a.shape
    tol = jnp.max(s, initial=0.0) * max(m, k) * jnp.finfo(s.dtype).eps
    v = vt.T
    ds_mat = jnp.matmul(jnp.matmul(u.T, da, precision=HIGHEST), v, precision=HIGHEST)
    ds = jnp.diagonal(ds_mat)
    eps = jnp.finfo(s.dtype).eps
    diff = s[None, :] ** 2 - s[:, None] ** 2  # [i, j] = s_j^2 - s_i^2
    rounding = ROUNDING_FACTOR * eps * (s[None, :] ** 2 + s[:, None] ** 2)
    signal = jnp.maximum(s[None, :], s[:, None]) > tol
    coupled = ~jnp.eye(s.shape[0], dtype=bool) & (jnp.abs(diff) > rounding) & signal
    f = jnp.where(coupled, 1.0 / jnp.where(coupled, diff, 1.0), 0.0)
    live = s > tol
    s_inv = jnp.where(live, 1.0 / jnp.where(live, s, 1.0), 0.0)
    dss = ds_mat * s[None, :]  # dS diag(s)
    sds = s[:, None] * ds_mat  # diag(s) dS
    du = jnp.matmul(u, f * (dss + dss.T), precision=HIGHEST)
    dv = jnp.matmul(v, f * (sds + sds.T), precision=HIGHEST)
    if m > k:
        dav = jnp.matmul(da, v, precision=HIGHEST)
        du = du + (dav - jnp.matmul(u, jnp.matmul(u.T, dav, precision=HIGHEST))) * s_inv
    if k > m:
        dau = jnp.matmul(da.T, u, precision=HIGHEST)
        dv = dv + (dau - jnp.matmul(v, jnp.matmul(v.T, dau, precision=HIGHEST))) * s_inv
    return (u, s, vt), (du, ds, dv.T)


PIECEWISE_CONSTANT = "it is piecewise constant: zero gradient almost everywhere, undefined at ties"


@functools.cache
def _refuse_jvp(what: str, why: str, alternatives: str):
    @jax.custom_jvp
    def guard(x):
        return x

    @guard.defjvp
    def _(primals, tangents):
        raise TypeError(
            f"{what} is not differentiable ({why}); for a differentiable measure use {alternatives}"
        )

    return guard


DIFFERENTIABLE_ALTERNATIVES = (
    "one built on products and decompositions, such as 'rsa', 'rsa_pearson', 'rsa_cosine', "
    "'cka', 'cka_debiased', 'cka_rbf', 'cca', 'svcca', 'pwcca' or 'procrustes'"
)


def not_differentiable(x: Array, what: str, why: str = PIECEWISE_CONSTANT) -> Array:
    """`x` unchanged; differentiating through it raises a TypeError saying that `what` (ranks,
    neighbour lists) has no useful derivative, and `why`, and naming the measures that do."""
    return _refuse_jvp(what, why, DIFFERENTIABLE_ALTERNATIVES)(x)
