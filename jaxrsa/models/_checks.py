"""Eager validation of model and training options (clear errors at the API boundary)."""

from collections.abc import Sequence

from jaxrsa._inputs import integer


def positive_ints(name: str, values, *, min_len: int = 0) -> tuple[int, ...]:
    """`values` (an int or a sequence of ints >= 1) as a tuple of length >= `min_len`."""
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of ints, got {type(values).__name__}")
    out = tuple(integer(f"{name}[{i}]", v) for i, v in enumerate(values))
    if len(out) < min_len:
        raise ValueError(f"{name} needs at least {min_len} entries, got {len(out)}")
    return out


def rate(name: str, value) -> float:
    """A probability in [0, 1) (a dropout rate)."""
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def positive_float(name: str, value) -> float:
    value = float(value)
    if not value > 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value
