"""Distil a CNN's inductive bias into MLPs with an RSA (or CKA) loss, and see it on the model map.

    python examples/distill.py [--epochs 4 --models 3 --samples 500 --out distill.png]

Abnar, Dehghani and Zuidema (2020), "Transferring Inductive Biases through Knowledge
Distillation", in our setting: CNNs and MLPs are trained on the embedded MNIST digits; then MLP
students are trained with cross-entropy plus a representation loss (`jaxrsa.losses.rsa` or
`jaxrsa.losses.cka`) that pulls their penultimate layer toward a CNN teacher's. The model map
(MDS of `rsa` between every pair of models on held-out digits) shows where the students land:
toward the CNNs, while MLPs trained alone stay with the MLPs. Student-teacher similarity before
distillation (the student's own seed trained alone) and after, and test accuracy, are printed.
"""

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxrsa
from jaxrsa import losses, plot
from jaxrsa.data import load_mnist
from jaxrsa.models import MLP, train_zoo

LOSSES = {"rsa": losses.rsa, "cka": losses.cka}


def train_student(teacher, images, labels, *, loss, weight, epochs, batch_size, seed, lr=1e-3):
    """An MLP trained with cross-entropy + `weight` x `loss`(student, teacher) on the
    penultimate layers (`weight=0`: a plain MLP, the student's "before")."""
    student = MLP(rngs=nnx.Rngs(seed))
    optimizer = nnx.Optimizer(student, optax.adam(lr), wrt=nnx.Param)

    @nnx.jit
    def step(student, optimizer, x, y, target):
        def objective(student):
            out = student.features(x, train=True)
            ce = optax.softmax_cross_entropy_with_integer_labels(out["logits"], y).mean()
            return ce + weight * loss(out["penultimate"], target)

        value, grads = nnx.value_and_grad(objective)(student)
        optimizer.update(student, grads)
        return value

    targets = penultimate(teacher, images)  # the teacher is fixed: its features once
    rng = np.random.default_rng(seed)
    steps = len(images) // batch_size
    for _ in range(epochs):
        order = rng.permutation(len(images))[: steps * batch_size].reshape(steps, batch_size)
        for idx in order:
            step(student, optimizer, images[idx], labels[idx], targets[idx])
    return student


def penultimate(model, images, batch=500):
    return jnp.concatenate(
        [model.features(images[i : i + batch])["penultimate"] for i in range(0, len(images), batch)]
    )


def accuracy(model, images, labels) -> float:
    logits = jnp.concatenate([model(images[i : i + 500]) for i in range(0, len(images), 500)])
    return float(jnp.mean(jnp.argmax(logits, axis=1) == labels))


def main(
    epochs: int = 4,
    models: int = 3,
    samples: int = 500,
    weight: float = 1.0,
    batch_size: int = 128,
    train_size: int | None = None,
    out: str | None = None,
):
    """Train, distil, map. Returns a dict of the similarity matrix, the map, groups and numbers."""
    train, test = load_mnist("train", source="embedded"), load_mnist("test", source="embedded")
    images, labels = train.images[:train_size], train.labels[:train_size]
    held_out = test.images[:samples]
    cnns = train_zoo("cnn", models, epochs, (images, labels), key=1, batch_size=batch_size)
    mlps = train_zoo("mlp", models, epochs, (images, labels), key=2, batch_size=batch_size)
    teacher = cnns.model(0)
    train = functools.partial(
        train_student, teacher, images, labels, epochs=epochs, batch_size=batch_size
    )
    alone = [train(loss=losses.rsa, weight=0.0, seed=100 + s) for s in range(models)]
    students = {
        name: [train(loss=fn, weight=weight, seed=100 + s) for s in range(models)]
        for name, fn in LOSSES.items()
    }
    everyone = {f"CNN {i}": cnns.model(i) for i in range(models)}
    everyone |= {f"MLP {i}": mlps.model(i) for i in range(models)}
    everyone |= {f"MLP alone {i}": m for i, m in enumerate(alone)}
    for name, group in students.items():
        everyone |= {f"{name.upper()} student {i}": m for i, m in enumerate(group)}
    reps = {k: np.asarray(penultimate(m, held_out)) for k, m in everyone.items()}
    sim = np.asarray(jaxrsa.similarity_matrix(reps, measure="rsa"))
    fit = jaxrsa.mds(jaxrsa.to_dissimilarity(sim), key=jax.random.key(0))
    groups = [k.rsplit(" ", 1)[0].replace("MLP alone", "MLP") for k in reps]
    groups = [g if "student" in g else g + "s" for g in groups]
    teacher_rep = reps["CNN 0"]
    numbers = {
        "student-teacher rsa before": float(
            np.mean([jaxrsa.similarity(reps[f"MLP alone {i}"], teacher_rep) for i in range(models)])
        ),
        **{
            f"student-teacher rsa after ({name})": float(
                np.mean(
                    [
                        jaxrsa.similarity(reps[f"{name.upper()} student {i}"], teacher_rep)
                        for i in range(models)
                    ]
                )
            )
            for name in LOSSES
        },
        "test accuracy": {
            g: float(
                np.mean(
                    [
                        accuracy(m, test.images, test.labels)
                        for k, m in everyone.items()
                        if groups[list(reps).index(k)] == g
                    ]
                )
            )
            for g in dict.fromkeys(groups)
        },
    }
    numbers["mean rsa to the CNNs"] = {
        g: float(
            np.mean(
                [
                    sim[i, j]
                    for i, gi in enumerate(groups)
                    for j, gj in enumerate(groups)
                    if gi == g and gj == "CNNs" and i != j
                ]
            )
        )
        for g in dict.fromkeys(groups)
    }
    if out:
        extra = {g: f"acc {a:.3f}" for g, a in numbers["test accuracy"].items()}
        title = "MLP students distilled from a CNN (rsa, penultimate layer)"
        plot.save(plot.model_map(fit.embedding, groups, legend_extra=extra, title=title), out)
    return {"similarity": sim, "embedding": np.asarray(fit.embedding), "groups": groups} | numbers


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--models", type=int, default=3)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--weight", type=float, default=1.0)
    p.add_argument("--out", default="distill.png")
    a = p.parse_args()
    result = main(a.epochs, a.models, a.samples, a.weight, out=a.out)
    for key in ("similarity", "embedding", "groups"):
        result.pop(key)
    for key, value in result.items():
        print(f"{key}: {value}")
