"""Multi-layer perceptron family."""

from collections.abc import Sequence

from flax import nnx

from jaxrsa import _inputs
from jaxrsa.models._base import Classifier


class MLP(Classifier):
    """Fully connected classifier: flattened image -> dense blocks -> logits.

    Each hidden block is Linear -> (BatchNorm) -> ReLU -> (Dropout). Named activations:
    ``"input"``, ``"dense_0"``, ..., ``"dense_{k-1}"`` (block outputs), ``"penultimate"``
    (= the last dense block) and ``"logits"``.

    Args:
        hidden: widths of the hidden layers, at least one, e.g. ``(256, 128)``.
        input_shape: shape of one image, ``(28, 28)`` for MNIST.
        n_classes: number of outputs.
        dropout: dropout rate after each hidden block (0 = none).
        batch_norm: batch normalisation before each ReLU.
        rngs: `nnx.Rngs` for the initial parameters.

    Examples:
        >>> from flax import nnx
        >>> import numpy as np
        >>> model = MLP((32, 16), rngs=nnx.Rngs(0))
        >>> model.layer_names
        ('input', 'dense_0', 'dense_1', 'penultimate', 'logits')
        >>> model(np.zeros((2, 28, 28), np.uint8)).shape
        (2, 10)
    """

    family = "mlp"

    def __init__(
        self,
        hidden: Sequence[int] = (256, 128),
        *,
        input_shape: Sequence[int] = (28, 28),
        n_classes: int = 10,
        dropout: float = 0.0,
        batch_norm: bool = False,
        rngs: nnx.Rngs,
    ):
        self._init_common(input_shape, n_classes, dropout, batch_norm)
        self.hidden = _inputs.positive_ints("hidden", hidden, min_len=1)
        self._init_dense((self.n_inputs, *self.hidden), rngs)

    def hyperparameters(self) -> dict:
        return {
            "hidden": list(self.hidden),
            "input_shape": list(self.input_shape),
            "n_classes": self.n_classes,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
        }

    def _hidden_names(self):
        return tuple(f"dense_{i}" for i in range(len(self.hidden)))

    def _trunk(self, x, out, *, train, key):
        return self._dense_trunk(x.reshape(x.shape[0], -1), out, train=train, key=key)
