"""Where the IDX files of MNIST and Fashion-MNIST are looked for and fetched from."""

import os
from pathlib import Path
from typing import NamedTuple

from jaxrsa.data._download import Checksum, download

# The two files of each split, by their standard names (without ``.gz``).
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class IDXDataset(NamedTuple):
    """Where one dataset's IDX files live.

    Attributes:
        name: for messages, e.g. ``"MNIST"``.
        slug: the folder under the user cache, e.g. ``"mnist"``.
        env_var: the environment variable naming a folder that holds the files.
        base_url: the official download folder; file ``X.gz`` is ``base_url + "X.gz"``.
        checksums: accepted digests of each ``.gz`` file, by standard name.
        system_dirs: folders where an OS package installs the files.
        embedded: whether a subset ships with jaxrsa (``source="embedded"``).
        install_hint: how else to get the files, for the message when none are found.
    """

    name: str
    slug: str
    env_var: str
    base_url: str
    checksums: dict[str, tuple[Checksum, ...]]
    system_dirs: tuple[Path, ...] = ()
    embedded: bool = False
    install_hint: str = ""


def _gz(md5: str, sha256: str, *, sha256_decompressed: bool) -> tuple[Checksum, ...]:
    return (Checksum("md5", md5), Checksum("sha256", sha256, sha256_decompressed))


# MD5 of the .gz files as published on yann.lecun.com/exdb/mnist and SHA-256 of the
# same .gz files as used by torchvision and TensorFlow Datasets (not checked here:
# no network). The mirror serves byte-identical copies.
MNIST = IDXDataset(
    name="MNIST",
    slug="mnist",
    env_var="JAXRSA_MNIST_DIR",
    base_url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    checksums={
        "train-images-idx3-ubyte": _gz(
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            sha256_decompressed=False,
        ),
        "train-labels-idx1-ubyte": _gz(
            "d53e105ee54ea40749a09fcbcd1e9432",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            sha256_decompressed=False,
        ),
        "t10k-images-idx3-ubyte": _gz(
            "9fb629c4189551a2d022fa330f9573f3",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            sha256_decompressed=False,
        ),
        "t10k-labels-idx1-ubyte": _gz(
            "ec29112dd5afa0611ce80d1b7f02629c",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            sha256_decompressed=False,
        ),
    },
    embedded=True,
)

# MD5 of the .gz files as published in the Fashion-MNIST README; SHA-256 of the
# decompressed bytes, computed from Debian's package dataset-fashion-mnist
# (0.0~git20200523.55506a9-1), which recompressed the files.
FASHION_MNIST = IDXDataset(
    name="Fashion-MNIST",
    slug="fashion-mnist",
    env_var="JAXRSA_FASHION_MNIST_DIR",
    base_url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    checksums={
        "train-images-idx3-ubyte": _gz(
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            sha256_decompressed=True,
        ),
        "train-labels-idx1-ubyte": _gz(
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            sha256_decompressed=True,
        ),
        "t10k-images-idx3-ubyte": _gz(
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            sha256_decompressed=True,
        ),
        "t10k-labels-idx1-ubyte": _gz(
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            sha256_decompressed=True,
        ),
    },
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    install_hint="on Debian or Ubuntu, `apt-get install dataset-fashion-mnist`",
)


def cache_dir(dataset: IDXDataset) -> Path:
    """``$XDG_CACHE_HOME/jaxrsa/<slug>``, or ``~/.cache/jaxrsa/<slug>``."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "jaxrsa" / dataset.slug


def offline() -> bool:
    """Whether ``$JAXRSA_OFFLINE`` forbids downloads (set, and not ``""`` or ``"0"``)."""
    return os.environ.get("JAXRSA_OFFLINE", "") not in ("", "0")


def find_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """The images and labels files of ``split`` in ``directory``, raw or ``.gz``.

    Returns None unless both are there. A raw file is preferred to its ``.gz``.
    """
    images, labels = (_existing(directory, stem) for stem in SPLIT_FILES[split])
    return None if images is None or labels is None else (images, labels)


def download_split(dataset: IDXDataset, split: str, directory: Path) -> tuple[Path, Path]:
    """Downloads the files of ``split`` that ``directory`` lacks, verified, into it.

    Returns:
        The images and labels files.

    Raises:
        DownloadError: a file could not be fetched or failed its checksums.
    """
    images, labels = (
        _existing(directory, stem)
        or download(
            f"{dataset.base_url}{stem}.gz", directory / f"{stem}.gz", dataset.checksums[stem]
        )
        for stem in SPLIT_FILES[split]
    )
    return images, labels


def _existing(directory: Path, stem: str) -> Path | None:
    return next((p for p in (directory / stem, directory / f"{stem}.gz") if p.is_file()), None)
