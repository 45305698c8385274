"""Activations of any Flax model (NNX or Linen) or function, in fixed-size batches.

One mechanism reads every model: a *forward* (a small hashable object that identifies the
model's structure) maps the model's arrays and a batch of inputs to a dict of named outputs;
`capture` finds the names (by abstract evaluation, nothing computed) and then runs one jitted
kernel on batches of one fixed size, so that any number of examples reuses one compiled
program. Names and kernels are cached per forward, so later calls on a model of the same
structure compile nothing (a plain function is traced anew on each call instead: the values it
closes over may have changed). `jaxrsa.models.activations` and `zoo_activations` are this
with the layer names of jaxrsa's own models.
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import flax.errors
import flax.linen as linen
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, traverse_util
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs

DEFAULT_BATCH = 128
POOLS: dict[str, Callable] = {"mean": jnp.mean, "max": jnp.max}


class MethodOutput(nnx.Variable):
    """What `nnx.capture(method_outputs=MethodOutput)` records: each module method's output.

    A type of its own (not `nnx.Intermediate`), so that a model's own `sow` calls and the
    recorded method outputs stay apart.
    """


def _key_name(key) -> str:
    for attr in ("name", "key", "idx"):  # GetAttrKey, DictKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _add_records(out: dict, records, batch: int) -> None:
    """Name each recorded value and keep those with one row per example (first name wins).

    `records` holds (path, calls) pairs, `calls` the tuple of values a module recorded under
    the path's last part (one per call). The name is the path joined with ``"."``, without a
    trailing ``"__call__"`` (the root's own output keeps the name ``"__call__"``); a second
    call of the same module adds ``":1"``, a third ``":2"``; an output that is a tuple or dict
    of arrays names each array by its key (``"lstm.0"``, ``"encode.mean"``).
    """
    for path, calls in records:
        parts = [str(p) for p in path]
        if len(parts) > 1 and parts[-1] == "__call__":
            parts = parts[:-1]
        base = ".".join(parts)
        for i, value in enumerate(calls if isinstance(calls, tuple) else (calls,)):
            call = base if i == 0 else f"{base}:{i}"
            for keys, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
                name = ".".join([call, *map(_key_name, keys)])
                shape = getattr(leaf, "shape", ())
                if len(shape) >= 1 and shape[0] == batch:
                    out.setdefault(name, leaf)


class NNXForward(NamedTuple):
    """An NNX module's sown values and submodule outputs, in evaluation mode.

    ``args`` is the module's `nnx.State`. Evaluation mode: ``deterministic=True`` and
    ``use_running_average=True`` on every submodule that has them (`nnx.view`), on a copy.
    """

    graphdef: nnx.GraphDef
    call_kwargs: tuple

    def __call__(self, state, x) -> dict[str, Array]:
        model = nnx.view(
            nnx.merge(self.graphdef, state),
            deterministic=True,
            use_running_average=True,
            raise_if_not_found=False,
        )
        run = nnx.capture(model, nnx.Intermediate, MethodOutput, method_outputs=MethodOutput)
        _, sown, outputs = run(x, **dict(self.call_kwargs))
        out: dict[str, Array] = {}
        for state_of_type in (sown, outputs):
            records = [(p, v.get_value()) for p, v in nnx.to_flat_state(state_of_type)]
            _add_records(out, records, x.shape[0])
        return out


class _LinenForward(NamedTuple):
    """A Linen module's ``capture_intermediates`` outputs; ``args`` is its variables."""

    module: Any
    call_kwargs: tuple

    def __call__(self, variables, x) -> dict[str, Array]:
        _, state = self.module.apply(
            variables,
            x,
            capture_intermediates=True,
            mutable=["intermediates"],
            **dict(self.call_kwargs),
        )
        flat = traverse_util.flatten_dict(dict(state).get("intermediates", {}))
        out: dict[str, Array] = {}
        _add_records(out, flat.items(), x.shape[0])
        return out


class _FunctionForward(NamedTuple):
    """A function ``x -> dict``; ``args`` is unused (None). Never cached (see `_cached`)."""

    function: Any

    def __call__(self, args, x) -> dict[str, Array]:
        return self.function(x)


def _cached(cached_fn, forward, *args):
    """`cached_fn(forward, *args)` through its cache, but for a function past it.

    A Flax forward takes the model's arrays as arguments; a function closes over its own, and
    a cached kernel would keep the values they had when it was traced.
    """
    fn = cached_fn.__wrapped__ if isinstance(forward, _FunctionForward) else cached_fn
    return fn(forward, *args)


class _ByIdentity:
    """A cache key that hashes by identity (for Linen modules with unhashable fields)."""

    def __init__(self, obj):
        self.obj = obj

    def __hash__(self):
        return id(self.obj)

    def __eq__(self, other):
        return isinstance(other, _ByIdentity) and other.obj is self.obj

    def __getattr__(self, name):  # the Linen module's `apply`
        return getattr(self.obj, name)


def _hashable(obj):
    try:
        hash(obj)
    except TypeError:
        return _ByIdentity(obj)
    return obj


def flatten(a: Array, pool: str | None) -> Float[Array, "n d"]:
    """``[n, ...]`` -> ``[n, d]``; with `pool`, maps ``[n, ..., c]`` are reduced to ``[n, c]``."""
    if pool is not None and a.ndim >= 3:
        a = POOLS[pool](a, axis=tuple(range(1, a.ndim - 1)))
    return a.reshape(a.shape[0], -1)


@functools.lru_cache(maxsize=256)
def batch_function(forward, layers: tuple[str, ...], pool: str | None, stacked: bool):
    """The jitted kernel ``(args, batch) -> {name: [b, d]}`` of `forward`'s outputs `layers`.

    One per (forward, layers, pool, stacked), kept here, so that the batches of a call and
    later calls with an equal forward reuse one compiled program, and each batch is a plain
    jitted call (no static arguments to hash and compare: 1-2 ms a call on XLA:CPU).
    With `stacked`, `args` holds models stacked on a leading axis (vmapped).
    """

    def one(args, x):
        out = forward(args, x)
        return {name: flatten(out[name], pool) for name in layers}

    return jax.jit(jax.vmap(one, in_axes=(0, None)) if stacked else one)


def run_in_batches(
    forward,
    args,
    x: np.ndarray,
    layers: tuple[str, ...],
    *,
    batch_size: int,
    pool: str | None = None,
    stacked: bool = False,
) -> dict[str, Array]:
    """`forward`'s outputs `layers` on all of `x`, in batches of `batch_size` (last one padded).

    Every batch has the same shape (the last is zero-padded and the padding cut off), so the
    jitted kernel compiles once. With `stacked`, `args` holds models stacked on a leading axis
    and each result is ``[n_models, n, d]``; otherwise ``[n, d]``.
    """
    n = len(x)
    run = _cached(batch_function, forward, layers, pool, stacked)
    axis = 1 if stacked else 0
    chunks = []
    for start in range(0, n, batch_size):
        batch = x[start : start + batch_size]
        rows = len(batch)
        if rows < batch_size:
            pad = np.zeros((batch_size - rows, *x.shape[1:]), x.dtype)
            batch = np.concatenate([batch, pad])
        out = run(args, batch)
        if rows < batch_size:  # cut the padding here, not from the joined result (one copy)
            out = {k: jax.lax.slice_in_dim(v, 0, rows, axis=axis) for k, v in out.items()}
        chunks.append(out)
    # in the order of `layers` (a jitted function returns its dict sorted by key)
    if len(chunks) == 1:
        return {name: chunks[0][name] for name in layers}
    return {name: jax.lax.concatenate([c[name] for c in chunks], axis) for name in layers}


def _source(model, variables, call_kwargs: tuple) -> tuple[Any, Any, str]:
    """(forward, args, label) of `model`, or a TypeError saying what a model may be."""
    if isinstance(model, type):
        raise TypeError(
            f"model must be a model instance or a function, got the class {model.__name__}"
        )
    if isinstance(model, nnx.Module):
        label = f"{type(model).__name__} (flax.nnx.Module)"
        if variables is not None:
            raise TypeError(
                f"{label}: variables= is for Linen modules; an NNX module holds its own"
            )
        graphdef, state = nnx.split(model)
        return NNXForward(graphdef, call_kwargs), state, label
    if isinstance(model, linen.Module):
        label = f"{type(model).__name__} (flax.linen.Module)"
        if variables is None:
            raise TypeError(
                f"{label}: a Linen module holds no parameters; pass its variables, e.g. "
                f"variables=model.init(key, x) or {{'params': params}}"
            )
        if not isinstance(variables, Mapping):
            raise TypeError(
                f"{label}: variables must be a dict of collections such as {{'params': ...}}, "
                f"got {type(variables).__name__}"
            )
        variables = {k: v for k, v in variables.items() if k != "intermediates"}
        return _LinenForward(_hashable(model), call_kwargs), variables, label
    if callable(model):
        if call_kwargs:
            raise TypeError("call_kwargs= is for Flax modules; a function takes only x")
        label = f"function {getattr(model, '__name__', type(model).__name__)}"
        return _FunctionForward(model), None, label
    raise TypeError(
        "model must be a flax.nnx.Module, a flax.linen.Module (with variables=) or a function "
        f"x -> dict of layer name -> array; got {type(model).__name__}"
    )


_TRAINING = (
    "; it runs in training mode: pass its evaluation flag, e.g. call_kwargs={'train': False}"
)
_HINTS = {
    flax.errors.ModifyScopeVariableError: _TRAINING,  # batch statistics updated
    flax.errors.InvalidRngError: _TRAINING,  # dropout without a deterministic flag
    flax.errors.ScopeCollectionNotFound: "; variables are collections: {'params': params, ...}",
}


@functools.lru_cache(maxsize=256)
def _abstract_outputs(forward, args_spec, batch: jax.ShapeDtypeStruct):
    """What `forward` returns for a batch, from an abstract run (nothing computed; cached).

    `args_spec` is (treedef, ((shape, dtype), ...)) of its arrays. Returns the type name of
    what it returned, and its (name, shape or None for a non-array) pairs in its own order
    (eval_shape would sort a dict's keys).
    """
    treedef, leaves = args_spec
    args = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in leaves])
    found = {}
    returned = []

    def run(args, batch):
        out = forward(args, batch)
        returned.append(type(out))
        if not isinstance(out, Mapping):
            return None
        found.update((k, getattr(v, "shape", None)) for k, v in out.items())
        return {k: v for k, v in out.items() if found[k] is not None}

    jax.eval_shape(run, args, batch)
    return returned[0], tuple(found.items())


def _output_names(forward, args, x: np.ndarray, batch_size: int, label: str) -> tuple[str, ...]:
    """The names of `forward`'s per-example outputs (checked, for a function)."""
    batch = jax.ShapeDtypeStruct((batch_size, *x.shape[1:]), x.dtype)
    leaves, treedef = jax.tree.flatten(args)
    spec = (treedef, tuple((np.shape(a), jnp.result_type(a)) for a in leaves))
    try:
        returned, found = _cached(_abstract_outputs, forward, spec, batch)
    except (TypeError, ValueError, flax.errors.FlaxError) as err:
        hint = next((h for kind, h in _HINTS.items() if isinstance(err, kind)), "")
        raise ValueError(
            f"{label} cannot run on x of shape {list(x.shape)} (dtype {x.dtype}, in batches "
            f"of {batch_size}){hint}: {type(err).__name__}: {err}"
        ) from err
    if isinstance(forward, _FunctionForward):
        _check_function_output(returned, dict(found), batch_size, label)
    return tuple(name for name, _ in found)


def _check_function_output(returned: type, shapes: dict, batch_size: int, label: str) -> None:
    if not issubclass(returned, Mapping):
        raise TypeError(
            f"{label} returned {returned.__name__}, not a dict of layer name -> array; wrap a "
            "model that returns one array as lambda x: {'output': model(x)}"
        )
    for name, shape in shapes.items():
        if not isinstance(name, str):
            raise TypeError(f"{label}: layer names must be strings, got {name!r}")
        if shape is None or len(shape) == 0 or shape[0] != batch_size:
            got = "no array" if shape is None else f"shape {list(shape)}"
            raise ValueError(
                f"{label}: layer {name!r} must be an array with one row per example "
                f"([{batch_size}, ...] for a batch of {batch_size}), got {got}"
            )


def _requested(layers, available: tuple[str, ...], label: str) -> tuple[str, ...]:
    if layers is None:
        if not available:
            raise ValueError(f"{label} recorded no output with one row per example")
        return available
    names = (layers,) if isinstance(layers, str) else tuple(layers)
    if not names:
        raise ValueError("layers must name at least one layer (or be None for all)")
    for name in names:
        if name not in available:
            raise ValueError(
                f"{label} has no layer {name!r}; valid layers: {', '.join(available) or 'none'}"
            )
    return names


def capture(
    model,
    x: ArrayLike,
    layers: str | Sequence[str] | None = None,
    *,
    variables: Mapping | None = None,
    batch_size: int = DEFAULT_BATCH,
    pool: str | None = None,
    call_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Float[Array, "n d"]]:
    """Activations of any Flax model (or function) for the examples `x`, layer by layer.

    `x` goes through the model in batches of `batch_size` (the last one zero-padded), each
    batch in one jitted program that compiles once for all batches. Evaluation mode: an NNX
    module runs on a copy with ``deterministic=True`` and ``use_running_average=True`` wherever
    a submodule has them (dropout off, batch norm on its running statistics); a Linen module
    runs with only its ``"intermediates"`` mutable (so a training-mode batch norm is an error,
    not a silent update: pass ``call_kwargs={"train": False}`` or what its ``__call__`` takes).
    The model itself is never changed.

    What the layers are, and their names:

    - `flax.nnx.Module`: the output of every submodule method call (`nnx.capture` with
      ``method_outputs``), named by the submodule's attribute path joined with ``"."``
      (``"blocks.0.linear"``; a method other than ``__call__`` adds its name,
      ``"encoder.embed"``; the model's own output is ``"__call__"``), and every value the
      model sows with ``self.sow(nnx.Intermediate, name, value)`` (named by the sowing
      module's path and `name`; it wins over a method output of the same name). Methods are
      recorded where the class defines them, not where a base class does.
    - `flax.linen.Module` with `variables`: its ``capture_intermediates`` outputs and values
      sown into ``"intermediates"``, with the same names (``"Dense_0"``, ``"__call__"``).
    - a function ``x -> dict``: its keys; each value must have one row per example. The
      function is jitted (it must be traceable), once per call of `capture`.

    Only outputs with one row per example (leading axis = batch) are layers; a module called
    twice records ``"name"`` and ``"name:1"``; a tuple or dict output names each array by its
    key (``"lstm.0"``). NNX layers come in Flax's order (by path), Linen layers in call order.

    Args:
        model: a `flax.nnx.Module`, a `flax.linen.Module` (with `variables`), or a function
            ``x -> dict`` of layer name -> ``[n, ...]`` array.
        x: ``[n, ...]`` inputs, as the model takes them (NumPy or JAX).
        layers: a layer name, a sequence of names, or None (default) for every layer.
        variables: the Linen module's variables, e.g. ``{"params": params}`` or the output of
            ``model.init``; only for Linen modules.
        batch_size: examples per forward pass.
        pool: None (default: feature maps flattened), ``"mean"`` or ``"max"``: reduce every
            output of 3 or more axes ``[n, ..., c]`` (channels last, as in Flax) over the axes
            between the first and the last, to ``[n, c]`` (spatial pooling of conv maps,
            token pooling of sequences) before flattening.
        call_kwargs: keyword arguments of the module's call (hashable values), e.g.
            ``{"train": False}``; for Flax modules.

    Returns:
        dict from each layer name (in the order of `layers`) to its activations ``[n, d]``
        (outputs flattened after the first axis), in the model's dtype.

    Raises:
        TypeError: `model` is none of the above (or a class), a Linen module without
            `variables`, `variables` for a non-Linen model, a function returning no dict.
        ValueError: an unknown layer (the message lists the valid ones), inputs the model
            cannot run on (the model's own error is attached), an empty `x`, a bad option.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from jaxrsa.models import capture
        >>> class Net(nnx.Module):
        ...     def __init__(self, rngs):
        ...         self.hidden = nnx.Linear(3, 8, rngs=rngs)
        ...         self.out = nnx.Linear(8, 2, rngs=rngs)
        ...     def __call__(self, x):
        ...         return self.out(nnx.relu(self.hidden(x)))
        >>> acts = capture(Net(nnx.Rngs(0)), jnp.ones((5, 3)))
        >>> {name: a.shape for name, a in acts.items()}
        {'__call__': (5, 2), 'hidden': (5, 8), 'out': (5, 2)}
        >>> capture(lambda x: {"square": x**2}, jnp.ones((4, 2, 3)))["square"].shape
        (4, 6)
    """
    batch_size = _inputs.integer("batch_size", batch_size)
    if pool is not None:
        _inputs.check_choice("pool", pool, tuple(POOLS))
    if call_kwargs is not None and not isinstance(call_kwargs, Mapping):
        raise TypeError(f"call_kwargs must be a dict, got {type(call_kwargs).__name__}")
    kwargs = tuple(sorted((call_kwargs or {}).items()))
    try:
        hash(kwargs)
    except TypeError:
        raise TypeError("call_kwargs values must be hashable (e.g. bools, ints, strings)") from None
    forward, args, label = _source(model, variables, kwargs)
    x = np.asarray(x)
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"x must be an array [n, ...] with n >= 1 examples, got shape {x.shape}")
    names = _requested(layers, _output_names(forward, args, x, batch_size, label), label)
    return run_in_batches(forward, args, x, names, batch_size=batch_size, pool=pool)
