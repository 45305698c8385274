"""The one place where images become network inputs."""

import jax.numpy as jnp
from jax.typing import ArrayLike
from jaxtyping import Array, Float


def preprocess(images: ArrayLike) -> Float[Array, "..."]:
    """Scale images to float32 in [0, 1], the input every model in `jaxrsa.models` sees.

    uint8 images (MNIST's pixel values 0..255) are divided by 255; floating images are taken
    to be in [0, 1] already and only cast to float32. Models call this themselves, so pass
    them the raw uint8 arrays (4x smaller to keep and to gather from).

    Args:
        images: ``[n, *shape]`` uint8 or floating.

    Returns:
        ``[n, *shape]`` float32.

    Raises:
        TypeError: for any other dtype (signed integers, bool), whose scale is ambiguous.

    Examples:
        >>> import numpy as np
        >>> x = preprocess(np.array([[0, 128, 255]], dtype=np.uint8))
        >>> x.dtype, x.min().item(), x.max().item()
        (dtype('float32'), 0.0, 1.0)
    """
    images = jnp.asarray(images)
    if images.dtype == jnp.uint8:
        return images.astype(jnp.float32) / 255.0
    if jnp.issubdtype(images.dtype, jnp.floating):
        return images.astype(jnp.float32)
    raise TypeError(f"images must be uint8 (0..255) or floating (0..1), got dtype {images.dtype}")
