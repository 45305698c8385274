"""Loading MNIST and Fashion-MNIST splits from the first place that has them."""

import logging
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxrsa.data._checks import check_split
from jaxrsa.data._download import DownloadError
from jaxrsa.data._embedded import load_embedded
from jaxrsa.data._idx import read_idx
from jaxrsa.data._sources import (
    FASHION_MNIST,
    MNIST,
    SPLIT_FILES,
    IDXDataset,
    cache_dir,
    download_split,
    find_files,
    offline,
)

_log = logging.getLogger("jaxrsa.data")


class Dataset(NamedTuple):
    """One split of a dataset; unpacks as ``images, labels = load_mnist()``.

    Attributes:
        images: ``[N, 28, 28]`` uint8, pixel values 0..255 (0 is background).
        labels: ``[N]`` int32, classes 0..9.
    """

    images: np.ndarray
    labels: np.ndarray


def load_mnist(split: str = "train", *, source: str | os.PathLike = "auto") -> Dataset:
    """Loads a split of MNIST (LeCun, Cortes and Burges) as NumPy arrays.

    ``source`` says where from:

    - ``"auto"``: the folder named by ``$JAXRSA_MNIST_DIR`` if set (it must
      hold the files); else the user cache ``$XDG_CACHE_HOME/jaxrsa/mnist``
      (``~/.cache/jaxrsa/mnist``); else a download of the official files into
      that cache (checksums verified, 10 s timeout; skipped when
      ``$JAXRSA_OFFLINE`` is set); else the embedded subset, with a
      ``UserWarning`` saying so.
    - ``"embedded"``: the 5,000 real MNIST digits that ship with jaxrsa (the
      first 500 training images of each class), split once at random into
      4,000 for ``"train"`` and 1,000 for ``"test"``, exactly 400 / 100 per class.
    - a folder holding the standard IDX files ``train-images-idx3-ubyte``,
      ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
      ``t10k-labels-idx1-ubyte``, each raw or gzipped (``.gz``).

    Where the data came from is logged at INFO level on the ``jaxrsa.data`` logger.

    Args:
        split: ``"train"`` (60,000 images, or 4,000 embedded) or ``"test"``
            (10,000, or 1,000 embedded).
        source: ``"auto"``, ``"embedded"`` or a folder.

    Returns:
        ``Dataset(images, labels)``: images ``[N, 28, 28]`` uint8, labels ``[N]`` int32.

    Raises:
        ValueError: a bad ``split`` or ``source``, or a corrupt file (named).
        FileNotFoundError: the folder (or ``$JAXRSA_MNIST_DIR``) lacks the files.

    Examples:
        >>> from jaxrsa.data import load_mnist
        >>> images, labels = load_mnist("test", source="embedded")
        >>> images.shape, images.dtype, labels.shape
        ((1000, 28, 28), dtype('uint8'), (1000,))
    """
    return _load(MNIST, split, source)


def load_fashion_mnist(split: str = "train", *, source: str | os.PathLike = "auto") -> Dataset:
    """Loads a split of Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) as NumPy arrays.

    As :func:`load_mnist`, with ``$JAXRSA_FASHION_MNIST_DIR`` and the cache
    folder ``.../jaxrsa/fashion-mnist``; after the cache, ``"auto"`` looks in
    ``/usr/share/datasets/fashion-mnist``, where Debian's package
    ``dataset-fashion-mnist`` installs the files. Nothing is embedded: when no
    source has the files, a ``FileNotFoundError`` says how to get them.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        source: ``"auto"`` or a folder.

    Returns:
        ``Dataset(images, labels)``: images ``[N, 28, 28]`` uint8, labels ``[N]``
        int32 (0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal,
        6 shirt, 7 sneaker, 8 bag, 9 ankle boot).

    Raises:
        ValueError: a bad ``split`` or ``source``, or a corrupt file (named).
        FileNotFoundError: no source has the files.
    """
    return _load(FASHION_MNIST, split, source)


def _load(dataset: IDXDataset, split: str, source: str | os.PathLike) -> Dataset:
    if split not in SPLIT_FILES:
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"source: expected 'auto', 'embedded' or a folder, got {type(source)}")
    if source == "embedded":
        if not dataset.embedded:
            raise ValueError(f"source: no embedded {dataset.name}; use 'auto' or a folder")
        return _embedded(dataset, split)
    if source == "auto":
        return _load_auto(dataset, split)
    return _load_folder(dataset, split, Path(source), f"source={os.fspath(source)!r}")


def _load_auto(dataset: IDXDataset, split: str) -> Dataset:
    folder = os.environ.get(dataset.env_var)
    if folder:
        return _load_folder(dataset, split, Path(folder), f"${dataset.env_var}={folder!r}")
    cache = cache_dir(dataset)
    for candidate in (cache, *dataset.system_dirs):
        files = find_files(candidate, split)
        if files is not None:
            return _read(files)
    if offline():
        reason = "$JAXRSA_OFFLINE is set"
    else:
        try:
            return _read(download_split(dataset, split, cache))
        except DownloadError as err:
            reason = f"download failed: {err}"
    looked = ", ".join(str(p) for p in (cache, *dataset.system_dirs))
    if dataset.embedded:
        warnings.warn(
            f"jaxrsa.data: {dataset.name} not in {looked} and {reason}; using the embedded "
            f"5,000-digit subset (source='embedded'), {split!r} split; "
            f"set ${dataset.env_var} to a folder of IDX files for the full dataset",
            stacklevel=4,
        )
        return _embedded(dataset, split)
    raise FileNotFoundError(
        f"{dataset.name} {split!r} files not found in {looked}, and {reason}; "
        f"set ${dataset.env_var} to a folder holding {' and '.join(SPLIT_FILES[split])} "
        f"(raw or .gz){'; or ' + dataset.install_hint if dataset.install_hint else ''}"
    )


def _load_folder(dataset: IDXDataset, split: str, folder: Path, origin: str) -> Dataset:
    files = find_files(folder, split)
    if files is None:
        raise FileNotFoundError(
            f"{origin}: {folder} lacks the {dataset.name} {split!r} files "
            f"{' and '.join(SPLIT_FILES[split])} (raw or .gz)"
        )
    return _read(files)


def _read(files: tuple[Path, Path]) -> Dataset:
    images, labels = (read_idx(path) for path in files)
    check_split(images, labels, f"{files[0]} and {files[1]}")
    _log.info("loaded %d examples from %s and %s", len(labels), *files)
    return Dataset(images, labels.astype(np.int32))


def _embedded(dataset: IDXDataset, split: str) -> Dataset:
    images, labels = load_embedded(split)
    _log.info("loaded %d examples of embedded %s (%s)", len(labels), dataset.name, split)
    return Dataset(images, labels.astype(np.int32))
