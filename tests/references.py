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
