"""Training kernels for one model; the zoo maps them over models with `vmap` (or a loop).

Randomness: each model has one key, split into an init key, a data key (the shuffle of epoch
``e`` uses ``fold_in(data_key, e)``) and a dropout key (step ``s`` of epoch ``e`` uses
``fold_in(fold_in(dropout_key, e), s)``). Training is therefore a pure function of the model's
key, the data and the epoch index, which is what makes the vmapped ensemble equal to training
each model alone and a resumed run equal to an uninterrupted one.
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jaxrsa.models._families import model_class


class TrainState(NamedTuple):
    """Everything that training changes, for one model or stacked over models (leading axis).

    Attributes:
        model: the model's `nnx.State` (parameters and batch-norm statistics).
        opt: the Adam state of the parameters.
    """

    model: nnx.State
    opt: optax.OptState


def optimizer(learning_rate: float) -> optax.GradientTransformation:
    return optax.adam(learning_rate)


def model_subkeys(model_key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(init, data, dropout) keys of one model."""
    init_key, data_key, dropout_key = jax.random.split(model_key, 3)
    return init_key, data_key, dropout_key


def init_state(
    model_key: jax.Array, *, family: str, hyperparameters: dict, learning_rate: float
) -> TrainState:
    """Initial parameters (from the model's init key) and optimizer state of one model."""
    init_key = model_subkeys(model_key)[0]
    model = model_class(family)(**hyperparameters, rngs=nnx.Rngs(params=init_key))
    state = nnx.state(model)
    params = nnx.filter_state(state, nnx.Param)
    return TrainState(state, optimizer(learning_rate).init(params))


def hashable(hyperparameters: dict) -> tuple:
    """`hyperparameters` as sorted (name, value) pairs with lists made tuples (a static arg)."""
    return tuple(
        sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in hyperparameters.items())
    )


@functools.partial(jax.jit, static_argnames=("family", "hyperparameters", "learning_rate"))
def init_state_jit(model_key, *, family: str, hyperparameters: tuple, learning_rate: float):
    """Jitted `init_state` of one model, with `hyperparameters` from `hashable`.

    One model at a time (not vmapped over the zoo), so that one compilation serves zoos of
    every size: compiling random initialisers is slow on XLA:CPU, running them is not.
    """
    return init_state(
        model_key,
        family=family,
        hyperparameters=dict(hyperparameters),
        learning_rate=learning_rate,
    )


def train_epoch_kernel(
    state: TrainState,
    model_key: jax.Array,
    epoch: jax.Array,
    images: jax.Array,
    labels: jax.Array,
    *,
    graphdef: nnx.GraphDef,
    batch_size: int,
    learning_rate: float,
) -> TrainState:
    """One epoch of Adam on softmax cross-entropy for one model.

    The epoch visits ``n // batch_size`` batches of a fresh permutation of the ``n`` images
    (the remainder of the permutation is left out, a different part each epoch).

    Args:
        state: the model's `TrainState`.
        model_key: the model's key (see the module docstring).
        epoch: index of this epoch, 1 for the first (int scalar).
        images: ``[n, *input_shape]`` uint8 training images.
        labels: ``[n]`` integer labels.
        graphdef: the model's `nnx.GraphDef`.
        batch_size: examples per step.
        learning_rate: Adam's step size.
    """
    _, data_key, dropout_key = model_subkeys(model_key)
    n_batches = images.shape[0] // batch_size
    order = jax.random.permutation(jax.random.fold_in(data_key, epoch), images.shape[0])
    order = order[: n_batches * batch_size].reshape(n_batches, batch_size)
    epoch_dropout_key = jax.random.fold_in(dropout_key, epoch)
    tx = optimizer(learning_rate)

    def step(carry: TrainState, inputs):
        index, step_number = inputs
        params, rest = nnx.split_state(carry.model, nnx.Param, ...)

        def loss_fn(params):
            model = nnx.merge(graphdef, params, rest, copy=True)  # fresh Variables in this trace
            logits = model(
                images[index], train=True, key=jax.random.fold_in(epoch_dropout_key, step_number)
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels[index]).mean()
            return loss, nnx.state(model, nnx.Not(nnx.Param))

        grads, new_rest = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt = tx.update(grads, carry.opt, params)
        return TrainState(
            nnx.merge_state(optax.apply_updates(params, updates), new_rest), opt
        ), None

    state, _ = jax.lax.scan(step, state, (order, jnp.arange(n_batches)))
    return state


def evaluate_kernel(
    model_state: nnx.State, images: jax.Array, labels: jax.Array, *, graphdef: nnx.GraphDef
) -> tuple[jax.Array, jax.Array]:
    """Per-example cross-entropy and correctness of one model in evaluation mode.

    Args:
        model_state: the model's `nnx.State`.
        images: ``[b, k, *input_shape]``, ``b`` batches of ``k`` images.
        labels: ``[b, k]``.

    Returns:
        (loss ``[b, k]`` float32, correct ``[b, k]`` bool).
    """
    model = nnx.merge(graphdef, model_state)

    def batch(inputs):
        x, y = inputs
        logits = model(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return loss, jnp.argmax(logits, axis=-1) == y

    return jax.lax.map(batch, (images, labels))


@functools.partial(jax.jit, static_argnames=("graphdef", "batch_size", "learning_rate", "ensemble"))
def train_epoch(
    state, model_keys, epoch, images, labels, *, graphdef, batch_size, learning_rate, ensemble
):
    """`train_epoch_kernel`, for stacked models (``ensemble=True``: vmap) or one model."""
    kernel = functools.partial(
        train_epoch_kernel, graphdef=graphdef, batch_size=batch_size, learning_rate=learning_rate
    )
    if ensemble:
        kernel = jax.vmap(kernel, in_axes=(0, 0, None, None, None))
    return kernel(state, model_keys, epoch, images, labels)


@functools.partial(jax.jit, static_argnames=("graphdef", "ensemble"))
def evaluate(model_state, images, labels, *, graphdef, ensemble):
    """`evaluate_kernel`, for stacked models (``ensemble=True``: vmap) or one model."""
    kernel = functools.partial(evaluate_kernel, graphdef=graphdef)
    if ensemble:
        kernel = jax.vmap(kernel, in_axes=(0, None, None))
    return kernel(model_state, images, labels)
