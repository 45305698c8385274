"""All pairs of the ReSi / netrep / platonic-rep / ENSD measures and rsatoolbox's comparators:
jaxrsa against a double loop of each reference implementation's own computation, in one run.

    python -m benchmarks.bench_measures [--m 64 --n 1000 --d 128] [--peer-pairs 40]
                                        [--only gulp cknna ...] [--dtype float64]

The peers are ports (NumPy, SciPy, scikit-learn; no torch) that follow each reference step by
step: ReSi (mklabunde/resi, `repsim/measures/*.py`), netrep's `LinearMetric` and
`PermutationMetric` (ahwillia/netrep), platonic-rep's `cknna` and `cycle_knn` (its features
L2-normalized as in its `measure_alignment.py`), ENSD (camillerb/ENSD), and rsatoolbox's own
`compare` for its comparators (`RSATOOLBOX`; the `bench` extra installs it). They are kept here,
outside the package and the tests, to time the loop a user runs today and to compute once the
reference numbers that `tests/test_measures_more.py` pins. Where jaxrsa fixes a reference's bug
by default (RSMNormDifference's norm, CKNNA's 1e-6), the jaxrsa measure compared is the one with
the reference's behaviour (`peer_measure`).

Prints one JSON line per measure: jaxrsa's time from activations to the m x m matrix, the
peer's (`--peer-pairs k` times k pairs and extrapolates to all m (m + 1) / 2, or m^2 for
asymmetric measures and for rsatoolbox, whose `compare` fills the square), the speed-up and the
largest difference on the pairs the peer computed. jaxrsa's time is the best of `--repeats`
calls after the call that compiles (and gives the values compared).
"""

import argparse
import time

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.spatial.distance
import sklearn.metrics
import sklearn.neighbors

# ---------------------------------------------------------------- ports of the references


def _dist(x, metric="euclidean"):
    return sklearn.metrics.pairwise_distances(x, metric=metric)


def _double_center(a):
    return a - a.mean(axis=0, keepdims=True) - a.mean(axis=1, keepdims=True) + a.mean()


def _centre(x):
    return x - x.mean(axis=0, keepdims=True)


def _pad(x, y):
    d = max(x.shape[1], y.shape[1])
    return (np.pad(x, ((0, 0), (0, d - x.shape[1]))), np.pad(y, ((0, 0), (0, d - y.shape[1]))))


def resi_distance_correlation(x, y):
    a, b = _double_center(_dist(x)), _double_center(_dist(y))
    return float(np.sqrt((a * b).mean() / np.sqrt((a * a).mean() * (b * b).mean())))


def resi_eigenspace_overlap_score(x, y):
    u = np.linalg.svd(x)[0][:, : np.linalg.matrix_rank(x)]
    v = np.linalg.svd(y)[0][:, : np.linalg.matrix_rank(y)]
    return float(np.linalg.norm(u.T @ v, "fro") ** 2 / max(x.shape[1], y.shape[1]))


def resi_linear_regression(x, y):
    x, y = _centre(x), _centre(y)
    basis = y @ scipy.linalg.inv(scipy.linalg.sqrtm(y.T @ y))
    return float(np.linalg.norm(basis.T @ x, "fro") ** 2 / np.linalg.norm(x, "fro") ** 2)


def resi_gulp(x, y, lmbda=0.0):
    n = x.shape[0]

    def rep(z):  # features x examples, centred, scaled to ||.||_F^2 = n
        z = z.T - z.T.mean(axis=1, keepdims=True)
        return np.sqrt(n) * z / np.linalg.norm(z)

    a, b = rep(x), rep(y)

    def inverse(z):
        ev, vec = np.linalg.eigh(z @ z.T)
        ev = (ev + np.abs(ev)) / (2 * n)
        if lmbda > 0:
            inv = np.where(ev > 0, 1 / (ev + lmbda), 1 / lmbda)
        else:
            inv = np.where(ev > 0, 1 / np.where(ev > 0, ev, 1), 0)
        return ev, vec, inv

    ea, va, ia = inverse(a)
    eb, vb, ib = inverse(b)
    cov = a @ b.T / n
    left = np.diag(np.sqrt(ia)) @ va.T
    t3 = np.trace(left @ cov @ (vb @ np.diag(ib) @ vb.T) @ cov.T @ left.T)
    return float(np.sum((ea * ia) ** 2) + np.sum((eb * ib) ** 2) - 2 * t3)


def _neighbours(x, k):
    nn = sklearn.neighbors.NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(x)
    return nn.kneighbors(x)[1][:, 1:]


def resi_jaccard_similarity(x, y, k=10):
    a, b = _neighbours(x, k), _neighbours(y, k)
    return float(
        np.mean([len(set(p) & set(q)) / len(set(p) | set(q)) for p, q in zip(a, b, strict=True)])
    )


def resi_rank_similarity(x, y, k=10):
    a, b = _neighbours(x, k), _neighbours(y, k)
    scores = []
    for p, q in zip(a, b, strict=True):
        both = set(p) & set(q)
        if not both:
            scores.append(0.0)
            continue
        total = 0.0
        for j in both:
            rp, rq = np.flatnonzero(p == j)[0] + 1, np.flatnonzero(q == j)[0] + 1
            total += 2 / ((1 + abs(rp - rq)) * (rp + rq))
        scores.append(total / sum(1 / t for t in range(1, len(both) + 1)))
    return float(np.mean(scores))


def resi_second_order_cosine_similarity(x, y, k=10):
    a, b = _neighbours(x, k), _neighbours(y, k)
    dx, dy = _dist(x, "cosine"), _dist(y, "cosine")
    values = []
    for i, (p, q) in enumerate(zip(a, b, strict=True)):
        union = list(set(p) | set(q))
        values.append(1 - scipy.spatial.distance.cosine(dx[i, union], dy[i, union]))
    return float(np.mean(values))


def resi_rsm_norm_difference(x, y):  # ReSi's ord=2 of the full matrices: the spectral norm
    return float(np.linalg.norm(_dist(x) - _dist(y), ord=2))


def resi_magnitude_difference(x, y):
    return abs(float(np.linalg.norm(x.mean(axis=0)) - np.linalg.norm(y.mean(axis=0))))


def resi_concentricity_difference(x, y):
    def c(z):
        return (1 - _dist(np.vstack([z, z.mean(axis=0)]), "cosine")[:-1, -1]).mean()

    return float(abs(c(x) - c(y)))


def resi_uniformity_difference(x, y):
    def u(z):
        return np.log(np.exp(-2 * _dist(z, "sqeuclidean")).sum() / z.shape[0] ** 2)

    return float(abs(u(x) - u(y)))


def _correlations(x, y):
    x, y = _centre(x), _centre(y)
    return 1 - sklearn.metrics.pairwise_distances(x.T, y.T, metric="cosine")


def resi_hard_correlation_match(x, y):
    c = _correlations(x, y)
    rows, cols = scipy.optimize.linear_sum_assignment(c, maximize=True)
    return float(c[rows, cols].mean())


def resi_soft_correlation_match(x, y):
    c = _correlations(x, y)
    return float((c.max(axis=1).mean() + c.max(axis=0).mean()) / 2)


def resi_aligned_cosine_similarity(x, y):
    x, y = _pad(x, y)
    q = scipy.linalg.orthogonal_procrustes(x, y)[0]
    xa = x @ q
    used = [i for i in range(len(x)) if np.any(xa[i]) and np.any(y[i])]
    return float(
        np.mean([xa[i] @ y[i] / (np.linalg.norm(xa[i]) * np.linalg.norm(y[i])) for i in used])
    )


def resi_permutation_procrustes(x, y):
    x, y = _pad(x, y)
    rows, cols = scipy.optimize.linear_sum_assignment(x.T @ y, maximize=True)
    return float(np.linalg.norm(x[:, rows] - y[:, cols], "fro"))


def _procrustes_distance(x, y):
    x, y = _pad(x, y)
    nuc = scipy.linalg.orthogonal_procrustes(x, y)[1]
    return float(np.sqrt(max(0.0, -2 * nuc + np.sum(x * x) + np.sum(y * y))))


def resi_orthogonal_angular_shape_metric_centered(x, y):
    x, y = _pad(_centre(x), _centre(y))
    x, y = x / np.linalg.norm(x), y / np.linalg.norm(y)
    q = scipy.linalg.orthogonal_procrustes(x, y)[0]
    return float(np.arccos(np.clip(np.trace(q.T @ x.T @ y), -1.0, 1.0)))


def resi_orthogonal_procrustes_centered_and_normalized(x, y):
    x, y = _centre(x), _centre(y)
    return _procrustes_distance(x / np.linalg.norm(x), y / np.linalg.norm(y))


def resi_procrustes_size_and_shape_distance(x, y):
    return _procrustes_distance(_centre(x), _centre(y))


def _netrep_whiten(x, alpha, tol=1e-7):
    if alpha > 1 - tol:
        return x
    lam, v = np.linalg.eigh(x.T @ x)
    lam = np.maximum(lam, tol)
    d = alpha + (1 - alpha) * lam ** (-1 / 2)
    new_var = np.sum(alpha**2 * lam + 2 * alpha * (1 - alpha) * lam**0.5 + (1 - alpha) ** 2)
    d = d * np.sqrt(np.sum(lam) / new_var)
    return x @ ((v * d[None, :]) @ v.T)


def _angular(a, b):
    return float(np.arccos(np.clip(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


def netrep_linear_metric(x, y, alpha=1.0, score="angular"):
    x, y = _pad(x, y)
    xw, yw = _netrep_whiten(_centre(x), alpha), _netrep_whiten(_centre(y), alpha)
    u, _, vt = np.linalg.svd(xw.T @ yw)
    a, b = xw @ u, yw @ vt.T
    return _angular(a, b) if score == "angular" else float(np.linalg.norm(a - b))


def netrep_permutation_metric(x, y):
    x, y = _pad(_centre(x), _centre(y))
    rows, cols = scipy.optimize.linear_sum_assignment(x.T @ y, maximize=True)
    return _angular(x[:, rows], y[:, cols])


def _unit_rows(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _platonic_knn(f, k):
    s = f @ f.T
    np.fill_diagonal(s, -1e8)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def _hsic_unbiased(k, g):
    m = k.shape[0]
    k, g = k.copy(), g.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(g, 0)
    value = (
        np.sum(k * g.T) + np.sum(k) * np.sum(g) / ((m - 1) * (m - 2)) - 2 * np.sum(k @ g) / (m - 2)
    )
    return value / (m * (m - 3))


def platonic_cknna(x, y, k=10):
    a, b = _unit_rows(x), _unit_rows(y)
    n = len(a)
    kk, ll = a @ a.T, b @ b.T

    def sim(p, q):
        masks = []
        for g in (p, q):
            h = g.copy()
            np.fill_diagonal(h, -np.inf)
            idx = np.argsort(-h, axis=1, kind="stable")[:, :k]
            mask = np.zeros((n, n))
            np.put_along_axis(mask, idx, 1.0, axis=1)
            masks.append(mask)
        mask = masks[0] * masks[1]
        return _hsic_unbiased(mask * p, mask * q)

    return float(sim(kk, ll) / (np.sqrt(sim(kk, kk) * sim(ll, ll)) + 1e-6))


def platonic_cycle_knn(x, y, k=10):
    ka, kb = _platonic_knn(_unit_rows(x), k), _platonic_knn(_unit_rows(y), k)
    n = len(ka)
    return float(np.mean((ka[kb] == np.arange(n)[:, None, None]).reshape(n, -1).max(axis=1)))


def ensd_reference(x, y):  # camillerb/ENSD on centred data (features x examples)
    a, b = _centre(x).T, _centre(y).T

    def pr(z):
        return np.trace(z.T @ z) ** 2 / np.trace(z.T @ z @ z.T @ z)

    ka, kb = a.T @ a, b.T @ b
    return float(pr(a) * pr(b) * np.trace((ka / np.trace(ka)) @ (kb / np.trace(kb))))


REFERENCES = {
    "distance_correlation": resi_distance_correlation,
    "eigenspace_overlap_score": resi_eigenspace_overlap_score,
    "linear_regression": resi_linear_regression,
    "gulp": resi_gulp,
    "jaccard_similarity": resi_jaccard_similarity,
    "rank_similarity": resi_rank_similarity,
    "second_order_cosine_similarity": resi_second_order_cosine_similarity,
    "rsm_norm_difference": resi_rsm_norm_difference,
    "magnitude_difference": resi_magnitude_difference,
    "concentricity_difference": resi_concentricity_difference,
    "uniformity_difference": resi_uniformity_difference,
    "hard_correlation_match": resi_hard_correlation_match,
    "soft_correlation_match": resi_soft_correlation_match,
    "aligned_cosine_similarity": resi_aligned_cosine_similarity,
    "permutation_procrustes": resi_permutation_procrustes,
    "orthogonal_angular_shape_metric_centered": resi_orthogonal_angular_shape_metric_centered,
    "orthogonal_procrustes_centered_and_normalized": (
        resi_orthogonal_procrustes_centered_and_normalized
    ),
    "procrustes_size_and_shape_distance": resi_procrustes_size_and_shape_distance,
    "shape_metric": netrep_linear_metric,
    "shape_metric_alpha_0.5": lambda x, y: netrep_linear_metric(x, y, alpha=0.5),
    "permutation_metric": netrep_permutation_metric,
    "cknna": platonic_cknna,
    "cycle_knn": platonic_cycle_knn,
    "ensd": ensd_reference,
}


# rsatoolbox's comparators, as a user calls them: `calc_rdm` of every model, then one
# `compare(rdms, rdms, method)` (all m^2 pairs). tau-b, tau-a and bures loop over pairs in
# rsatoolbox (`_all_combinations`), so they are timed on a few rows and scaled to m rows; the
# others are vectorised over RDMs and timed whole.
RSATOOLBOX = {
    "rsa_kendall": "tau-b",
    "rsa_tau_a": "tau-a",
    "rsa_rho_a": "rho-a",
    "rsa_corr_cov": "corr_cov",
    "rsa_cosine_cov": "cosine_cov",
    "rsa_bures": "bures",
}
LOOPED = ("tau-b", "tau-a", "bures")


def rsatoolbox_peer(reps: np.ndarray, method: str, peer_pairs: int):
    """Seconds for all m x m pairs, the row indices timed, and their values `[rows, m]`."""
    import rsatoolbox

    m = len(reps)
    start = time.perf_counter()
    data = [rsatoolbox.data.Dataset(x.astype(np.float64)) for x in reps]
    rdms = rsatoolbox.rdm.calc_rdm(data, method="correlation")
    calc = time.perf_counter() - start
    rows = np.arange(max(1, -(-peer_pairs // m)) if method in LOOPED else m)
    start = time.perf_counter()
    values = rsatoolbox.rdm.compare(rdms[rows], rdms, method)
    compare = (time.perf_counter() - start) * m / len(rows)
    return calc + compare, rows, values


def peer_measure(name: str):
    """The jaxrsa measure that reproduces the peer `name` (its reference's behaviour)."""
    from jaxrsa import measures

    special = {
        "rsm_norm_difference": measures.RSMNormDifference(norm="spectral"),
        "cknna": measures.CKNNA(eps=1e-6),
        "shape_metric_alpha_0.5": measures.ShapeMetric(alpha=0.5),
    }
    return special.get(name, name)


# ---------------------------------------------------------------- the benchmark


def activations(m: int, n: int, d: int, seed: int = 0) -> np.ndarray:
    """m models `[m, n, d]`: shared latent structure plus noise (float32)."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 32), np.float32)
    mix = rng.standard_normal((m, 32, d), np.float32)
    noise = 0.5 * rng.standard_normal((m, n, d), np.float32)
    return np.tanh(np.einsum("nl,mld->mnd", latent, mix)) + noise


def main(argv=None) -> None:
    import jax

    import jaxrsa
    from benchmarks._common import best_time, emit, log, machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--m", type=int, default=64)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--peer-pairs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument(
        "--dtype", choices=("float32", "float64"), default="float32",
        help="float64 (JAX's x64): the differences from the references in double precision",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    reps = activations(args.m, args.n, args.d).astype(args.dtype)
    info = machine()
    rng = np.random.default_rng(1)
    for name in args.only or [*REFERENCES, *RSATOOLBOX]:
        measure = jaxrsa.measures.get(peer_measure(name))
        log(f"{name} ...")
        sim = np.asarray(jaxrsa.similarity_matrix(reps, measure=measure))
        seconds = best_time(
            lambda m=measure: jaxrsa.similarity_matrix(reps, measure=m),
            repeats=args.repeats,
            warmup=0,
        )
        if name in RSATOOLBOX:
            peer_seconds, rows, values = rsatoolbox_peer(reps, RSATOOLBOX[name], args.peer_pairs)
            chosen = [(i, j) for i in rows for j in range(args.m)]
            errors = {
                (i, j): abs(sim[i, j] - values[r, j])
                for r, i in enumerate(rows)
                for j in range(args.m)
            }
        else:
            everything = [(i, j) for i in range(args.m) for j in range(args.m)]
            pairs = [(i, j) for i, j in everything if i <= j] if measure.symmetric else everything
            picked = rng.choice(len(pairs), min(args.peer_pairs, len(pairs)), False)
            chosen = [pairs[t] for t in picked]
            start = time.perf_counter()
            peer = [
                REFERENCES[name](reps[i].astype(np.float64), reps[j].astype(np.float64))
                for i, j in chosen
            ]
            peer_seconds = (time.perf_counter() - start) * len(pairs) / len(chosen)
            errors = {(i, j): abs(sim[i, j] - v) for (i, j), v in zip(chosen, peer, strict=True)}
        distinct = [e for (i, j), e in errors.items() if i != j]
        emit(
            {
                "benchmark": "measures",
                "measure": name,
                "m": args.m,
                "n": args.n,
                "d": args.d,
                "dtype": str(reps.dtype),
                "gram_type": isinstance(measure, jaxrsa.measures.GramMeasure),
                "jaxrsa_s": round(seconds, 4),
                "peer_s": round(peer_seconds, 4),
                "peer_pairs_timed": len(chosen),
                "speedup": round(peer_seconds / seconds, 2),
                "max_abs_diff": float(max(errors.values())),
                # identical models (i == j) sit where arccos and sqrt amplify rounding
                "max_abs_diff_distinct": float(max(distinct)) if distinct else None,
                **info,
                "load_1min": machine()["load_1min"],  # after this measure's runs
                "jax_backend": jax.default_backend(),
            }
        )


if __name__ == "__main__":
    main()
