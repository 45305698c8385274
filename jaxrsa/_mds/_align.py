"""Orthogonal Procrustes alignment of configurations (MDS maps are defined up to rotation,
reflection and translation)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs


def _unit(a: Float[Array, "m k"]) -> tuple[Array, Array]:
    """``a / max|a|`` and ``max|a|`` (1 for zeros): products of unit-scale values cannot
    overflow or underflow."""
    top = jnp.max(jnp.abs(a))
    top = jnp.where(top > 0, top, jnp.ones_like(top))
    return a / top, top


def align_kernel(
    x: Float[Array, "m k"], reference: Float[Array, "m k"], scale: bool
) -> Float[Array, "m k"]:
    """``x`` translated, rotated/reflected (and scaled) onto ``reference`` in least squares.

    The rotation is ``U V^T`` from the SVD ``Xc^T Rc = U S V^T`` of the centred
    configurations; the optimal scale is ``trace(S) / ||Xc||_F^2`` (0 for a single point).
    Both are computed from the configurations divided by their largest entries, so any
    finite magnitude works.
    """
    x, sx = _unit(x)
    reference, sr = _unit(reference)
    r_mean = jnp.mean(reference, axis=0)
    xc, rc = x - jnp.mean(x, axis=0), reference - r_mean
    u, s, vt = jnp.linalg.svd(xc.T @ rc)
    aligned = xc @ (u @ vt)
    if scale:
        ss = jnp.sum(xc * xc)
        positive = ss > 0
        factor = jnp.where(positive, jnp.sum(s) / jnp.where(positive, ss, 1), 0) * sr
    else:
        factor = sx
    return aligned * factor + r_mean * sr


@functools.partial(jax.jit, static_argnames="scale")
def _align(x: Array, reference: Array, scale: bool) -> Array:
    kernel = functools.partial(align_kernel, scale=scale)
    return jnp.vectorize(kernel, signature="(m,k),(m,k)->(m,k)")(x, reference)


def procrustes_align(
    x: ArrayLike, reference: ArrayLike, *, scale: bool = False
) -> Float[Array, "*batch m k"]:
    """Align configurations to a reference by translation and an orthogonal map.

    Solves ``min ||c (x - mean x) Q + t - reference||_F`` over orthogonal ``Q`` (rotations
    and reflections), translations ``t`` and, with ``scale=True``, a factor ``c > 0``
    (``c = 1`` otherwise: MDS maps carry the scale of their dissimilarities). Use it to compare
    maps, align the maps of a training trajectory or of bootstrap samples to one reference.

    Args:
        x: ``[m, k]`` configuration, or ``[..., m, k]`` several, each aligned separately.
        reference: ``[m, k]``, or ``[..., m, k]`` broadcasting against ``x``.
        scale: also fit an isotropic scale (a bool).

    Returns:
        ``[..., m, k]``: ``x`` aligned, in the common float dtype.

    Raises:
        ValueError: if the last two axes differ, the batch axes do not broadcast or (concrete
            input) entries are not finite.
        TypeError: a non-bool ``scale``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxrsa import procrustes_align
        >>> ref = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
        >>> rot = jnp.array([[0.0, -1.0], [1.0, 0.0]])
        >>> y = procrustes_align(ref @ rot + 5.0, ref)
        >>> bool(jnp.allclose(y, ref, atol=1e-5))
        True

    References:
        P. H. Schönemann, "A generalized solution of the orthogonal Procrustes problem",
        Psychometrika 31 (1966).
    """
    scale = _inputs.boolean("scale", scale)
    x, reference = jnp.asarray(x), jnp.asarray(reference)
    if x.ndim < 2 or reference.ndim < 2 or x.shape[-2:] != reference.shape[-2:]:
        raise ValueError(
            "x and reference must be [..., m, k] configurations with the same m and k; got "
            f"shapes {tuple(x.shape)} and {tuple(reference.shape)}"
        )
    try:
        np.broadcast_shapes(x.shape[:-2], reference.shape[:-2])
    except ValueError:
        raise ValueError(
            f"x and reference: batch shapes {tuple(x.shape[:-2])} and "
            f"{tuple(reference.shape[:-2])} do not broadcast (shapes {tuple(x.shape)} and "
            f"{tuple(reference.shape)})"
        ) from None
    dtype = _inputs.float_dtype("x and reference", x, reference)
    x, reference = x.astype(dtype), reference.astype(dtype)
    for name, a in (("x", x), ("reference", reference)):
        if _inputs.concrete(a) and not np.all(np.isfinite(np.asarray(a))):
            raise ValueError(f"{name} has non-finite entries")
    return _align(x, reference, scale)
