"""Checks at the API boundary: clear errors that name the model and the cause, never a silent NaN.

Value checks (finite, degenerate rows) need concrete arrays; under a caller's `jit` only the
shape checks run, and an undefined value shows up as NaN.
"""

import numbers
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxrsa._numerics import compute_dtype


def check_choice(name: str, value, valid: Sequence[str]) -> None:
    """Raise if `value` is not one of `valid`, listing the valid ones."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(repr, valid))}")


def positive(name: str, value) -> float:
    """`value` as a float, or an error if it is not a finite positive number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return value


def positive_int(name: str, value) -> int:
    """`value` if it is an integer >= 1, else an error naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def integer(name: str, value, minimum: int = 1) -> int:
    """`value` as a Python int >= `minimum`: a TypeError naming `name` if it is not an integer,
    a ValueError if it is smaller."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def concrete(x) -> bool:
    """False for a tracer (inside a caller's jit or vmap), where values cannot be checked."""
    return not isinstance(x, jax.core.Tracer)


def as_float(x: ArrayLike, label: str) -> jax.Array:
    """`x` as a JAX float array: float64 stays, other floats compute in float32, integers in the
    default float type."""
    try:
        x = jnp.asarray(x)
    except TypeError:
        raise TypeError(f"{label}: expected an array of numbers, got {type(x).__name__}") from None
    if not (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == bool) or jnp.iscomplexobj(x):
        raise TypeError(f"{label}: expected real numbers, got dtype {x.dtype}")
    return x.astype(compute_dtype(x.dtype))


def check_finite(x: jax.Array, label: str) -> None:
    """Raise naming the first non-finite entry of `x` (`[n, d]`, or `[m, n, d]` models)."""
    if concrete(x) and not bool(jnp.isfinite(x).all()):
        where = [int(i) for i in np.argwhere(~np.isfinite(np.asarray(x)))[0]]
        if len(where) == 3:
            label, where = f"model {where[0]}", where[1:]
        raise ValueError(
            f"{label}: activations contain a non-finite value (NaN or inf) at example {where[0]}"
            + (f", feature {where[1]}" if len(where) > 1 else "")
        )


def check_shape(
    label: str, shape: tuple, *, min_n: int = 2, n: int | None = None, like: str = "", needs=""
) -> None:
    """Raise unless `shape` is one model's `[n, d]`: d >= 1, at least `min_n` examples, and
    `n` examples when given (those of the model named `like`)."""
    if len(shape) != 2:
        raise ValueError(
            f"{label}: expected activations of shape [n, d] (examples x features), "
            f"got shape {tuple(shape)}"
        )
    if n is not None and shape[0] != n:
        raise ValueError(
            f"{label}: has {shape[0]} examples but {like} has {n}; every model must see the "
            "same examples in the same order"
        )
    if shape[0] < min_n:
        raise ValueError(f"{label}: {needs or 'needs'} at least {min_n} examples, got {shape[0]}")
    if shape[1] < 1:
        raise ValueError(f"{label}: has no features (shape {tuple(shape)})")


def as_models_array(x: ArrayLike, *, min_n: int = 2) -> jax.Array:
    """Validate `[n, d]` or `[m, n, d]` activations; return a float array."""
    x = as_float(x, "x")
    if x.ndim not in (2, 3) or x.shape[0] < 1:
        raise ValueError(
            f"x: expected [n, d] (one model) or [m, n, d] (a batch of models), got shape "
            f"{tuple(x.shape)}"
        )
    check_shape("x", x.shape[-2:], min_n=min_n)
    check_finite(x, "x")
    return x


def check_models_finite(out: jax.Array, cause: str) -> None:
    """Raise if a per-model result `[n, n]` or `[m, n, n]` contains NaN, naming the model."""
    if not concrete(out):
        return
    batch = out if out.ndim == 3 else out[None]
    bad = ~np.asarray(jnp.isfinite(batch).reshape(batch.shape[0], -1).all(axis=1))
    if bad.any():
        who = f"model {int(np.argmax(bad))}" if out.ndim == 3 else "x"
        raise ValueError(f"{who}: {cause}")


class Reps(NamedTuple):
    """Several models' activations, each `[n, d_i]`, with the labels errors use."""

    labels: tuple[str, ...]
    arrays: Sequence  # one array-like per model (rows of a stacked array, list items, dict values)


class _Values(Sequence):
    """A mapping's values by position, read on access (a lazy mapping stays lazy)."""

    def __init__(self, mapping: Mapping):
        self._mapping, self._keys = mapping, list(mapping)

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, i):
        return self._mapping[self._keys[i]]


def as_reps(reps, role: str = "reps") -> Reps:
    """Accept an `[m, n, d]` array, a sequence of `[n, d_i]` arrays, or a dict of them."""
    if isinstance(reps, Mapping):
        labels = tuple(f"{role}[{k!r}]" for k in reps)
        arrays = _Values(reps)
    elif hasattr(reps, "shape") and hasattr(reps, "ndim"):
        if reps.ndim != 3:
            raise ValueError(
                f"{role}: an array of models must have shape [m, n, d], got shape "
                f"{tuple(reps.shape)}; pass a list or dict for models of different widths"
            )
        labels = tuple(f"{role}[{i}]" for i in range(reps.shape[0]))
        arrays = reps
    elif isinstance(reps, Sequence) and not isinstance(reps, (str, bytes)):
        labels = tuple(f"{role}[{i}]" for i in range(len(reps)))
        arrays = reps  # items are read when their block is prepared: a lazy sequence stays lazy
    else:
        raise TypeError(
            f"{role}: expected an [m, n, d] array, a list or a dict of [n, d_i] arrays, "
            f"got {type(reps).__name__}"
        )
    if len(labels) == 0:
        raise ValueError(f"{role}: no models given")
    return Reps(labels, arrays)
