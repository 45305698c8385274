"""All-pairs RSA and CKA: jaxrsa against rsatoolbox on the same activations, in one run.

    python -m benchmarks.bench_rsa [--m 256 --n 1000 --d 512] [--skip-peer]

Prints one JSON line per case: the machine's float32 matmul rate; for each measure the time from
activations to the m x m matrix, the time and GFLOP/s of its matrix products alone (as a fraction
of the matmul rate); and rsatoolbox's `calc_rdm` + `compare` on the same data with the speed-up.
"""

import argparse
import importlib.metadata
import time

import numpy as np

import jaxrsa
from benchmarks._common import best_time, emit, log, machine, matmul_gflops
from jaxrsa import measures
from jaxrsa._pairwise import _engine, _layout, _plan

PEER_METHOD = {"rsa_pearson": "corr", "rsa_spearman": "spearman", "rsa_cosine": "cosine"}


def activations(m: int, n: int, d: int, seed: int = 0) -> np.ndarray:
    """m models of n examples: shared low-rank structure, per-model mixing and noise."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 32), np.float32)
    mix = rng.standard_normal((m, 32, d), np.float32)
    noise = rng.standard_normal((m, n, d), np.float32)
    return np.tanh(latent @ mix) + 0.5 * noise


def product_phase(reps: np.ndarray, measure) -> tuple[float, float]:
    """Seconds and FLOPs of the engine's block products alone (prepared features held)."""
    measure = measures.get(measure)
    job = _engine.job(measure, jaxrsa._inputs.as_reps(reps), None, None, None, None, "float32")
    blocks = [_engine.prepare_block(job, b) for b in job.plan.blocks]
    steps = _plan.schedule(job.plan, symmetric=True)
    flops = sum(
        2 * blocks[i].shape[0] * blocks[j].shape[0] * blocks[i].shape[1] for i, j, _ in steps
    )
    seconds = best_time(
        lambda: [_layout.block(job.measure, blocks[i], blocks[j], job.layout) for i, j, _ in steps]
    )
    return seconds, flops


def peer(reps: np.ndarray, methods) -> dict:
    import rsatoolbox

    data = [rsatoolbox.data.Dataset(x) for x in reps]
    start = time.perf_counter()
    rdms = rsatoolbox.rdm.calc_rdm(data, method="correlation")
    out = {"calc_rdm": time.perf_counter() - start}
    for method in methods:
        start = time.perf_counter()
        result = rsatoolbox.rdm.compare(rdms, rdms, method)
        out[method] = (time.perf_counter() - start, result)
    out["version"] = importlib.metadata.version("rsatoolbox")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=256)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--measures", nargs="+", default=["rsa", "rsa_pearson", "rsa_spearman", "cka"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-peer", action="store_true")
    args = p.parse_args(argv)

    info = machine()
    rate = matmul_gflops()
    emit({"bench": "matmul", "size": 4096, "dtype": "float32", "gflops": round(rate, 1)} | info)
    reps = activations(args.m, args.n, args.d)
    size = {"m": args.m, "n": args.n, "d": args.d, "dtype": "float32"}

    ours = {}
    for name in args.measures:
        log(f"jaxrsa {name} ...")
        seconds = best_time(
            lambda name=name: jaxrsa.similarity_matrix(reps, measure=name), repeats=args.repeats
        )
        ours[name] = (seconds, np.asarray(jaxrsa.similarity_matrix(reps, measure=name)))
        gemm_s, flops = product_phase(reps, name)
        emit(
            {
                "bench": "allpairs",
                "measure": name,
                **size,
                "jaxrsa_s": round(seconds, 3),
                "products_s": round(gemm_s, 3),
                "products_gflops": round(flops / gemm_s / 1e9, 1),
                "matmul_fraction": round(flops / gemm_s / 1e9 / rate, 3),
                "backend": info["backend"],
            }
        )

    if args.skip_peer:
        return
    wanted = [n for n in args.measures if n in PEER_METHOD]
    log("rsatoolbox ...")
    theirs = peer(reps, [PEER_METHOD[n] for n in wanted])
    for name in wanted:
        method = PEER_METHOD[name]
        peer_s = theirs["calc_rdm"] + theirs[method][0]
        diff = float(np.max(np.abs(theirs[method][1] - ours[name][1])))
        emit(
            {
                "bench": "allpairs_vs_peer",
                "measure": name,
                **size,
                "jaxrsa_s": round(ours[name][0], 3),
                "peer": f"rsatoolbox {theirs['version']}",
                "peer_calc_rdm_s": round(theirs["calc_rdm"], 3),
                "peer_compare_s": round(theirs[method][0], 3),
                "peer_s": round(peer_s, 3),
                "speedup": round(peer_s / ours[name][0], 1),
                "max_abs_diff": diff,
                "load_1min": machine()["load_1min"],
            }
        )


if __name__ == "__main__":
    main()
