"""Chance level of every measure: its value for representations without example correspondence.

    python -m benchmarks.bench_chance [--sizes 200x64 1000x512] [--seeds 3]

Two ReLU representations of the same inputs (`relu(Z W1)`, `relu(Z W2 + noise)`, d features
each), the second with its examples shuffled: the pairing is destroyed, the marginal statistics
(non-negativity, sparsity, width) are kept. One JSON line per measure and size with the mean and
standard deviation over seeds, and the value of the same pair unshuffled for scale. An unbiased
measure has chance 0 (a distance: its value for unrelated models, shown as it is).
"""

import argparse

import numpy as np

import jaxrsa
from benchmarks._common import emit, log, machine
from jaxrsa import measures


def pair(rng, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    z = rng.normal(size=(n, 32))
    x = np.maximum(z @ rng.normal(size=(32, d)), 0.0)
    y = np.maximum(z @ rng.normal(size=(32, d)) + 2.0 * rng.normal(size=(n, d)), 0.0)
    return x, y


def chance(name: str, n: int, d: int, seeds: int) -> dict:
    shuffled, related = [], []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        x, y = pair(rng, n, d)
        shuffled.append(float(jaxrsa.similarity(x, y[rng.permutation(n)], name)))
        related.append(float(jaxrsa.similarity(x, y, name)))
    return {
        "chance": round(float(np.mean(shuffled)), 4),
        "chance_std": round(float(np.std(shuffled)), 4),
        "related": round(float(np.mean(related)), 4),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["200x64", "1000x512"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--measures", nargs="+", default=None)
    args = p.parse_args(argv)
    info = machine()
    for size in args.sizes:
        n, d = (int(v) for v in size.split("x"))
        for name in args.measures or measures.names():
            try:
                figures = chance(name, n, d, args.seeds)
            except ValueError as e:  # undefined at this size (e.g. CCA with n <= d)
                figures = {"error": str(e).splitlines()[0][:160]}
                log(f"{name} n={n} d={d}: {figures['error']}")
            emit({
                "benchmark": "chance", "measure": name, "n": n, "d": d, **figures,
                "larger_is_more_similar": measures.get(name).larger_is_more_similar,
                "seeds": args.seeds, **info,
            })  # fmt: skip


if __name__ == "__main__":
    main()
