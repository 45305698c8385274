"""Cost of a distillation loss: one jitted training step with and without it.

    python -m benchmarks.bench_losses [--batch 256 --repeats 5 --hidden 256 128]

The step is what `examples/distill.py` runs: an `MLP` student on a batch of uint8 MNIST-sized
images, Adam on softmax cross-entropy, plus (for the distillation rows) `jaxrsa.losses.rsa` or
`jaxrsa.losses.cka` between the student's penultimate layer and a fixed teacher's features of
the batch (width 128, as a CNN teacher's). One JSON line per loss: ``step_s`` (minimum over
repeats after a compiling warm-up), ``plain_s`` (the step without the loss, timed in the same
run) and their ``ratio``.
"""

import argparse
import functools

import numpy as np
import optax
from flax import nnx

from benchmarks._common import best_time, emit, log, machine
from jaxrsa import losses
from jaxrsa.models import MLP

LOSSES = {"none": None, "rsa": losses.rsa, "cka": losses.cka}


def make_step(loss, weight: float = 1.0):
    @nnx.jit
    def step(student, optimizer, x, y, target):
        def objective(student):
            out = student.features(x, train=True)
            value = optax.softmax_cross_entropy_with_integer_labels(out["logits"], y).mean()
            if loss is not None:
                value = value + weight * loss(out["penultimate"], target)
            return value

        value, grads = nnx.value_and_grad(objective)(student)
        optimizer.update(student, grads)
        return value

    return step


def main(batch: int = 256, repeats: int = 5, hidden=(256, 128), teacher_width: int = 128):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, batch)
    target = rng.standard_normal((batch, teacher_width)).astype(np.float32)
    times = {}
    for name, loss in LOSSES.items():
        student = MLP(tuple(hidden), rngs=nnx.Rngs(0))
        optimizer = nnx.Optimizer(student, optax.adam(1e-3), wrt=nnx.Param)
        run = functools.partial(make_step(loss), student, optimizer, x, y, target)
        log(f"timing the step with loss {name}")
        times[name] = best_time(run, repeats=repeats)
    records = []
    for name in ("rsa", "cka"):
        records.append(
            emit(
                {
                    "benchmark": "losses",
                    "loss": name,
                    "batch": batch,
                    "hidden": list(hidden),
                    "teacher_width": teacher_width,
                    "step_s": times[name],
                    "plain_s": times["none"],
                    "ratio": times[name] / times["none"],
                    **machine(),
                }
            )
        )
    return records


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    a = p.parse_args()
    main(a.batch, a.repeats, tuple(a.hidden))
