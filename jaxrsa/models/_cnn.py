"""Convolutional network family."""

from collections.abc import Sequence

from flax import nnx

from jaxrsa import _inputs
from jaxrsa.models._base import Classifier
from jaxrsa.models._layers import ConvBlock


class CNN(Classifier):
    """Convolutional classifier: conv blocks -> flatten -> dense blocks -> logits.

    Each conv block is Conv2d (stride 1, "SAME") -> (BatchNorm) -> ReLU -> 2 x 2 max pool;
    each dense block is Linear -> (BatchNorm) -> ReLU -> (Dropout). Named activations:
    ``"input"``, ``"conv_0"``, ... (pooled maps ``[n, h, w, c]``), ``"dense_0"``, ...,
    ``"penultimate"`` (the last dense block, or the flattened last conv block when ``dense``
    is empty) and ``"logits"``.

    Args:
        channels: output channels of the conv blocks, at least one, e.g. ``(16, 32)``.
        dense: widths of the dense blocks after the convolutions (an int for one block).
        kernel_size: odd side of the square conv kernels.
        input_shape: ``(height, width)`` (one channel) or ``(height, width, channels)``.
        n_classes: number of outputs.
        dropout: dropout rate after each dense block (0 = none).
        batch_norm: batch normalisation before each ReLU.
        rngs: `nnx.Rngs` for the initial parameters.

    Examples:
        >>> from flax import nnx
        >>> import numpy as np
        >>> model = CNN((4, 8), dense=16, rngs=nnx.Rngs(0))
        >>> model.layer_names
        ('input', 'conv_0', 'conv_1', 'dense_0', 'penultimate', 'logits')
        >>> model.features(np.zeros((2, 28, 28), np.uint8))["conv_1"].shape
        (2, 7, 7, 8)
    """

    family = "cnn"

    def __init__(
        self,
        channels: Sequence[int] = (16, 32),
        dense: int | Sequence[int] = (128,),
        *,
        kernel_size: int = 3,
        input_shape: Sequence[int] = (28, 28),
        n_classes: int = 10,
        dropout: float = 0.0,
        batch_norm: bool = False,
        rngs: nnx.Rngs,
    ):
        self._init_common(input_shape, n_classes, dropout, batch_norm)
        self.channels = _inputs.positive_ints("channels", channels, min_len=1)
        self.dense = _inputs.positive_ints("dense", dense)
        self.kernel_size = _inputs.integer("kernel_size", kernel_size)
        height, width = self.input_shape[:2]
        if min(height, width) < 2 ** len(self.channels):
            raise ValueError(
                f"{len(self.channels)} conv blocks halve the image {len(self.channels)} times: "
                f"input_shape {self.input_shape} is too small"
            )
        in_channels = (self.input_shape[2] if len(self.input_shape) == 3 else 1, *self.channels)
        self.convs = nnx.List(
            [
                ConvBlock(a, b, self.kernel_size, batch_norm=self.batch_norm, rngs=rngs)
                for a, b in zip(in_channels[:-1], in_channels[1:], strict=True)
            ]
        )
        height, width = height >> len(self.channels), width >> len(self.channels)
        self._init_dense((height * width * self.channels[-1], *self.dense), rngs)

    def hyperparameters(self) -> dict:
        return {
            "channels": list(self.channels),
            "dense": list(self.dense),
            "kernel_size": self.kernel_size,
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
        }

    def _hidden_names(self):
        convs = tuple(f"conv_{i}" for i in range(len(self.channels)))
        return convs + tuple(f"dense_{i}" for i in range(len(self.dense)))

    def _trunk(self, x, out, *, train, key):
        h = x if x.ndim == 4 else x[..., None]
        for i, block in enumerate(self.convs):
            h = block(h, train=train)
            out[f"conv_{i}"] = h
        return self._dense_trunk(h.reshape(h.shape[0], -1), out, train=train, key=key)
