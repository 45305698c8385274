"""Benchmark: jaxrsa.mds (SMACOF in JAX) against scikit-learn's MDS on the same matrices.

Data: Euclidean distances of m random 10-D points plus symmetric Gaussian noise (10% of the
mean distance), embedded in 2-D: no exact solution, so runs go to many iterations. Both sides
get n_init = 4, max_iter = 300, eps = 1e-6 (the same stopping rule). scikit-learn starts every
run at random (``init="random"``); jaxrsa uses its default (``init="classical"``: the first run
from the Torgerson solution, the others random), or ``--init random``. Stress-1 of both is
recomputed here in float64 from the embeddings: sqrt(sum_{i<j} (d - delta)^2 / sum delta^2).

jaxrsa times are the minimum over ``--repeats`` calls after a warm-up call (which compiles; its
time is reported as ``first_call_s``); scikit-learn (no compilation) is timed ``--sk-repeats``
times. ``--restarts`` adds lines timing restarts run by ``vmap`` against ``lax.map`` (the choice
``jaxrsa.mds`` makes by size). One JSON line per case on stdout.

    python -m benchmarks.bench_mds [--sizes 500 1000 2000] [--dtypes float32 float64]

Two CPU cores are easily disturbed by other processes: ``loadavg`` is recorded with each line;
trust only ratios from a quiet machine.
"""

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # float64 cases; float32 inputs stay float32

import jax.numpy as jnp  # noqa: E402
import sklearn  # noqa: E402
from sklearn.manifold import MDS  # noqa: E402

import jaxrsa  # noqa: E402
from jaxrsa._mds import _mds  # noqa: E402

N_COMPONENTS, N_INIT, MAX_ITER, EPS = 2, 4, 300, 1e-6


def make_dissimilarities(m: int, seed: int = 0, dim: int = 10, noise: float = 0.1) -> np.ndarray:
    """Float64 ``[m, m]``: distances of random ``dim``-D points plus symmetric noise."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(m, dim))
    sq = (p * p).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * p @ p.T, 0))
    n = rng.normal(scale=noise * d.mean(), size=(m, m))
    d = np.abs(d + (n + n.T) / 2)
    np.fill_diagonal(d, 0)
    return d


def stress_1(x: np.ndarray, delta: np.ndarray) -> float:
    """Kruskal stress-1 of embedding ``x`` for dissimilarities ``delta``, in float64."""
    x = np.asarray(x, np.float64)
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * x @ x.T, 0))
    np.fill_diagonal(d, 0)
    return float(np.sqrt(((d - delta) ** 2).sum() / (delta**2).sum()))


def time_jax(fn, repeats: int) -> tuple[float, float, object]:
    """(first-call seconds, min seconds over repeats after it, last result)."""
    t = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return first, best, out


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0]),
        "jax": jax.__version__,
        "sklearn": sklearn.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def bench_case(m: int, dtype: str, init: str, repeats: int, sk_repeats: int) -> dict:
    delta64 = make_dissimilarities(m)
    delta = jnp.asarray(delta64.astype(dtype))
    key = jax.random.key(0)

    def ours():
        return jaxrsa.mds(
            delta, N_COMPONENTS, n_init=N_INIT, max_iter=MAX_ITER, eps=EPS, init=init, key=key
        )

    loadavg = os.getloadavg()[0]
    first, t_ours, res = time_jax(ours, repeats)
    sk_times = []
    for _ in range(sk_repeats):
        est = MDS(
            n_components=N_COMPONENTS,
            metric="precomputed",
            metric_mds=True,
            n_init=N_INIT,
            init="random",
            max_iter=MAX_ITER,
            eps=EPS,
            random_state=0,
            normalized_stress=False,
        )
        t = time.perf_counter()
        x_sk = est.fit_transform(delta64)
        sk_times.append(time.perf_counter() - t)
    t_sk = min(sk_times)
    s1_ours, s1_sk = stress_1(res.embedding, delta64), stress_1(x_sk, delta64)
    return {
        "case": "mds_vs_sklearn",
        "m": m,
        "dtype": dtype,
        "n_components": N_COMPONENTS,
        "n_init": N_INIT,
        "max_iter": MAX_ITER,
        "eps": EPS,
        "init": init,
        "restarts": "vmap" if _mds.vectorize_restarts(N_INIT, m, dtype) else "lax.map",
        "jaxrsa_s": round(t_ours, 4),
        "jaxrsa_first_call_s": round(first, 3),
        "sklearn_s": round(t_sk, 3),
        "speedup": round(t_sk / t_ours, 2),
        "jaxrsa_stress_1": round(s1_ours, 7),
        "sklearn_stress_1": round(s1_sk, 7),
        "stress_1_ratio": round(s1_ours / s1_sk, 6),
        "jaxrsa_n_iter": int(res.n_iter),
        "sklearn_n_iter": int(est.n_iter_),
        "repeats": repeats,
        "sklearn_repeats": sk_repeats,
        "loadavg": round(loadavg, 2),
        **machine(),
    }


def bench_restarts(m: int, dtype: str, init: str, repeats: int) -> dict:
    """Restarts side by side (vmap) against one after another (lax.map), same starts."""
    delta = jnp.asarray(make_dissimilarities(m).astype(dtype))
    key = jax.random.key(0)
    saved = _mds.VMAP_RESTART_BYTES
    times = {}
    try:
        for mode, threshold in (("vmap", np.inf), ("lax.map", 0)):
            _mds.VMAP_RESTART_BYTES = threshold
            _mds._fit.clear_cache()
            fn = lambda: jaxrsa.mds(delta, N_COMPONENTS, n_init=N_INIT, init=init, key=key)  # noqa: E731
            times[mode] = time_jax(fn, repeats)[1]
    finally:
        _mds.VMAP_RESTART_BYTES = saved
        _mds._fit.clear_cache()
    return {
        "case": "restarts_vmap_vs_map",
        "m": m,
        "dtype": dtype,
        "n_init": N_INIT,
        "init": init,
        "vmap_s": round(times["vmap"], 4),
        "lax_map_s": round(times["lax.map"], 4),
        "vmap_over_map": round(times["vmap"] / times["lax.map"], 3),
        "loadavg": round(os.getloadavg()[0], 2),
        **machine(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--init", choices=["classical", "random"], default="classical")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sk-repeats", type=int, default=1)
    parser.add_argument("--restarts", action="store_true", help="also time vmap vs lax.map")
    args = parser.parse_args(argv)
    for m in args.sizes:
        for dtype in args.dtypes:
            line = bench_case(m, dtype, args.init, args.repeats, args.sk_repeats)
            print(json.dumps(line), flush=True)
            if args.restarts:
                print(json.dumps(bench_restarts(m, dtype, args.init, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
