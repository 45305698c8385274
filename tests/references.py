"""Independent float64 NumPy/SciPy references for every first- and second-order quantity.

Written from the definitions (DESIGN.md, the papers), sharing no code with jaxrsa.
"""

import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist, squareform

# ---------------------------------------------------------------- first order


def rdm(x, metric):
    return squareform(pdist(np.asarray(x, np.float64), metric))


def rbf_gram(x, threshold=0.5):
    """Kornblith et al.'s `gram_rbf`: bandwidth from the median of all n^2 squared distances."""
    x = np.asarray(x, np.float64)
    dot = x @ x.T
    sq = np.diag(dot)
    d2 = -2 * dot + sq[:, None] + sq[None, :]
    return np.exp(-d2 / (2 * threshold**2 * np.median(d2)))


def rsm(x, kernel, threshold=0.5):
    x = np.asarray(x, np.float64)
    if kernel == "dot":
        return x @ x.T
    if kernel == "cosine":
        return 1.0 - squareform(pdist(x, "cosine"))
    if kernel == "correlation":
        return np.corrcoef(x)
    return rbf_gram(x, threshold)


# ---------------------------------------------------------------- second order


def rsa_rowwise(x, y, kernel="cosine", how="cosine", diagonal=True, threshold=0.5):
    """Abnar: mean over rows of the cosine (or Pearson r) of corresponding rows of S_X and S_Y;
    without `diagonal`, each row's diagonal entry is left out first."""
    sx, sy = rsm(x, kernel, threshold), rsm(y, kernel, threshold)
    if not diagonal:
        off = ~np.eye(len(sx), dtype=bool)
        sx, sy = sx[off].reshape(len(sx), -1), sy[off].reshape(len(sy), -1)
    if how == "cosine":
        return np.mean(
            [a @ b / np.linalg.norm(a) / np.linalg.norm(b) for a, b in zip(sx, sy, strict=True)]
        )
    return np.mean([stats.pearsonr(a, b)[0] for a, b in zip(sx, sy, strict=True)])


def rsa_triangle(x, y, metric="correlation", how="pearson"):
    a, b = pdist(np.asarray(x, np.float64), metric), pdist(np.asarray(y, np.float64), metric)
    if how == "pearson":
        return stats.pearsonr(a, b)[0]
    if how == "spearman":
        return stats.spearmanr(a, b)[0]
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def centre_gram(k, unbiased=False):
    """Kornblith et al.'s `center_gram`, unbiased (U-centred) or with H = I - 11^T / n."""
    k = np.array(k, np.float64)
    n = k.shape[0]
    if unbiased:
        np.fill_diagonal(k, 0)
        means = np.sum(k, 0) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        k -= means[:, None]
        k -= means[None, :]
        np.fill_diagonal(k, 0)
        return k
    h = np.eye(n) - np.ones((n, n)) / n
    return h @ k @ h


def cka_gram(kx, ky, debiased=False):
    a, b = centre_gram(kx, debiased).ravel(), centre_gram(ky, debiased).ravel()
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def cka_linear_features(x, y):
    """||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)."""
    xc = np.asarray(x, np.float64) - np.mean(x, 0)
    yc = np.asarray(y, np.float64) - np.mean(y, 0)
    return np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def measure(name, x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return {
        "rsa": lambda: rsa_rowwise(x, y, "cosine", "pearson", diagonal=False),
        "rsa_rowwise_cosine": lambda: rsa_rowwise(x, y, "cosine", "cosine"),
        "rsa_rowwise_pearson": lambda: rsa_rowwise(x, y, "cosine", "pearson"),
        "rsa_pearson": lambda: rsa_triangle(x, y, "correlation", "pearson"),
        "rsa_spearman": lambda: rsa_triangle(x, y, "correlation", "spearman"),
        "rsa_cosine": lambda: rsa_triangle(x, y, "correlation", "cosine"),
        "cka": lambda: cka_linear_features(x, y),
        "cka_debiased": lambda: cka_gram(x @ x.T, y @ y.T, debiased=True),
        "cka_rbf": lambda: cka_gram(rbf_gram(x), rbf_gram(y)),
    }[name]()


def random_orthogonal(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


# ------------------------------------------------------------ rsatoolbox's RDM comparators


def tau_a(a, b):
    """Kendall's tau-a from its definition: mean over pairs of entries of sign products."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    k, m = np.triu_indices(len(a), 1)
    return np.mean(np.sign(a[k] - a[m]) * np.sign(b[k] - b[m]))


def rho_a(a, b):
    """Spearman's rho without tie correction: 12 <r_a - mean, r_b - mean> / (p^3 - p)."""
    ra, rb = stats.rankdata(a), stats.rankdata(b)
    p = len(ra)
    return 12.0 * (ra - ra.mean()) @ (rb - rb.mean()) / (p**3 - p)


def second_moment(d):
    """G = -H D H / 2 of a condensed RDM `d`."""
    full = squareform(np.asarray(d, np.float64))
    h = np.eye(len(full)) - 1.0 / len(full)
    return -0.5 * h @ full @ h


def whitened_cosine(a, b, centre):
    """rsatoolbox's corr_cov (centre=True) / cosine_cov: the Frobenius cosine of the centred
    kernels of the RDMs (of the RDMs minus their mean for corr_cov)."""
    if centre:
        a, b = a - np.mean(a), b - np.mean(b)
    ga, gb = second_moment(a), second_moment(b)
    return np.sum(ga * gb) / np.linalg.norm(ga) / np.linalg.norm(gb)


def bures(a, b):
    """Fidelity tr (G_a^1/2 G_b G_a^1/2)^1/2 / sqrt(tr G_a tr G_b), computed in the complement
    of the constant vector so that the exact zero eigenvalue of centring does not enter."""
    n = len(squareform(np.asarray(a, np.float64)))
    q = np.linalg.svd(np.eye(n) - 1.0 / n)[0][:, : n - 1]

    def root(d):
        g = q.T @ (-0.5 * squareform(np.asarray(d, np.float64))) @ q
        w, u = np.linalg.eigh(g)
        w = np.where(w > 1e-12 * w.max(), w, 0.0)
        return (u * np.sqrt(w)) @ u.T, np.trace(g)

    (ra, ta), (rb, tb) = root(a), root(b)
    inner = ra @ rb @ rb @ ra
    return np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh(inner), 0.0))) / np.sqrt(ta * tb)


def rdm_comparison(a, b, how):
    """Compare condensed RDMs `a`, `b` (`pdist` order) as `RSA(second=how)` does."""
    return {
        "pearson": lambda: stats.pearsonr(a, b)[0],
        "spearman": lambda: stats.spearmanr(a, b)[0],
        "cosine": lambda: a @ b / np.linalg.norm(a) / np.linalg.norm(b),
        "kendall": lambda: stats.kendalltau(a, b).statistic,
        "tau_a": lambda: tau_a(a, b),
        "rho_a": lambda: rho_a(a, b),
        "corr_cov": lambda: whitened_cosine(a, b, centre=True),
        "cosine_cov": lambda: whitened_cosine(a, b, centre=False),
        "bures": lambda: bures(a, b),
    }[how]()
