"""Compare the layers of one trained network with each other (layer x layer similarity).

    python examples/layers.py [--family cnn --epochs 1 --samples 300 --out layers.png]

Trains one small model on the embedded MNIST digits, reads every named layer's activations of
held-out digits, and computes their similarity: layers of different widths, one call.
"""

import argparse

import numpy as np

import jaxrsa
from jaxrsa import plot
from jaxrsa.data import load_mnist
from jaxrsa.models import activations, train_zoo


def main(
    family: str = "cnn",
    epochs: int = 1,
    samples: int = 300,
    measure: str = "cka",
    out: str | None = None,
    train_size: int | None = None,
):
    """The layer x layer similarity `[L, L]` and the layer names."""
    train, test = load_mnist("train", source="embedded"), load_mnist("test", source="embedded")
    if train_size:
        train = (train.images[:train_size], train.labels[:train_size])
    zoo = train_zoo(family, 1, epochs, train, key=0, batch_size=100)
    names = [n for n in zoo.layer_names if n not in ("input", "penultimate")]
    per_layer = activations(zoo.model(0), test.images[:samples], names)
    sim = np.asarray(jaxrsa.similarity_matrix(per_layer, measure=measure))
    if out:
        plot.save(
            plot.layer_heatmap(sim, names, names, title=f"{family.upper()} layers ({measure})"), out
        )
    return sim, names


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--measure", default="cka")
    p.add_argument("--out", default="layers.png")
    a = p.parse_args()
    sim, names = main(a.family, a.epochs, a.samples, a.measure, a.out)
    for name, row in zip(names, sim, strict=True):
        print(f"{name:>10s} " + " ".join(f"{v:.2f}" for v in row))
