"""The generic checks of jaxrsa: one message format, one exception policy.

Every public function checks its arguments here, eagerly, at the API boundary; subpackages keep
only their domain rules (what an MNIST split is, what a dissimilarity matrix is) and build them
from these functions.

Messages: an option reads ``"{name} must be {requirement}, got {value!r}"``; an array or a model
reads ``"{label}: {cause}"``, the label naming the model (``reps['mlp0']``, ``x``) or argument.

Exceptions: `TypeError` when the kind of object is wrong (a float where an int is needed, a
string where a bool is, a complex array, an object that is no PRNG key), `ValueError` when the
kind is right but the value is not (out of range, a bad shape, a non-finite entry).

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

SEED_LIMIT = 2**63
"""Integer seeds are in ``[0, 2**63)`` (what `jax.random.key` takes)."""


def check_choice(name: str, value, valid: Sequence[str]) -> None:
    """Raise if `value` is not one of `valid`, listing the valid ones."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(repr, valid))}")


def boolean(name: str, value) -> bool:
    """`value` as a Python bool; a TypeError if it is anything but a bool (``"no"`` is truthy).

    Examples:
        >>> from jaxrsa._inputs import boolean
        >>> boolean("scale", True)
        True
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def number(name: str, value) -> float:
    """`value` as a float; a TypeError if it is not a real number (bools are not)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def positive(name: str, value) -> float:
    """`value` as a float, or an error if it is not a finite positive number."""
    value = number(name, value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value}")
    return value


def rate(name: str, value) -> float:
    """A probability in [0, 1) (a dropout rate)."""
    value = number(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _whole(name: str, value, requirement: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {requirement}, got {value!r}")
    return int(value)


def positive_int(name: str, value) -> int:
    """`value` if it is an integer >= 1, else an error naming `name`."""
    value = _whole(name, value, "a positive integer")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def integer(name: str, value, minimum: int = 1) -> int:
    """`value` as a Python int >= `minimum`: a TypeError naming `name` if it is not an integer,
    a ValueError if it is smaller."""
    value = _whole(name, value, "an integer")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def positive_ints(name: str, values, *, min_len: int = 0) -> tuple[int, ...]:
    """`values` (an int or a sequence of ints >= 1) as a tuple of length >= `min_len`."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of ints, got {type(values).__name__}")
    out = tuple(integer(f"{name}[{i}]", v) for i, v in enumerate(values))
    if len(out) < min_len:
        raise ValueError(f"{name} needs at least {min_len} entries, got {len(out)}")
    return out


def seed(name: str, value) -> int:
    """An integer seed in ``[0, 2**63)``."""
    value = _whole(name, value, "an integer seed")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name} must be an integer seed in [0, 2**63), got {value}")
    return value


def prng_key(name: str, key) -> jax.Array:
    """A single PRNG key: a typed key (`jax.random.key`), a raw ``uint32[2]`` key
    (`jax.random.PRNGKey`) or an integer seed (turned into `jax.random.key(seed)`).

    Examples:
        >>> import jax
        >>> from jaxrsa._inputs import prng_key
        >>> prng_key("key", 0).shape
        ()
    """
    if isinstance(key, numbers.Integral) and not isinstance(key, bool | np.bool_):
        return jax.random.key(seed(name, key))
    dtype = getattr(key, "dtype", None)
    shape = tuple(getattr(key, "shape", (None,)))
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if shape != ():
            raise ValueError(f"{name} must be a single PRNG key, got an array of keys {shape}")
        return key
    if dtype is not None and np.dtype(dtype) == np.uint32 and shape == (2,):
        return key
    raise TypeError(
        f"{name} must be a PRNG key (jax.random.key(seed)) or an integer seed, got {key!r}"
    )


def devices(name: str, value) -> list:
    """`value` (None for every device of `jax.devices()`) as a non-empty list of distinct
    `jax.Device` objects."""
    if value is None:
        return list(jax.devices())
    if isinstance(value, jax.Device):
        value = [value]
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a sequence of jax.Device objects (e.g. jax.devices()), got {value!r}"
        )
    out = list(value)
    if not out:
        raise ValueError(f"{name} must name at least one device, got {value!r}")
    for i, d in enumerate(out):
        if not isinstance(d, jax.Device):
            raise TypeError(f"{name}[{i}] must be a jax.Device (from jax.devices()), got {d!r}")
    if len(set(out)) != len(out):
        repeated = next(d for d in out if out.count(d) > 1)
        raise ValueError(f"{name} must name distinct devices, got {repeated} more than once")
    return out


def real_dtype(label: str, dtype) -> np.dtype:
    """`dtype` if it holds real numbers (bool, integers, any float including bfloat16 and the
    float8 types); a TypeError naming `label` otherwise (complex, strings, objects)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu" or jnp.issubdtype(dtype, jnp.floating):
        return dtype
    raise TypeError(f"{label}: expected real numbers, got dtype {dtype}")


def float_dtype(label: str, *arrays) -> np.dtype:
    """The float dtype that `arrays` compute in together (the one dtype policy, see
    `jaxrsa._numerics.compute_dtype`): float64 stays, other floats compute in float32,
    integers and booleans in the default float type."""
    dtypes = [real_dtype(label, jnp.asarray(a).dtype) for a in arrays]
    return compute_dtype(jnp.result_type(*dtypes))


def concrete(*arrays) -> bool:
    """False if any argument is a tracer (inside a caller's jit or vmap): values cannot be
    checked then."""
    return not any(isinstance(a, jax.core.Tracer) for a in arrays)


def as_float(x: ArrayLike, label: str) -> jax.Array:
    """`x` as a JAX float array: float64 stays, other floats compute in float32, integers in the
    default float type."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(x).dtype
        except (TypeError, ValueError):
            raise TypeError(
                f"{label}: expected an array of numbers, got {type(x).__name__}"
            ) from None
    target = compute_dtype(real_dtype(label, dtype))
    narrows = np.dtype(dtype).kind == "f" and np.finfo(dtype).max > np.finfo(target).max
    if concrete(x) and narrows:
        _check_fits(np.asarray(x), target, label)
    return jnp.asarray(x).astype(target)


def _check_fits(x: np.ndarray, target: np.dtype, label: str) -> None:
    """Raise if finite entries of `x` overflow `target` (float64 data, float32 computation)."""
    finite = np.isfinite(x)
    largest = float(np.max(np.abs(np.where(finite, x, 0)), initial=0.0))
    if largest > float(np.finfo(target).max):
        raise ValueError(
            f"{label}: values up to {largest:.3g} do not fit {target}, the dtype jaxrsa computes "
            f"in (max {np.finfo(target).max:.3g}); rescale them or enable float64 "
            "(jax.config.update('jax_enable_x64', True))"
        )


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
