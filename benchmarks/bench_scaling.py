"""Scaling of all-pairs: time and peak memory against m, devices, and a memory budget.

    python -m benchmarks.bench_scaling [--ms 64 256 1024 4096] [--measures rsa cka]
    python -m benchmarks.bench_scaling --huge        # m = 10,000 under a 4 GiB budget
    python -m benchmarks.bench_scaling --devices 4   # 4 host devices against 1, same data

Each case runs in a fresh process (so its peak resident memory, VmHWM, is its own) on lazily
generated activations: model i is computed from a seed when the engine asks for it, so the
m x n x d inputs are never in memory at once, as with memory-mapped files.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import numpy as np

from benchmarks._common import emit, log, machine


class SyntheticModels(Sequence):
    """m models' `[n, d]` float32 activations, each generated on access from (seed, i)."""

    def __init__(self, m: int, n: int, d: int, seed: int = 0):
        self.m, self.n, self.d, self.seed = m, n, d, seed
        self.latent = np.random.default_rng(seed).standard_normal((n, 16), np.float32)

    def __len__(self) -> int:
        return self.m

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self.m:
            raise IndexError(i)
        rng = np.random.default_rng((self.seed, i))
        mix = rng.standard_normal((16, self.d), np.float32)
        noise = rng.standard_normal((self.n, self.d), np.float32)
        return np.tanh(self.latent @ mix) + 0.5 * noise


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def run_case(m: int, n: int, d: int, measure: str, budget: int | None, repeats: int) -> dict:
    """One case in this process: time (min over repeats after a warm-up) and peak memory."""
    import jax

    import jaxrsa

    reps = SyntheticModels(m, n, d)
    small = SyntheticModels(min(m, 64), n, d)  # compiles the chunk sizes the full run uses
    jaxrsa.similarity_matrix(small, measure=measure, memory_budget=budget).block_until_ready()
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = jaxrsa.similarity_matrix(reps, measure=measure, memory_budget=budget)
        result.block_until_ready()
        best = min(best, time.perf_counter() - start)
    return {
        "bench": "scaling",
        "measure": measure,
        "m": m,
        "n": n,
        "d": d,
        "memory_budget": budget,
        "seconds": round(best, 3),
        "peak_rss_gib": round(peak_rss_bytes() / 2**30, 3),
        "devices": jax.device_count(),
        "checksum": float(np.asarray(result, np.float64).sum()),
    }


def subprocess_case(args: list[str], devices: int = 1) -> dict:
    env = dict(os.environ)
    if devices > 1:
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
        )
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_scaling", "--case", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"case {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ms", type=int, nargs="+", default=[64, 256, 1024, 4096])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--measures", nargs="+", default=["rsa", "cka"])
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--budget", type=int, default=None)
    p.add_argument("--huge", action="store_true", help="m = 10,000, rsa, 4 GiB budget")
    p.add_argument("--devices", type=int, default=0, help="compare N host devices with 1")
    p.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--m", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.case:
        print(
            json.dumps(
                run_case(args.m, args.n, args.d, args.measures[0], args.budget, args.repeats)
            )
        )
        return
    emit({"bench": "scaling_machine"} | machine())

    def case(m, measure, budget=None, devices=1, repeats=args.repeats):
        extra = [] if budget is None else ["--budget", str(budget)]
        log(f"scaling: m={m} {measure} budget={budget} devices={devices} ...")
        return subprocess_case(
            [
                f"--m={m}",
                f"--n={args.n}",
                f"--d={args.d}",
                "--measures",
                measure,
                "--repeats",
                str(repeats),
                *extra,
            ],
            devices,
        )

    if args.devices:
        for measure in args.measures:
            one = case(args.ms[0], measure)
            many = case(args.ms[0], measure, devices=args.devices)
            emit(
                many
                | {
                    "one_device_s": one["seconds"],
                    "speedup_vs_one_device": round(one["seconds"] / many["seconds"], 2),
                    "checksum_diff": abs(one["checksum"] - many["checksum"]),
                }
            )
        return
    if args.huge:
        base = case(1024, "rsa", budget=4 * 2**30)
        huge = case(10_000, "rsa", budget=4 * 2**30)
        predicted = base["seconds"] * (10_000 / 1024) ** 2
        emit(
            huge
            | {
                "m1024_s": base["seconds"],
                "predicted_s": round(predicted, 1),
                "ratio_to_predicted": round(huge["seconds"] / predicted, 3),
            }
        )
        return
    for measure in args.measures:
        for m in args.ms:
            emit(case(m, measure, budget=args.budget))


if __name__ == "__main__":
    main()
