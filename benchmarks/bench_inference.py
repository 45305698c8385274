"""Cost of a permutation null and a bootstrap interval, as a multiple of one similarity matrix.

    python -m benchmarks.bench_inference [--m 16] [--n 500] [--d 128] [--replicates 1000]

For each measure: the time of one `similarity_matrix` call, of `permutation_test` with
`--replicates` permutations and of `bootstrap` with as many resamples, on the same ReLU
activations; one JSON line each with the ratio to the single call (naive recomputation of every
replicate would be about `--replicates` times). Times are minima over repeats after a warm-up
(compilation; one chunk of replicates compiles the program that the full run uses); the matmul
rate of the machine is recorded in the same run.
"""

import argparse
import functools

import jax
import numpy as np

import jaxrsa
from benchmarks._common import best_time, emit, log, machine, matmul_gflops
from jaxrsa._inference._replicates import MAX_CHUNK


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--replicates", type=int, default=1000)
    p.add_argument("--measures", nargs="+", default=["rsa", "cka", "rsa_pearson"])
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(args.n, 32)).astype(np.float32)
    reps = np.stack(
        [np.maximum(shared @ rng.normal(size=(32, args.d)).astype(np.float32), 0)
         + 0.5 * np.abs(rng.normal(size=(args.n, args.d))).astype(np.float32)
         for _ in range(args.m)]
    )  # fmt: skip
    gflops = matmul_gflops()
    info = machine()
    key = jax.random.key(0)
    warm = min(args.replicates, MAX_CHUNK)  # compiles the same chunk program as the full run

    def permutation(name, count):
        return jaxrsa.permutation_test(reps, measure=name, n_permutations=count, key=key).p_value

    def bootstrap(name, count):
        return jaxrsa.bootstrap(reps, measure=name, n_resamples=count, key=key).low

    for name in args.measures:
        one = best_time(
            functools.partial(jaxrsa.similarity_matrix, reps, measure=name), args.repeats
        )
        times = []
        for method in (permutation, bootstrap):
            jax.block_until_ready(method(name, warm))
            run = functools.partial(method, name, args.replicates)
            times.append(best_time(run, args.repeats, warmup=0))
        perm, boot = times
        log(f"{name}: one {one:.3f}s, permutation {perm:.2f}s, bootstrap {boot:.2f}s")
        for case, t in [("permutation_test", perm), ("bootstrap", boot)]:
            emit({
                "benchmark": "inference", "case": case, "measure": name, "m": args.m,
                "n": args.n, "d": args.d, "replicates": args.replicates,
                "seconds": round(t, 4), "one_call_seconds": round(one, 4),
                "ratio_to_one_call": round(t / one, 1),
                "ms_per_replicate": round(1000 * t / args.replicates, 3),
                "matmul_gflops": round(gflops, 1), **info,
            })  # fmt: skip


if __name__ == "__main__":
    main()
