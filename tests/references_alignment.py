"""Independent float64 NumPy/SciPy references for the alignment measures (CCA family, Procrustes,
mutual kNN), written from the papers' definitions and sharing no code with jaxrsa.

CCA goes through a thin QR of each centred side (as google/svcca and netrep do), PWCCA through the
covariance whitening Sxx^-1/2 Sxy Syy^-1/2, Procrustes through scipy.linalg.orthogonal_procrustes,
mutual kNN through plain loops over sorted neighbour lists.
"""

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist


def centre(x):
    x = np.asarray(x, np.float64)
    return x - x.mean(axis=0)


def canonical_correlations(x, y):
    """Singular values of Qx^T Qy, Q from thin QR of the centred (full column rank) activations."""
    qx, qy = np.linalg.qr(centre(x))[0], np.linalg.qr(centre(y))[0]
    return np.linalg.svd(qx.T @ qy, compute_uv=False)  # min(d_x, d_y) values


def cca(x, y):
    return canonical_correlations(x, y).mean()


def cca_r2(x, y):
    return (canonical_correlations(x, y) ** 2).mean()


def svd_reduce(x, variance=0.99, dims=None):
    """Raghu et al.: project the centred activations onto their top singular directions."""
    xc = centre(x)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    if dims is None:
        dims = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), variance)) + 1
    return xc @ vt[:dims].T


def svcca(x, y, variance=0.99, dims=None):
    return cca(svd_reduce(x, variance, dims), svd_reduce(y, variance, dims))


def _inverse_sqrt(c):
    w, v = np.linalg.eigh(c)
    return (v / np.sqrt(w)) @ v.T


def pwcca(x, y, neurons=None):
    """Morcos et al. 2018, weights from x: alpha_i = sum_j |<h_i, xc_j>|, h_i = Xc a_i.

    `neurons` (default x) are the activations whose centred columns xc_j weigh the canonical
    variates; they may differ from x when x is a basis of their span (reduced or deduplicated).
    """
    xc, yc = centre(x), centre(y)
    nc = xc if neurons is None else centre(neurons)
    wx, wy = _inverse_sqrt(xc.T @ xc), _inverse_sqrt(yc.T @ yc)
    u, rho, _ = np.linalg.svd(wx @ (xc.T @ yc) @ wy)
    c = min(x.shape[1], y.shape[1])
    h = xc @ wx @ u[:, :c]  # canonical variates of x, orthonormal columns
    alpha = np.abs(h.T @ nc).sum(axis=1)
    return (alpha * rho[:c]).sum() / alpha.sum()


def procrustes(x, y):
    """scipy's orthogonal Procrustes on Xc / ||Xc||_F, the narrower side padded with zeros."""
    xn, yn = centre(x), centre(y)
    xn, yn = xn / np.linalg.norm(xn), yn / np.linalg.norm(yn)
    d = max(xn.shape[1], yn.shape[1])
    xn = np.pad(xn, ((0, 0), (0, d - xn.shape[1])))
    yn = np.pad(yn, ((0, 0), (0, d - yn.shape[1])))
    _, scale = linalg.orthogonal_procrustes(xn, yn)  # scale = sum of singular values of xn^T yn
    return scale


def neighbours(x, k):
    """Each example's k most cosine-similar others; equal similarities: lower index first."""
    sim = 1.0 - cdist(np.asarray(x, np.float64), np.asarray(x, np.float64), "cosine")
    out = []
    for i, row in enumerate(sim):
        order = [j for j in np.argsort(-row, kind="stable") if j != i]
        out.append(set(order[:k]))
    return out


def mutual_knn(x, y, k=10):
    nx, ny = neighbours(x, k), neighbours(y, k)
    return np.mean([len(a & b) / k for a, b in zip(nx, ny, strict=True)])


def measure(name, x, y):
    return {
        "cca": cca,
        "cca_r2": cca_r2,
        "svcca": svcca,
        "pwcca": pwcca,
        "procrustes": procrustes,
        "mutual_knn": mutual_knn,
    }[name](np.asarray(x, np.float64), np.asarray(y, np.float64))


def random_invertible(rng, d, spread=1.0):
    """Q1 diag(e^u) Q2, u uniform in [-spread, spread]: condition number at most e^(2 spread)."""
    q1, q2 = (np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(2))
    return (q1 * np.exp(rng.uniform(-spread, spread, size=d))) @ q2
