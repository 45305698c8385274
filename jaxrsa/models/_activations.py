"""Activations of the named layers of jaxrsa's models, for one model or a whole zoo.

Both are `capture` with the models' layer names (``model.layer_names``), which the models sow
under `nnx.capture`; a zoo's models run vmapped, one program for all of them.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa.models._base import Classifier
from jaxrsa.models._capture import DEFAULT_BATCH, NNXForward, capture, run_in_batches

if TYPE_CHECKING:
    from jaxrsa.models._zoo import Zoo


def _layers(layer: str | Sequence[str], valid: tuple[str, ...]) -> tuple[str, ...]:
    names = (layer,) if isinstance(layer, str) else tuple(layer)
    if not names:
        raise ValueError("layer must name at least one layer")
    for name in names:
        if not isinstance(name, str) or name not in valid:
            raise ValueError(f"unknown layer {name!r}; valid layers: {', '.join(valid)}")
    return names


def _images(images: ArrayLike, input_shape: tuple[int, ...]) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim < 1 or images.shape[1:] != input_shape or len(images) == 0:
        raise ValueError(
            f"images must have shape [n, {', '.join(map(str, input_shape))}] with n >= 1, "
            f"got {list(images.shape)}"
        )
    return images


def activations(
    model: Classifier,
    images: ArrayLike,
    layer: str | Sequence[str] = "penultimate",
    *,
    batch_size: int = DEFAULT_BATCH,
) -> Float[Array, "n d"] | dict[str, Float[Array, "n d"]]:
    """Evaluation-mode activations of one model for any named layer(s).

    `capture` with the model's layer names: images go through the model in batches of
    `batch_size` (the last one padded), so any number of images reuses one compiled program.
    Dropout is off and batch norm uses its running statistics: an image's activations do not
    depend on its batch.

    Args:
        model: an `MLP` or `CNN` (see its ``layer_names``).
        images: ``[n, *input_shape]`` uint8 images.
        layer: a layer name (default ``"penultimate"``), or a sequence of names.
        batch_size: images per forward pass.

    Returns:
        ``[n, d]`` float32 activations (conv maps flattened), or a dict from each name in
        `layer` to its ``[n, d]`` activations when `layer` is a sequence.

    Raises:
        ValueError: an unknown layer (the message lists the valid ones) or wrong image shape.

    Examples:
        >>> import numpy as np
        >>> from flax import nnx
        >>> from jaxrsa.models import CNN
        >>> model = CNN((4, 8), dense=16, rngs=nnx.Rngs(0))
        >>> x = np.zeros((5, 28, 28), np.uint8)
        >>> activations(model, x, "conv_1").shape
        (5, 392)
        >>> sorted(activations(model, x, ["dense_0", "logits"]))
        ['dense_0', 'logits']
    """
    if not isinstance(model, Classifier):
        raise TypeError(
            f"model must be an MLP or CNN, got {type(model).__name__} "
            "(jaxrsa.models.capture reads any Flax model)"
        )
    names = _layers(layer, model.layer_names)
    out = capture(model, _images(images, model.input_shape), names, batch_size=batch_size)
    return out[layer] if isinstance(layer, str) else out


def zoo_activations(
    zoo: "Zoo",
    images: ArrayLike,
    layer: str | Sequence[str] = "penultimate",
    *,
    epoch: int | Sequence[int] = -1,
    batch_size: int = DEFAULT_BATCH,
) -> Array | dict[str, Array]:
    """Activations of every model of a zoo (vmapped over models) at one or several epochs.

    Args:
        zoo: a `Zoo` from `train_zoo` or `load_zoo`.
        images: ``[n, *input_shape]`` uint8 images.
        layer: a layer name (default ``"penultimate"``) or a sequence of names.
        epoch: a snapshot index (0 = initialisation, -1 = last), or a sequence of them, e.g.
            ``range(zoo.n_epochs + 1)`` for training trajectories.
        batch_size: images per forward pass.

    Returns:
        ``[n_models, n, d]`` for one epoch, ``[len(epoch), n_models, n, d]`` for a sequence;
        a dict of those per name when `layer` is a sequence.
    """
    names = _layers(layer, zoo.layer_names)
    images = _images(images, tuple(zoo.config.hyperparameters["input_shape"]))
    batch_size = _inputs.integer("batch_size", batch_size)
    single = isinstance(epoch, int | np.integer)
    epochs = [epoch] if single else list(epoch)
    n_snapshots = zoo.n_epochs + 1
    for e in epochs:
        if (
            isinstance(e, bool)
            or not isinstance(e, int | np.integer)
            or not -n_snapshots <= e < n_snapshots
        ):
            raise ValueError(f"epoch must be in [{-n_snapshots}, {n_snapshots}), got {e!r}")
    forward = NNXForward(zoo.graphdef, ())
    per_epoch = [
        run_in_batches(
            forward, zoo.state(int(e)), images, names, batch_size=batch_size, stacked=True
        )
        for e in epochs
    ]
    if single:
        out = per_epoch[0]
    else:
        out = {name: jnp.stack([p[name] for p in per_epoch]) for name in names}
    return out[layer] if isinstance(layer, str) else out
