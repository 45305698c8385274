"""The one place where a model's activations become compute-dtype values.

Activations arrive in any real dtype and at any magnitude; the products behind every measure
run in the compute dtype (float32 unless the input is float64 with x64 enabled). Before the
cast, in the input's own precision (float64 stays float64 even when the compute dtype is
float32), each model is

- centred (its column means removed) when the measure is translation invariant, so that a large
  offset does not eat the float32 mantissa, and
- scaled by a power of two that brings its largest magnitude into [1, 2) when the measure is
  scale invariant: exact in binary floating point, so values are unchanged at ordinary
  magnitudes and products of 1e20 or 1e-20 activations neither overflow nor underflow.

A measure that is not scale invariant gets an error naming the model when its values would
overflow the compute dtype's products, instead of a silent inf.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrsa import _inputs, measures
from jaxrsa._numerics import is_noise


def _namespace(xs):
    return jnp if isinstance(xs, jax.Array) else np


def exponents(xs):
    """Per model of `[k, n, d]`, the power of two e with max |x| / 2^e in [1, 2) (0 where the
    model is all zeros or not finite: nothing to rescale, or an error reported later). NumPy in,
    NumPy out; a JAX array (also a tracer) gives a JAX array, constant under differentiation."""
    xp = _namespace(xs)
    return _exponent(xp.max(xp.abs(xs), axis=(1, 2)))


def _exponent(peak):
    """The powers of two of `exponents` from each model's max |x|."""
    xp = _namespace(peak)
    if xp is jnp:
        peak = jax.lax.stop_gradient(peak)
    ok = xp.isfinite(peak) & (peak > 0)
    return xp.where(ok, xp.frexp(xp.where(ok, peak, 1))[1] - 1, 0)


def _checked(xs, dtype, labels):
    """`xs` with every model checked finite (an error names the model and the first bad entry),
    in a float dtype of at least 32 bits (integers and float16 are cast, nothing is narrowed)."""
    xp = _namespace(xs)
    if xp is np:  # every measure: a NaN model is never silent (checked in its own dtype)
        finite = np.isfinite(xs)
        for label, ok in zip(labels, finite, strict=True):
            if not ok.all():
                where = [int(i) for i in np.argwhere(~ok)[0]]
                raise ValueError(
                    f"{label}: activations contain a non-finite value (NaN or inf) at example "
                    f"{where[0]}, feature {where[1]}"
                )
    elif not isinstance(xs, jax.core.Tracer):
        for label, x in zip(labels, xs, strict=True):
            _inputs.check_finite(x, label)
    if not xp.issubdtype(xs.dtype, xp.floating) or xs.dtype.itemsize < 4:
        xs = xs.astype(xp.promote_types(dtype, np.float32))
    return xs


class Moments(NamedTuple):
    """Per model of `[k, n, d]`: what `to_compute` removes and divides by, and whether the model
    is constant."""

    mean: object  # [k, 1, d] column means, None where the measure keeps them
    exponent: object  # [k] powers of two, None where the measure keeps the scale
    constant: object  # [k] bool: the (centred) values are zero up to rounding


def moments(xs, dtype, measure: measures.Measure, labels) -> Moments:
    """One pass over `[k, n, d]` models: checked finite, their column means and powers of two
    (so that a panel of example rows passed with them to `to_compute` is made exactly as those
    rows of the whole models) and whether each is constant."""
    xp = _namespace(xs)
    xs = _checked(xs, dtype, labels)
    mean = xs.mean(axis=1, keepdims=True) if measure.translation_invariant else None
    xc = xs if mean is None else xs - mean
    peak = xp.max(xp.abs(xc), axis=(1, 2))
    e = _exponent(peak)
    scale = xp.ldexp(xp.ones((), xc.dtype), -e)  # exact: squares neither overflow nor underflow
    norm = xp.linalg.norm((xc * scale[:, None, None]).reshape(xc.shape[0], -1), axis=1)
    constant = is_noise(norm, peak * scale, xc[0].size)
    return Moments(mean, e if measure.scale_invariant else None, constant)


def to_compute(xs, dtype, measure: measures.Measure, labels, exponent=None, mean=None):
    """`[k, n, d]` activations of k models as the compute dtype, centred and rescaled in their
    own precision as `measure`'s invariances allow (see the module docstring). Traceable with a
    JAX array (the range check of a measure that is not scale invariant needs values and is
    skipped under a trace).

    Args:
        xs: a NumPy or JAX array `[k, n, d]`, any real dtype.
        dtype: the compute dtype.
        measure: its `translation_invariant` and `scale_invariant` decide what is done.
        labels: the k models' names, for errors.
        exponent: per-model powers of two to divide by (default: from `xs` itself); a stream
            of batches passes the same ones for every batch.
        mean: per-model column means `[k, 1, d]` to remove (default: `xs`'s own); panels of
            rows pass those of the whole models (`moments`).
    """
    xp = _namespace(xs)
    xs = _checked(xs, dtype, labels)
    if measure.translation_invariant:
        xs = xs - (xs.mean(axis=1, keepdims=True) if mean is None else mean)
    if measure.scale_invariant:
        e = exponents(xs) if exponent is None else xp.asarray(exponent)
        xs = xs * xp.ldexp(xp.ones((), xs.dtype), -e)[:, None, None]
    elif not isinstance(xs, jax.core.Tracer):
        _check_range(xs, dtype, measure, labels)
    return xs.astype(dtype)


def _check_range(xs, dtype, measure, labels) -> None:
    """Raise if a product of n x d values of this magnitude could overflow `dtype`."""
    xp = _namespace(xs)
    n, d = xs.shape[1:]
    peak = np.asarray(xp.max(xp.abs(xs), axis=(1, 2)), dtype=np.float64)
    limit = float(np.sqrt(np.finfo(dtype).max / (n * d)))
    too_big = np.isfinite(peak) & (peak > limit)
    if too_big.any():
        i = int(np.argmax(too_big))
        raise ValueError(
            f"{labels[i]}: activations up to {peak[i]:.3g} in magnitude overflow the {dtype} "
            f"products of {measure} (which is not scale invariant), whose limit here is "
            f"{limit:.3g}; rescale the activations"
            + ("" if dtype == np.float64 else " or pass float64 with jax_enable_x64")
        )
