"""Zoo training: one vmapped program for all models against training them one by one.

    python -m benchmarks.bench_training [--models 4 --epochs 3 --batch-size 128]
                                        [--family mlp cnn] [--demo-epochs 5]

Data: the embedded MNIST subset (4,000 training, 1,000 held-out images). Architectures: the
`MLP` and `CNN` defaults (``hidden=(256, 128)``; ``channels=(16, 32), dense=128``). For each
family and strategy (``vmap``: `train_zoo`'s default; ``loop``: the same kernels one model at
a time) one JSON line with:

- ``compile_s``: the first call's extra time (compilation), from a 1-epoch warm-up run;
- ``epoch_s``: seconds per epoch of `train_zoo` (training, then evaluation of every model on
  the training and held-out sets), the minimum over the timed epochs;
- ``train_s``: seconds of the jitted training epoch of all models alone (vmapped, or one
  model after the other), the two strategies timed in alternation, minimum of 5;
- ``examples_per_s``: training examples per second over all models, from ``train_s``;
- on ``vmap`` lines, ``speedup_vs_loop`` of ``train_s`` and of ``epoch_s``.

A last line estimates the demo: both families' vmapped zoos, compilation included, for
``--demo-epochs`` epochs.
"""

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._common import emit, log, machine
from jaxrsa.data import load_mnist
from jaxrsa.models import _train, _zoo, train_zoo

ARCHITECTURES = {"mlp": {"hidden": (256, 128)}, "cnn": {"channels": (16, 32), "dense": 128}}


def time_zoo(family, strategy, args, train, test) -> dict:
    """Compile time and per-epoch time of `train_zoo` with `strategy`."""
    options = dict(key=0, batch_size=args.batch_size, strategy=strategy, **ARCHITECTURES[family])
    start = time.perf_counter()
    train_zoo(family, args.models, 1, train, test, **options)
    first = time.perf_counter() - start
    stamps = []
    start = time.perf_counter()
    zoo = train_zoo(
        family,
        args.models,
        args.epochs,
        train,
        test,
        callback=lambda epoch, metrics: stamps.append(time.perf_counter()),
        **options,
    )
    epoch_s = float(np.min(np.diff([start, *stamps])[1:]))  # the first includes set-up
    steps = len(train[1]) // args.batch_size
    return {
        "case": "train_zoo",
        "family": family,
        "architecture": ARCHITECTURES[family],
        "strategy": strategy,
        "n_models": args.models,
        "n_train": len(train[1]),
        "n_test": len(test[1]),
        "batch_size": args.batch_size,
        "steps_per_epoch": steps,
        "compile_s": round(first - epoch_s, 3),
        "epoch_s": round(epoch_s, 4),
        "test_accuracy": round(float(zoo.metrics["test_accuracy"][-1].mean()), 4),
    }, zoo


def time_training_kernels(zoo, args, train, repeats: int = 5) -> dict[str, float]:
    """Seconds of one training epoch of all models, vmapped and one by one, interleaved.

    The two are timed in alternation (minimum over `repeats`), so that a shared machine's
    load changes affect both alike.
    """
    state = _zoo._init_states(zoo.config)
    keys = zoo.config.model_keys
    run = functools.partial(
        _train.train_epoch,
        epoch=np.int32(1),
        images=jnp.asarray(train[0]),
        labels=jnp.asarray(train[1]),
        graphdef=zoo.graphdef,
        batch_size=args.batch_size,
        learning_rate=zoo.config.learning_rate,
    )
    singles = [jax.tree.map(lambda a, i=i: a[i], state) for i in range(args.models)]
    runs = {
        "vmap": lambda: run(state, keys, ensemble=True),
        "loop": lambda: [run(s, k, ensemble=False) for s, k in zip(singles, keys, strict=True)],
    }
    best = {name: float("inf") for name in runs}
    for fn in runs.values():  # compiled already; one warm run each
        jax.block_until_ready(fn())
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (>= 2)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--family", nargs="+", default=["mlp", "cnn"], choices=ARCHITECTURES)
    parser.add_argument("--demo-epochs", type=int, default=5)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first timed epoch includes set-up)")
    train = load_mnist("train", source="embedded")
    test = load_mnist("test", source="embedded")
    emit({"case": "machine", **machine()})
    # JAX's and XLA's one-off start-up costs, so that the first case's compile_s excludes them.
    train_zoo("mlp", 1, 1, (train[0][:8], train[1][:8]), key=0, batch_size=8, hidden=(4,))
    demo = 0.0
    for family in args.family:
        rows = {}
        for strategy in ("loop", "vmap"):
            log(f"{family} {strategy} ...")
            rows[strategy], zoo = time_zoo(family, strategy, args, train, test)
        steps = rows["vmap"]["steps_per_epoch"]
        for strategy, seconds in time_training_kernels(zoo, args, train).items():
            rows[strategy]["train_s"] = round(seconds, 4)
            rows[strategy]["examples_per_s"] = round(
                args.models * steps * args.batch_size / seconds, 1
            )
        for key in ("train_s", "epoch_s"):
            rows["vmap"][f"speedup_vs_loop_{key}"] = round(rows["loop"][key] / rows["vmap"][key], 2)
        for row in rows.values():
            emit(row)
        demo += rows["vmap"]["compile_s"] + args.demo_epochs * rows["vmap"]["epoch_s"]
    emit(
        {
            "case": "demo_estimate",
            "families": args.family,
            "n_models": args.models,
            "epochs": args.demo_epochs,
            "seconds": round(demo, 1),
        }
    )


if __name__ == "__main__":
    main()
