"""Datasets for the demo and the model zoo: MNIST (full or embedded) and Fashion-MNIST.

Loaders return NumPy arrays: images ``[N, 28, 28]`` uint8 and labels ``[N]`` int32,
as a ``Dataset`` NamedTuple that unpacks as ``images, labels``. Environment:

- ``JAXRSA_MNIST_DIR``, ``JAXRSA_FASHION_MNIST_DIR``: a folder holding the
  standard IDX files (raw or ``.gz``); when set, ``source="auto"`` reads there.
- ``XDG_CACHE_HOME``: the user cache is ``$XDG_CACHE_HOME/jaxrsa/<dataset>``
  (default ``~/.cache/jaxrsa/<dataset>``), where downloads go.
- ``JAXRSA_OFFLINE``: when set (not ``0``), ``source="auto"`` never downloads.
"""

from jaxrsa.data._idx import read_idx as read_idx
from jaxrsa.data._idx import write_idx as write_idx
from jaxrsa.data._mnist import Dataset as Dataset
from jaxrsa.data._mnist import load_fashion_mnist as load_fashion_mnist
from jaxrsa.data._mnist import load_mnist as load_mnist

__all__ = ["Dataset", "load_fashion_mnist", "load_mnist", "read_idx", "write_idx"]
