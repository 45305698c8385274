"""What a valid split of an MNIST-like dataset is."""

import numpy as np

IMAGE_SHAPE = (28, 28)
N_CLASSES = 10


def check_split(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    """Checks images ``[N, 28, 28]`` uint8 and labels ``[N]`` uint8 in ``0..9``, N >= 1.

    Args:
        images: as read.
        labels: as read.
        where: names the files in messages.

    Raises:
        ValueError: naming ``where`` and what is wrong.
    """
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{where}: images must be uint8 [N, 28, 28], got {images.dtype} {list(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{where}: labels must be uint8 [N], got {labels.dtype} {list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise ValueError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError(f"{where}: no examples")
    if labels.max() >= N_CLASSES:
        raise ValueError(f"{where}: label {labels.max()} out of range 0..{N_CLASSES - 1}")
