"""Flax NNX model families, zoo training and activations for representation comparisons.

`MLP` and `CNN` are image classifiers that name their intermediate activations
(``model.layer_names``: ``"input"``, ``"dense_0"``, ``"conv_0"``, ..., ``"penultimate"``,
``"logits"``). `train_zoo` trains many seeds of one architecture at once (one jitted epoch,
vmapped over the models) with per-epoch checkpoints that a killed run resumes from;
`activations` and `zoo_activations` read any layer in evaluation mode. Models take raw uint8
images and scale them with `preprocess`. `capture` reads the layers of any Flax model (NNX or
Linen) or function the same way: jaxrsa's models are captured like any other.

Determinism: model ``i`` of a zoo is a pure function of its key (``keys[i]``, split from
``key``), the data and the number of epochs. The key is split into an init key, a data key
(epoch ``e`` shuffles with ``fold_in(data_key, e)``) and a dropout key.

Examples:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
    >>> y = rng.integers(0, 10, 64)
    >>> zoo = train_zoo("mlp", 2, 1, (x, y), key=0, batch_size=32, hidden=(16, 8))
    >>> zoo_activations(zoo, x[:5], "dense_1", epoch=range(2)).shape
    (2, 2, 5, 8)
"""

from jaxrsa.models._activations import activations as activations
from jaxrsa.models._activations import zoo_activations as zoo_activations
from jaxrsa.models._base import Classifier as Classifier
from jaxrsa.models._capture import capture as capture
from jaxrsa.models._checkpoint import CheckpointError as CheckpointError
from jaxrsa.models._cnn import CNN as CNN
from jaxrsa.models._layers import Conv2d as Conv2d
from jaxrsa.models._mlp import MLP as MLP
from jaxrsa.models._preprocess import preprocess as preprocess
from jaxrsa.models._zoo import Zoo as Zoo
from jaxrsa.models._zoo import ZooConfig as ZooConfig
from jaxrsa.models._zoo import load_zoo as load_zoo
from jaxrsa.models._zoo import train_zoo as train_zoo

__all__ = [
    "CNN",
    "MLP",
    "CheckpointError",
    "Classifier",
    "Conv2d",
    "Zoo",
    "ZooConfig",
    "activations",
    "capture",
    "load_zoo",
    "preprocess",
    "train_zoo",
    "zoo_activations",
]
