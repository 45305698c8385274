"""Scale in examples: linear CKA at n up to 100,000, default RSA at n = 20,000-50,000 under a
budget, and minibatch CKA over the Fashion-MNIST test set. One JSON line per case.

    python -m benchmarks.bench_examples_scale [--ns 10000 50000 100000] [--ms 2 16]
    python -m benchmarks.bench_examples_scale --tiny      # check that every case runs

Each case runs in a fresh process, so its peak resident memory (VmHWM) is its own. CKA cases
time jaxrsa's `similarity_matrix(..., "cka")` against a six-line NumPy feature-space CKA and the
same six lines jitted in JAX, on the same float32 activations (d = 256), and report the
activations' own size and the rate of the work needed (m (m + 1) / 2 cross-covariances of
2 n d^2 flops) beside the machine's float32 matmul rate (XLA and NumPy's BLAS, measured first
in the same run): the goals are <= 1.2x the jitted JAX time and peak memory <= 2x the
activations. RSA cases (m = 8, d = 64, 2 GiB budget) report completion, time and peak memory, or
the engine's error. The minibatch case streams all layers of two CNNs (different seeds, untrained
weights unless --epochs) over the 10,000 test images. JAX CKA cases are timed after one call
that compiles; NumPy compiles nothing, and an RSA call takes minutes at these sizes, so those are
timed from their first call (RSA's time includes its compilation).
"""

import argparse
import functools
import json
import subprocess
import sys
import time

import numpy as np

from benchmarks._common import emit, log, machine, matmul_gflops, numpy_matmul_gflops
from benchmarks.bench_scaling import peak_rss_bytes


def activations(m: int, n: int, d: int, seed: int = 0) -> np.ndarray:
    """m related float32 models `[m, n, d]`: a shared latent, per-model mixing, noise."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 32), np.float32)
    out = np.empty((m, n, d), np.float32)
    for i in range(m):
        out[i] = np.tanh(latent @ rng.standard_normal((32, d), np.float32))
        out[i] += 0.5 * rng.standard_normal((n, d), np.float32)
    return out


def numpy_cka(reps: np.ndarray) -> np.ndarray:
    """The six-line feature-space linear CKA a user would write, all pairs."""
    xc = [x - x.mean(axis=0) for x in reps]
    hsic = np.array([[np.linalg.norm(b.T @ a) ** 2 for b in xc] for a in xc])
    own = np.sqrt(np.diag(hsic))
    return hsic / own[:, None] / own[None, :]


@functools.cache
def jax_cka():
    """The same six lines in JAX, jitted once (one program for all pairs)."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def cka(xs):
        xc = xs - xs.mean(axis=1, keepdims=True)
        cross = jnp.einsum("and,bne->abde", xc, xc, precision=jax.lax.Precision.HIGHEST)
        hsic = jnp.sum(cross * cross, axis=(2, 3))
        own = jnp.sqrt(jnp.diag(hsic))
        return hsic / own[:, None] / own[None, :]

    return cka


def timed(fn, repeats: int, warm_up: bool = True) -> tuple[float, object]:
    """Best of `repeats` calls, after one untimed call that compiles (where `warm_up`)."""
    if warm_up:
        fn()
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if hasattr(out, "block_until_ready"):
            out.block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best, out


def case_cka(n: int, m: int, d: int, who: str, repeats: int) -> dict:
    import jaxrsa

    reps = activations(m, n, d)
    fn = {
        "jaxrsa": lambda: jaxrsa.similarity_matrix(reps, measure="cka"),
        "numpy": lambda: numpy_cka(reps),
        "jax_jit": lambda: jax_cka()(reps),
    }[who]
    seconds, out = timed(fn, repeats, warm_up=who != "numpy")  # NumPy compiles nothing
    work = m * (m + 1) // 2 * 2 * n * d * d  # each pair's [d, d] cross-covariance, once
    return {
        "bench": "examples_scale",
        "case": "cka",
        "impl": who,
        "n": n,
        "m": m,
        "d": d,
        "seconds": round(seconds, 3),
        "gflops_of_needed_work": round(work / seconds / 1e9, 1),
        "peak_rss_gib": round(peak_rss_bytes() / 2**30, 3),
        "activations_gib": round(reps.nbytes / 2**30, 3),
        "checksum": float(np.asarray(out, np.float64).sum()),
    }


def case_rsa(n: int, m: int, d: int, budget: int, repeats: int) -> dict:
    import jaxrsa

    reps = activations(m, n, d)
    record = {"bench": "examples_scale", "case": "rsa", "n": n, "m": m, "d": d, "budget": budget}
    try:
        seconds, out = timed(
            lambda: jaxrsa.similarity_matrix(reps, measure="rsa", memory_budget=budget),
            repeats,
            warm_up=False,
        )
    except ValueError as error:
        return record | {"completed": False, "error": str(error)[:300]}
    return record | {
        "completed": True,
        "seconds_including_compilation": round(seconds, 3),
        "peak_rss_gib": round(peak_rss_bytes() / 2**30, 3),
        "checksum": float(np.asarray(out, np.float64).sum()),
    }


def case_minibatch(batch: int, epochs: int, images: int | None) -> dict:
    import jaxrsa
    from jaxrsa.data import load_fashion_mnist
    from jaxrsa.models import activations as layer_activations
    from jaxrsa.models import train_zoo

    record = {"bench": "examples_scale", "case": "minibatch_cka", "batch": batch}
    try:
        train, test = (load_fashion_mnist(s) for s in ("train", "test"))
    except FileNotFoundError as error:
        return record | {"skipped": f"Fashion-MNIST is not installed: {error}"[:300]}
    images = test.images[:images]
    zoo = train_zoo("cnn", 2, epochs, (train.images[:2000], train.labels[:2000]), key=0)
    names = [n for n in zoo.layer_names if n not in ("input", "penultimate")]
    models = [zoo.model(0), zoo.model(1)]

    def stream():
        for start in range(0, len(images) - batch + 1, batch):
            x = images[start : start + batch]
            acts = [layer_activations(mdl, x, names, batch_size=batch) for mdl in models]
            yield [a[name] for a in acts for name in names]

    start = time.perf_counter()
    out = jaxrsa.minibatch_cka(stream())
    seconds = time.perf_counter() - start
    return record | {
        "examples": len(images) // batch * batch,
        "layers": 2 * len(names),
        "epochs": epochs,
        "seconds_with_forward_passes": round(seconds, 3),
        "peak_rss_gib": round(peak_rss_bytes() / 2**30, 3),
        "checksum": float(np.asarray(out, np.float64).sum()),
    }


def in_subprocess(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_examples_scale", "--case", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"bench": "examples_scale", "args": args, "failed": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ns", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    p.add_argument("--ms", type=int, nargs="+", default=[2, 16])
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--rsa-ns", type=int, nargs="+", default=[20_000, 50_000])
    p.add_argument("--budget", type=int, default=2 * 2**30)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--images", type=int, default=None)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--tiny", action="store_true", help="small sizes: check every case runs")
    p.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.case:
        kind, *rest = a.case
        args = [int(v) if v.lstrip("-").isdigit() else v for v in rest]
        fn = {"cka": case_cka, "rsa": case_rsa, "minibatch": case_minibatch}[kind]
        print(json.dumps(fn(*args)))
        return
    if a.tiny:
        a.ns, a.ms, a.d, a.rsa_ns, a.images, a.batch = [300], [2, 3], 16, [200], 200, 50
    rates = {"xla_matmul_gflops": round(matmul_gflops(), 1),
             "numpy_matmul_gflops": round(numpy_matmul_gflops(), 1)}  # fmt: skip
    emit({"bench": "examples_scale_machine"} | machine() | rates)
    for n in a.ns:
        for m in a.ms:
            for who in ("jaxrsa", "jax_jit", "numpy"):
                log(f"cka n={n} m={m} {who} ...")
                emit(in_subprocess(["cka", str(n), str(m), str(a.d), who, str(a.repeats)]))
    for n in a.rsa_ns:
        log(f"rsa n={n} ...")
        emit(in_subprocess(["rsa", str(n), "8", "64", str(a.budget), str(a.repeats)]))
    images = str(a.images if a.images else 10_000)
    log("minibatch_cka ...")
    emit(in_subprocess(["minibatch", str(a.batch), str(a.epochs), images]))


if __name__ == "__main__":
    main()
