"""Classical (Torgerson) multidimensional scaling."""

import functools

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa._mds import _validate

_HIGHEST = lax.Precision.HIGHEST


def _centred_gram(delta: Float[Array, "m m"]) -> Float[Array, "m m"]:
    """``B = -J (delta^2) J / 2`` with ``J`` the centring matrix."""
    d2 = jnp.square(delta)
    row = jnp.mean(d2, axis=1)
    return -0.5 * (d2 - row[:, None] - row[None, :] + jnp.mean(row))


def _coordinates(evals: Array, evecs: Array) -> Array:
    """``U sqrt(max(lambda, 0))`` for eigenpairs in decreasing order, each column's sign making
    its entry of largest magnitude positive (deterministic output)."""
    pivot = jnp.take_along_axis(evecs, jnp.argmax(jnp.abs(evecs), axis=0)[None], axis=0)
    evecs = evecs * jnp.where(pivot < 0, -1, 1).astype(evecs.dtype)
    return evecs * jnp.sqrt(jnp.maximum(evals, 0))


def classical_kernel(delta: Float[Array, "m m"], n_components: int) -> Float[Array, "m k"]:
    """Torgerson's embedding of one symmetric ``[m, m]`` dissimilarity matrix: the top
    ``n_components`` eigenpairs of the double-centred ``-delta^2 / 2`` from a full symmetric
    eigendecomposition. Undecorated: nests in jit/vmap."""
    evals, evecs = jnp.linalg.eigh(_centred_gram(delta))
    return _coordinates(evals[::-1][:n_components], evecs[:, ::-1][:, :n_components])


def _orthonormalize(y: Float[Array, "m p"]) -> Float[Array, "m p"]:
    """Orthonormal basis of the columns of a tall ``y`` from the eigendecomposition of the small
    Gram matrix ``y^T y``, done twice for orthogonality to round-off. Only a ``[p, p]`` LAPACK
    call: the multithreaded LAPACK QR of a tall matrix stalls on busy cores. Directions with
    negligible singular values become 0."""
    for _ in range(2):
        s, v = jnp.linalg.eigh(jnp.matmul(y.T, y, precision=_HIGHEST))
        keep = s > 100 * jnp.finfo(y.dtype).eps * jnp.max(s)
        scale = jnp.where(keep, 1 / jnp.sqrt(jnp.where(keep, s, 1)), 0)
        y = jnp.matmul(y, v * scale, precision=_HIGHEST)
    return y


def classical_start(
    delta: Float[Array, "m m"], n_components: int, iterations: int = 30, oversample: int = 8
) -> Float[Array, "m k"]:
    """:func:`classical_kernel` by subspace iteration, for starting SMACOF.

    ``iterations`` products of ``B`` with an ``[m, k + oversample]`` orthonormal block (from a
    fixed Gaussian sketch, so the result is deterministic), then Rayleigh-Ritz: O(m^2 k) per
    step in matrix products instead of an O(m^3) eigendecomposition (for m = 2000 over 10x
    slower on a 2-core CPU, and far slower when multithreaded LAPACK competes for busy cores).
    Matches the exact solution to round-off when the top eigenvalues are separated; otherwise
    it is still a start in the dominant directions.
    """
    b = _centred_gram(delta)
    m = b.shape[0]
    p = min(m, n_components + oversample)
    sketch = jax.random.normal(jax.random.key(0), (m, p), b.dtype)
    product = lambda q: jnp.matmul(b, q, precision=_HIGHEST)  # noqa: E731
    q = lax.fori_loop(
        0, iterations, lambda _, q: _orthonormalize(product(q)), _orthonormalize(sketch)
    )
    ritz = jnp.matmul(q.T, product(q), precision=_HIGHEST)
    evals, v = jnp.linalg.eigh((ritz + ritz.T) / 2)
    evecs = jnp.matmul(q, v[:, ::-1][:, :n_components], precision=_HIGHEST)
    return _coordinates(evals[::-1][:n_components], evecs)


@functools.partial(jax.jit, static_argnames="n_components")
def _classical(delta: Array, n_components: int) -> Array:
    delta, _ = _validate.clean(delta)
    scale = _validate.magnitude(delta)[..., None, None]  # squares at unit scale: no overflow
    kernel = functools.partial(classical_kernel, n_components=n_components)
    unit = delta / scale
    return (kernel(unit) if delta.ndim == 2 else jax.vmap(kernel)(unit)) * scale


def classical_mds(dissimilarities: ArrayLike, n_components: int = 2) -> Float[Array, "*batch m k"]:
    """Classical (Torgerson) MDS: the best rank-``n_components`` fit of the double-centred
    squared dissimilarities.

    Exact for Euclidean distances (it recovers the points up to rotation, reflection and
    translation); for other dissimilarities the negative part of the spectrum is dropped.
    Costs one ``[m, m]`` symmetric eigendecomposition, of the matrix divided by its largest
    entry (the result scaled back), so any finite magnitude works.

    Args:
        dissimilarities: ``[m, m]`` symmetric non-negative matrix with zero diagonal, or a
            batch ``[b, m, m]``.
        n_components: embedding dimension k, at most m - 1.

    Returns:
        ``[m, k]`` (or ``[b, m, k]``) centred coordinates, columns ordered by decreasing
        eigenvalue; directions with a non-positive eigenvalue are 0.

    Raises:
        ValueError: for a bad shape, too few points, or (concrete input) non-finite,
            asymmetric or negative entries or a non-zero diagonal.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import classical_mds
        >>> d = jnp.array([[0.0, 3.0, 4.0], [3.0, 0.0, 5.0], [4.0, 5.0, 0.0]])
        >>> x = classical_mds(d)
        >>> bool(jnp.allclose(jnp.linalg.norm(x[1] - x[2]), 5.0, atol=1e-5))
        True

    References:
        W. S. Torgerson, "Multidimensional scaling: I. Theory and method", Psychometrika 17 (1952).
    """
    delta, _ = _validate.prepare_dissimilarities(dissimilarities, n_components)
    return _classical(delta, n_components)
