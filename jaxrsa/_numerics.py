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
    """
    n = d2.shape[0]
    upper = sort_nonnegative(tri(d2))

    def order_statistic(q: int):
        return jnp.zeros((), d2.dtype) if q < n else upper[(q - n) // 2]

    total = n * n
    if total % 2:
        return order_statistic(total // 2)
    return 0.5 * (order_statistic(total // 2 - 1) + order_statistic(total // 2))
