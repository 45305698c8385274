"""All-pairs CCA, SVCCA, Procrustes and CKA: jaxrsa against the NumPy/SciPy double loop, one run.

    python -m benchmarks.bench_alignment [--m 64 --n 2000 --widths 64 128 256]
                                         [--peer-pairs 200] [--blas-threads 1]

The peer is the loop a user writes today, as google/svcca and netrep do it: for every pair of
models (i <= j) centre both, then per pair a thin QR of each side and the singular values of
Qx^T Qy (CCA); an SVD reduction of each side to 99% of its variance first (SVCCA); the singular
values of Xn^T Yn (Procrustes: scipy.linalg.orthogonal_procrustes, which also forms the rotation;
`procrustes_svdvals` times a leaner loop that takes the singular values only, against the same
jaxrsa matrix); ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) (linear CKA). It runs in float64
on the same float32 activations. `--peer-pairs k` times k random pairs and
extrapolates to all m (m + 1) / 2 (recorded as `peer_pairs_timed`); agreement is checked on the
pairs the peer computed.

Prints one JSON line per measure: jaxrsa's time from activations to the m x m matrix (every model
prepared once, pairs in vmapped blocks), the peer's, the speed-up and the largest difference.
jaxlib's CPU LAPACK runs on SciPy's OpenBLAS, whose threads can thrash on a loaded machine:
`--blas-threads` caps the BLAS thread pools of NumPy and SciPy (hence of both sides) and is
recorded with the load average.
"""

import argparse
import contextlib
import os
import time

import numpy as np

import jaxrsa
from benchmarks._common import best_time, emit, log, machine

MEASURES = ("cca", "svcca", "procrustes", "procrustes_svdvals", "cka")
JAXRSA_NAME = {"procrustes_svdvals": "procrustes"}  # peer variants of one jaxrsa measure


def activations(m: int, n: int, widths, seed: int = 0) -> list[np.ndarray]:
    """m models of n examples, widths drawn from `widths`: shared latent structure plus noise."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 32), np.float32)
    out = []
    for d in rng.choice(widths, size=m):
        mix = rng.standard_normal((32, d), np.float32)
        out.append(np.tanh(latent @ mix) + 0.5 * rng.standard_normal((n, d), np.float32))
    return out


# ---------------------------------------------------------------- the peer: a double loop


def _centre(x):
    x = np.asarray(x, np.float64)
    return x - x.mean(axis=0)


def _cca(xc, yc):
    qx, qy = np.linalg.qr(xc)[0], np.linalg.qr(yc)[0]
    return np.linalg.svd(qx.T @ qy, compute_uv=False).mean()


def _svd_reduce(xc, variance=0.99):
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), variance)) + 1
    return xc @ vt[:k].T


def _procrustes(xc, yc):
    """scipy.linalg.orthogonal_procrustes on the normalized activations (narrower one padded)."""
    from scipy.linalg import orthogonal_procrustes

    xn, yn = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    d = max(xn.shape[1], yn.shape[1])
    xn = np.pad(xn, ((0, 0), (0, d - xn.shape[1])))
    yn = np.pad(yn, ((0, 0), (0, d - yn.shape[1])))
    return orthogonal_procrustes(xn, yn)[1]  # the sum of the singular values of xn^T yn


def _procrustes_svdvals(xc, yc):
    xn, yn = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    return np.linalg.svd(xn.T @ yn, compute_uv=False).sum()


def _cka(xc, yc):
    return np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


PEER = {
    "cca": _cca,
    "svcca": lambda xc, yc: _cca(_svd_reduce(xc), _svd_reduce(yc)),
    "procrustes": _procrustes,
    "procrustes_svdvals": _procrustes_svdvals,  # a leaner loop: singular values only
    "cka": _cka,
}


def peer(reps, name, pairs) -> tuple[float, dict]:
    """Seconds for `pairs` and their values; each pair starts from the raw activations."""
    fn = PEER[name]
    values = {}
    start = time.perf_counter()
    for i, j in pairs:
        values[i, j] = fn(_centre(reps[i]), _centre(reps[j]))
    return time.perf_counter() - start, values


def _blas_limit(threads):
    """Cap the BLAS pools of NumPy's and SciPy's OpenBLAS (jaxlib's LAPACK runs on the latter).

    threadpoolctl only sees loaded libraries: load both (a tiny SVD through jaxlib) first.
    """
    if threads is None:
        return contextlib.nullcontext()
    import jax.numpy as jnp
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    jnp.linalg.svd(jnp.eye(2)).S.block_until_ready()
    return threadpool_limits(limits=threads, user_api="blas")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--m", type=int, default=64)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--widths", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--measures", nargs="+", default=list(MEASURES), choices=MEASURES)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peer-pairs", type=int, default=None, help="time this many random pairs")
    p.add_argument("--blas-threads", type=int, default=None, help="cap NumPy/SciPy BLAS threads")
    p.add_argument("--skip-peer", action="store_true")
    args = p.parse_args(argv)
    with _blas_limit(args.blas_threads):
        run(args)


def run(args):
    info = machine()
    reps = activations(args.m, args.n, args.widths)
    widths = [r.shape[1] for r in reps]
    size = {
        "m": args.m,
        "n": args.n,
        "widths": sorted(set(widths)),
        "width_counts": [widths.count(w) for w in sorted(set(widths))],
        "dtype": "float32",
    }
    threads = {
        "blas_threads": args.blas_threads,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }
    emit({"bench": "alignment_setup", **size, **threads} | info)

    everything = [(i, j) for i in range(args.m) for j in range(i, args.m)]
    if args.peer_pairs is None or args.peer_pairs >= len(everything):
        pairs = everything
    else:
        pick = np.random.default_rng(1).choice(len(everything), args.peer_pairs, replace=False)
        pairs = [everything[k] for k in np.sort(pick)]

    ours = {}
    for name in args.measures:
        measure = JAXRSA_NAME.get(name, name)
        if measure not in ours:
            log(f"jaxrsa {measure} ...")
            seconds = best_time(
                lambda m=measure: jaxrsa.similarity_matrix(reps, measure=m), args.repeats
            )
            ours[measure] = (seconds, np.asarray(jaxrsa.similarity_matrix(reps, measure=measure)))
        seconds, matrix = ours[measure]
        record = {
            "bench": "alignment_allpairs",
            "measure": name,
            "jaxrsa_measure": measure,
            **size,
            "jaxrsa_s": round(seconds, 3),
        }
        if not args.skip_peer:
            log(f"peer {name} on {len(pairs)} pairs ...")
            peer_pairs_s, values = peer(reps, name, pairs)
            peer_s = peer_pairs_s * len(everything) / len(pairs)
            diff = max(abs(v - float(matrix[i, j])) for (i, j), v in values.items())
            record |= {
                "peer": f"numpy {np.__version__} / scipy float64 double loop (i <= j)",
                "peer_pairs_timed": len(pairs),
                "peer_pairs_total": len(everything),
                "peer_s": round(peer_s, 3),
                "speedup": round(peer_s / seconds, 1),
                "max_abs_diff": float(diff),
            }
        emit(record | threads | {"backend": info["backend"], "load_1min": machine()["load_1min"]})


if __name__ == "__main__":
    main()
