"""Layer x layer minibatch CKA of two CNNs (different seeds) over the 10,000 Fashion-MNIST test
images, as in Nguyen, Raghu and Kornblith 2021: activations stream through batch by batch and are
never all in memory.

    python examples/minibatch_heatmap.py [--epochs 1 --train-size 10000 --batch 500 --out cka.png]

Needs Fashion-MNIST (Debian: `apt-get install dataset-fashion-mnist`, or a folder given with
`--data` or $JAXRSA_FASHION_MNIST_DIR); without it the script says so and exits.
"""

import argparse
import sys

import numpy as np

import jaxrsa
from jaxrsa import plot
from jaxrsa.data import load_fashion_mnist
from jaxrsa.models import activations, train_zoo


def layer_stream(models, images, names, batch: int):
    """Per batch of images, the activations of every layer of every model (model 0's first)."""
    for start in range(0, len(images) - batch + 1, batch):  # equal batches: the rest is dropped
        x = images[start : start + batch]
        per_model = [activations(model, x, names, batch_size=batch) for model in models]
        yield [acts[name] for acts in per_model for name in names]


def main(train, test, epochs: int = 1, batch: int = 500, out: str | None = None):
    """`[L, L]` minibatch CKA between the layers of CNN seed 0 (rows) and seed 1 (columns)."""
    zoo = train_zoo("cnn", 2, epochs, train, key=0, batch_size=100)
    names = [n for n in zoo.layer_names if n not in ("input", "penultimate")]
    stream = layer_stream([zoo.model(0), zoo.model(1)], test.images, names, batch)
    sim = np.asarray(jaxrsa.minibatch_cka(stream))
    layers = len(names)
    across = sim[:layers, layers:]
    if out:
        title = f"CKA across seeds, {len(test.images) // batch * batch} test images"
        figure = plot.layer_heatmap(across, names, names, title=title, xlabel="CNN seed 1",
                                    ylabel="CNN seed 0")  # fmt: skip
        plot.save(figure, out)
    return across, names


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-size", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--data", default="auto", help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--out", default="minibatch_cka.png")
    a = p.parse_args()
    try:
        train, test = (load_fashion_mnist(s, source=a.data) for s in ("train", "test"))
    except FileNotFoundError as error:
        sys.exit(f"skipped: Fashion-MNIST is not installed ({error})")
    train = (train.images[: a.train_size], train.labels[: a.train_size])
    across, names = main(train, test, a.epochs, a.batch, a.out)
    print(f"{'':>10s} " + " ".join(f"{n:>8s}" for n in names))
    for name, row in zip(names, across, strict=True):
        print(f"{name:>10s} " + " ".join(f"{v:8.3f}" for v in row))
