"""What every model family shares: named activations, preprocessing, train/eval mode."""

import math

import jax
from flax import nnx
from jax.typing import ArrayLike
from jaxtyping import Array, Float

from jaxrsa import _inputs
from jaxrsa.models._layers import DenseBlock
from jaxrsa.models._preprocess import preprocess


class Classifier(nnx.Module):
    """Base of `MLP` and `CNN`: an image classifier that names its intermediate activations.

    Subclasses build their layers (the dense blocks and the logits head with `_init_dense`)
    and define ``hyperparameters()`` (the JSON-serialisable keyword arguments that rebuild the
    architecture), ``_hidden_names()`` and ``_trunk(x, out, *, train, key)`` (fills ``out``
    with the hidden activations and returns the last one, flattened). Every model maps raw
    images ``[n, *input_shape]`` (uint8, see `preprocess`) to a dict of named activations
    (`features`); calling the model returns the logits. Under `nnx.capture` (as in
    `jaxrsa.models.capture`) `features` also sows each named activation as an
    `nnx.Intermediate`, so the models are read like any other NNX model.

    Evaluation mode (``train=False``, the default) switches dropout off and normalises with
    the running batch-norm statistics, so an example's activations never depend on the rest of
    its batch. Training mode needs a ``key`` when the model has dropout.
    """

    family: str = ""

    def _init_common(self, input_shape, n_classes, dropout, batch_norm):
        self.input_shape = _inputs.positive_ints("input_shape", input_shape, min_len=2)
        if len(self.input_shape) > 3:
            raise ValueError(
                f"input_shape must be (height, width) or (height, width, channels), "
                f"got {self.input_shape}"
            )
        self.n_classes = _inputs.integer("n_classes", n_classes)
        self.dropout = _inputs.rate("dropout", dropout)
        self.batch_norm = bool(batch_norm)

    def _init_dense(self, widths: tuple[int, ...], rngs: nnx.Rngs):
        """Dense blocks `dense_i` through `widths` (flattened input first), then the head."""
        self.blocks = nnx.List(
            [
                DenseBlock(a, b, dropout=self.dropout, batch_norm=self.batch_norm, rngs=rngs)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        self.head = nnx.Linear(widths[-1], self.n_classes, rngs=rngs)

    def _dense_trunk(self, h, out, *, train, key):
        """The dense blocks on flat `h`, each recorded in `out` as `dense_i`; the last one."""
        for i, block in enumerate(self.blocks):
            h = block(h, train=train, key=block_key(key, i))
            out[f"dense_{i}"] = h
        return h

    @property
    def n_inputs(self) -> int:
        """Number of input values per example (pixels times channels)."""
        return math.prod(self.input_shape)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names accepted by `features` and `jaxrsa.models.activations`, input to output.

        ``"penultimate"`` is the last hidden layer under another name (the default probe).
        """
        return ("input", *self._hidden_names(), "penultimate", "logits")

    def features(
        self, images: ArrayLike, *, train: bool = False, key: jax.Array | None = None
    ) -> dict[str, Array]:
        """All named activations of a batch of images.

        Args:
            images: ``[n, *input_shape]`` uint8 (or floats in [0, 1]).
            train: training mode (dropout on, batch statistics of this batch); default False.
            key: PRNG key for dropout, needed when ``train`` and the model has dropout.

        Returns:
            dict from each name in `layer_names` to its activations ``[n, ...]`` (conv maps
            keep their ``[n, h, w, c]`` shape; ``"input"`` is the preprocessed image).
        """
        x = preprocess(images)
        if x.shape[1:] != self.input_shape:
            raise ValueError(
                f"images must have shape [n, {', '.join(map(str, self.input_shape))}] for this "
                f"{self.family.upper()}, got {list(x.shape)}"
            )
        if train and self.dropout > 0 and key is None:
            raise ValueError("training mode with dropout needs a PRNG key: pass key=")
        out = {"input": x}
        hidden = self._trunk(x, out, train=train, key=key)
        out["penultimate"] = hidden
        out["logits"] = self.head(hidden)
        if capturing(self):
            for name, value in out.items():
                self.sow(nnx.Intermediate, name, value)
        return out

    def __call__(
        self, images: ArrayLike, *, train: bool = False, key: jax.Array | None = None
    ) -> Float[Array, "n classes"]:
        """Logits ``[n, n_classes]`` (see `features` for the arguments)."""
        return self.features(images, train=train, key=key)["logits"]


def capturing(module: nnx.Module) -> bool:
    """Whether `module` runs inside `nnx.capture` (which marks the modules it records).

    Sowing outside `nnx.capture` is the deprecated Flax behaviour: `sow` then stores the value
    as a new variable on the module, so a training step's state would grow a copy of every
    activation (it made training 100x slower in a trial). The models sow only when recorded.
    """
    return hasattr(module, "__captures__")


def block_key(key: jax.Array | None, index: int) -> jax.Array | None:
    """Independent dropout key for hidden block `index` (None stays None)."""
    return None if key is None else jax.random.fold_in(key, index)
